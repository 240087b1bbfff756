"""What each diffusers pipeline family needs to draw as its model card does, and how much text it reads.

Guidance differs by family: SD3 and SDXL take ``guidance_scale`` with a negative prompt; FLUX.1-dev
takes a distilled ``guidance_scale`` (3.5) and ignores the negative prompt; Qwen-Image ignores
``guidance_scale`` and guides only through ``true_cfg_scale`` with a negative prompt (without one it
runs unguided). Text limits differ too: CLIP encoders read 77 tokens, SD3 and FLUX read up to 512 T5
tokens (SD3 keeps 256 unless asked), Qwen-Image cuts its prompt embeddings at ``max_sequence_length``.
Unified-Bench captions run to 512 new tokens, so a family's maximum is the default here, and what each
encoder kept is measured per prompt (``prompt_usage``) instead of being cut without a word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TextEncoderLimit:
    """One text encoder of a pipeline: the tokenizer attribute it reads through and its token limit."""

    name: str  # how results name it: clip_l, clip_g, t5, qwen2.5-vl
    tokenizer: str  # the pipeline attribute: tokenizer, tokenizer_2, tokenizer_3
    # "tokenizer": its model_max_length (CLIP: 77); "call": the call's max_sequence_length (T5, Qwen)
    limit_from: str = "call"


@dataclass(frozen=True)
class PipelineFamily:
    """Card settings of one pipeline family; ``None`` leaves the pipeline's own default."""

    name: str
    pipelines: tuple[str, ...]  # diffusers class names
    source: str  # the model card or script the settings come from
    num_inference_steps: int
    guidance_scale: float | None = None
    true_cfg_scale: float | None = None
    negative_prompt: str | None = None
    max_sequence_length: int | None = None  # the family's maximum: long captions are kept whole
    encoders: tuple[TextEncoderLimit, ...] = ()
    prompt_template: str | None = None  # Qwen-Image wraps the prompt in a chat template ...
    template_prefix_tokens: int = 0  # ... and drops its first tokens before the limit applies
    width: int = 1024  # the family's native size: what its card draws at
    height: int = 1024
    prompt_suffix: str = ""  # appended to every prompt, as the card's example does (Qwen-Image)

    def defaults(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "source": self.source,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "true_cfg_scale": self.true_cfg_scale,
            "negative_prompt": self.negative_prompt,
            "max_sequence_length": self.max_sequence_length,
            "width": self.width,
            "height": self.height,
            "prompt_suffix": self.prompt_suffix,
        }


_CLIP_L = TextEncoderLimit("clip_l", "tokenizer", "tokenizer")
_CLIP_G = TextEncoderLimit("clip_g", "tokenizer_2", "tokenizer")
QWEN_IMAGE_TEMPLATE = (
    "<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, quantity, text, "
    "spatial relationships of the objects and background:<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n"
    "<|im_start|>assistant\n"
)
# The Qwen-Image card appends this to English prompts; its sizes per aspect ratio are
# QWEN_IMAGE_SIZES (1:1 is the family's default; --size picks another).
QWEN_IMAGE_POSITIVE_MAGIC = ", Ultra HD, 4K, cinematic composition."
QWEN_IMAGE_SIZES = {
    "1:1": (1328, 1328),
    "16:9": (1664, 928),
    "9:16": (928, 1664),
    "4:3": (1472, 1104),
    "3:4": (1104, 1472),
    "3:2": (1584, 1056),
    "2:3": (1056, 1584),
}

