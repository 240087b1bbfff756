"""The benchmark's caption instruction, shared by every adapter that captions with a text prompt.

Unified-Bench captions with UAE's instruction (demo.py ``gen_prompt``, copied verbatim: two trailing
spaces on the first two lines, one at the end), so that models differ only in how they follow it.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from unified_bench.images import reference_rgb

CAPTION_PROMPT = (
    "You are an expert vision-language model.  \n"
    "Your task is: Given an input image, generate a **textual description** of the image. "
    'If there is text in the image, transcribe it inside double quotes "".  \n'
    "Now, carefully analyze the input image and output the full description. "
)
# UAE's caption sampling (demo.py): the defaults of every adapter that samples captions.
CAPTION_MAX_NEW_TOKENS = 512
CAPTION_TEMPERATURE = 0.7
# demo.py passes no top-k/top-p; with a silent generation_config that is transformers' top-k 50,
# top-p 1.0. Adapters other than UAE pin these, so their captions do not depend on whatever sampling
# filters a copy of a checkpoint happens to ship (some Qwen2.5-VL copies carry top_k=1, top_p=0.001).
CAPTION_TOP_K = 50
CAPTION_TOP_P = 1.0


def caption_decoding_note(temperature: float, card: str) -> str:
    """Provenance: how captions were decoded, against how the model's card decodes (``card``).

    >>> caption_decoding_note(0.7, "greedy")
    "sampled at temperature 0.7 (the protocol: UAE demo.py's caption sampling); the model card: greedy"
    """
    if temperature == 0:
        return f"greedy (caption_temperature=0); the model card: {card}"
    return (
        f"sampled at temperature {temperature:g} (the protocol: UAE demo.py's caption sampling); "
        f"the model card: {card}"
    )


def caption_conversations(
    images: list[Image.Image], prompt: str = CAPTION_PROMPT, *, system: str | None = None
) -> list[list[dict]]:
    """One chat per image for ``processor.apply_chat_template``: the image, then ``prompt``.

    Transparent pixels are composited on white (``reference_rgb``). ``system`` adds a system turn
    first (a model whose reference code prompts with one, e.g. Emu3).
    """
    preamble = [{"role": "system", "content": [{"type": "text", "text": system}]}] if system else []
    return [
        [
            *preamble,
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": reference_rgb(image)},
                    {"type": "text", "text": prompt},
                ],
            },
        ]
        for image in images
    ]


def caption_chat_inputs(
    processor: Any,
    images: list[Image.Image],
    prompt: str,
    *,
    system: str | None = None,
    **processor_kwargs: Any,
) -> Any:
    """``caption_conversations`` through ``processor.apply_chat_template``: padded model inputs (CPU).

    ``processor_kwargs`` go to the processor besides ``padding=True`` (e.g. Janus's ``generation_mode``).
    """
    return processor.apply_chat_template(
        caption_conversations(images, prompt, system=system),
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs={"padding": True, **processor_kwargs},
    )