FAMILIES: tuple[PipelineFamily, ...] = (
    PipelineFamily(
        name="sd3",
        pipelines=("StableDiffusion3Pipeline",),
        # UAE's demo.py settings for its SD3.5-Large decoder, so composite stays UAE's no-unification
        # baseline (the SD3.5-Large card itself shows 28 steps, guidance 3.5).
        source="UAE demo.py (SD3.5-Large decoder): 40 steps, guidance 5.0, 1024x1024; T5 at its "
        "512-token maximum",
        num_inference_steps=40,
        guidance_scale=5.0,
        max_sequence_length=512,
        encoders=(_CLIP_L, _CLIP_G, TextEncoderLimit("t5", "tokenizer_3")),
    ),
    PipelineFamily(
        name="flux",
        pipelines=("FluxPipeline",),
        source="black-forest-labs/FLUX.1-dev model card: 50 steps, guidance 3.5, max_sequence_length 512, "
        "1024x1024",
        num_inference_steps=50,
        guidance_scale=3.5,
        max_sequence_length=512,
        encoders=(_CLIP_L, TextEncoderLimit("t5", "tokenizer_2")),
    ),
    PipelineFamily(
        name="qwen-image",
        pipelines=("QwenImagePipeline",),
        source='Qwen/Qwen-Image model card: 50 steps, true_cfg_scale 4.0, negative_prompt " ", 1328x1328 '
        '(its 1:1 size), the English "positive magic" suffix',
        num_inference_steps=50,
        true_cfg_scale=4.0,
        negative_prompt=" ",
        max_sequence_length=1024,  # the pipeline's maximum (its default, 512, cuts long captions)
        encoders=(TextEncoderLimit("qwen2.5-vl", "tokenizer"),),
        prompt_template=QWEN_IMAGE_TEMPLATE,
        template_prefix_tokens=34,
        width=1328,
        height=1328,
        prompt_suffix=QWEN_IMAGE_POSITIVE_MAGIC,
    ),
    PipelineFamily(
        name="sdxl",
        pipelines=("StableDiffusionXLPipeline",),
        source="stable-diffusion-xl-base-1.0 model card (diffusers defaults): 50 steps, guidance 5.0, "
        "1024x1024",
        num_inference_steps=50,
        guidance_scale=5.0,
        encoders=(_CLIP_L, _CLIP_G),
    ),
    PipelineFamily(
        name="sd",
        pipelines=("StableDiffusionPipeline",),
        source="stable-diffusion-v1-5 model card (diffusers defaults): 50 steps, guidance 7.5, 512x512 "
        "(its training size)",
        num_inference_steps=50,
        guidance_scale=7.5,
        width=512,
        height=512,
        encoders=(_CLIP_L,),
    ),
)


def family_of(pipeline_class: str) -> PipelineFamily | None:
    for family in FAMILIES:
        if pipeline_class in family.pipelines:
            return family
    return None


DRAWING_SETTINGS = (
    "num_inference_steps",
    "guidance_scale",
    "true_cfg_scale",
    "negative_prompt",
    "max_sequence_length",
)


def resolve_drawing(
    pipeline_class: str, call_parameters: set[str], explicit: dict[str, Any]
) -> dict[str, Any]:
    """The settings each pipeline call gets: the family's card values, overridden by explicit ones.

    Args:
        pipeline_class: the diffusers class name; it picks the family.
        call_parameters: the parameters of the pipeline's ``__call__`` (settings it lacks are dropped).
        explicit: values the user gave (``None`` = not given).

    Raises:
        ValueError: a pipeline of no known family without explicit guidance, or an explicit setting
            the pipeline does not take.
    """
    given = {name: value for name, value in explicit.items() if value is not None}
    family = family_of(pipeline_class)
    if family is None and not {"guidance_scale", "true_cfg_scale"} & set(given):
        known = ", ".join(f"{f.name} ({'/'.join(f.pipelines)})" for f in FAMILIES)
        raise ValueError(
            f"a {pipeline_class} has no known guidance defaults (known: {known}); pass "
            "--adapter-arg guidance_scale=... (or true_cfg_scale=...) as its model card says."
        )
    unsupported = sorted(name for name in given if name not in call_parameters)
    if unsupported:
        raise ValueError(f"{pipeline_class} takes no {', '.join(unsupported)}: drop that --adapter-arg.")
    defaults = family.defaults() if family else {"family": None, "source": None}
    settings = {name: defaults.get(name) for name in DRAWING_SETTINGS} | given
    settings = {k: v for k, v in settings.items() if v is not None and k in call_parameters}
    return {"family": defaults["family"], "source": defaults["source"], "settings": settings}


def prompt_usage(
    pipeline: Any, family: PipelineFamily, prompts: list[str], max_sequence_length: int | None
) -> list[dict[str, Any]]:
    """Per prompt: for each text encoder, the tokens it has, the tokens it keeps, and whether it cut.

    Counts come from the pipeline's own tokenizers, with the special tokens the pipeline adds.
    """
    usage: list[dict[str, Any]] = [{} for _ in prompts]
    for encoder in family.encoders:
        tokenizer = getattr(pipeline, encoder.tokenizer, None)
        if tokenizer is None:  # an optional encoder left out (e.g. SD3 without T5)
            continue
        limit = tokenizer.model_max_length if encoder.limit_from == "tokenizer" else max_sequence_length
        texts = [family.prompt_template.format(p) for p in prompts] if family.prompt_template else prompts
        for row, ids in zip(usage, tokenizer(texts, add_special_tokens=True)["input_ids"], strict=True):
            total = len(ids) - family.template_prefix_tokens
            kept = total if limit is None else min(total, limit)
            row[encoder.name] = {"tokens": total, "kept": kept, "truncated": kept < total}
    return usage
