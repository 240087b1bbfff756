"""BLIP3-o (JiuhaiChen/BLIP3o, its ``main`` branch: BLIP3o-Model-8B/4B) as a unified-bench worker:
the official ``blip3oQwenForInferenceLM`` (a Qwen2.5-VL) captions with the Qwen2.5-VL processor as the
official lmms-eval model ``blip3o`` drives it; the checkpoint's own ``diffusion-decoder`` pipeline
(``custom_pipeline="pipeline_llava_gen"``) draws as ``inference.py`` does.

Runs in the environment of the official README (Python 3.11, ``pip install -r requirements.txt``:
torch 2.3.0, transformers 4.51.3, the authors' diffusers fork, qwen_vl_utils) from a checkout of the
``main`` branch (the default branch is now BLIP3o-NEXT, text-to-image only):
    python adapters/workers/blip3o.py --repo /src/BLIP3o --weights /models/BLIP3o-Model-8B ...
Nothing of the official code is copied: it is imported from the checkout.
"""

from __future__ import annotations

import os

from official import captions_each_seeded, common_info, load_or_refuse, parser, seed_everything, use_checkout
from worker_protocol import WorkerError, serve

REPOSITORY = "https://github.com/JiuhaiChen/BLIP3o"
# inference.py and eval/geneval/generate.py: the instruction wrapped in the "qwen" conversation template.
# A file of the main branch that BLIP3o-NEXT lacks: a checkout of the default branch is refused.
MAIN_BRANCH_MARKER = "blip3o/model/lumina_nextdit2d.py"
GENERATION_INSTRUCTION = "Please generate image based on the following caption: {prompt}"


def arguments():
    parse = parser("BLIP3-o worker (unified-bench protocol v1)")
    parse.add_argument("--guidance-scale", type=float, default=3.0)  # inference.py, eval/geneval/generate.py
    parse.add_argument(
        "--processor",
        default=None,
        help="Qwen2.5-VL processor (default: lmms-eval's choice, "
        "Qwen/Qwen2.5-VL-3B-Instruct for a 4B checkpoint, else Qwen/Qwen2.5-VL-7B-Instruct)",
    )
    parse.add_argument("--min-pixels", type=int, default=256 * 28 * 28)  # lmms-eval blip3o defaults
    parse.add_argument("--max-pixels", type=int, default=1605632)
    return parse.parse_args()


def load(args):
    """Model and tokenizer through the official builder, the decoder pipeline as inference.py builds it."""
    import torch
    from blip3o.model.builder import load_pretrained_model
    from diffusers import DiffusionPipeline
    from transformers import AutoProcessor

    decoder = os.path.join(args.weights, "diffusion-decoder")
    if not os.path.isdir(decoder):
        raise WorkerError(
            "user",
            f"--weights {args.weights}: no diffusion-decoder folder; download BLIP3o/BLIP3o-Model-8B there",
        )
    if not torch.cuda.is_available():
        raise WorkerError("user", "BLIP3-o's builder puts the model on cuda:0; no CUDA device is visible")
    tokenizer, model, _ = load_pretrained_model(args.weights)  # fp16 on cuda:0 (the official builder)
    pipe = DiffusionPipeline.from_pretrained(
        decoder,
        custom_pipeline="pipeline_llava_gen",
        torch_dtype=torch.bfloat16,
        use_safetensors=True,
        variant="bf16",
        multimodal_encoder=model,
        tokenizer=tokenizer,
        safety_checker=None,
    )
    pipe.vae.to("cuda:0")
    pipe.unet.to("cuda:0")
    name = args.processor or (
        "Qwen/Qwen2.5-VL-3B-Instruct" if "4B" in args.weights else "Qwen/Qwen2.5-VL-7B-Instruct"
    )
    processor = AutoProcessor.from_pretrained(name, min_pixels=args.min_pixels, max_pixels=args.max_pixels)
    return model, processor, pipe, name


def main() -> None:
    args = arguments()
    loaded = load_or_refuse(
        lambda: (
            use_checkout(args.repo, REPOSITORY, MAIN_BRANCH_MARKER),
            load(args),
        )
    )
    if loaded is None:
        return
    commit, (model, processor, pipe, processor_name) = loaded
    import torch
    from blip3o.conversation import conv_templates
    from qwen_vl_utils import process_vision_info

    @torch.no_grad()
    def caption_one(path: str) -> str:
        # lmms-eval blip3o.generate_until: system prompt, the image then the question, the processor's
        # chat template, process_vision_info, model.generate, the prompt trimmed off.
        messages = [
            {"role": "system", "content": "You are a helpful assistant."},
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "image": f"file://{os.path.abspath(path)}",
                        "min_pixels": args.min_pixels,
                        "max_pixels": args.max_pixels,
                    },
                    {"type": "text", "text": args.caption_prompt},
                ],
            },
        ]
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        images, videos = process_vision_info([messages])
        inputs = processor(text=[text], images=images, videos=videos, padding=True, return_tensors="pt").to(
            "cuda:0"
        )
        sample = args.caption_temperature > 0
        output = model.generate(
            **inputs,
            do_sample=sample,
            temperature=args.caption_temperature if sample else None,
            top_p=None,
            num_beams=1,
            max_new_tokens=args.caption_max_tokens,
            use_cache=True,
        )
        trimmed = output[:, inputs.input_ids.shape[1] :]
        return processor.batch_decode(trimmed, skip_special_tokens=True, clean_up_tokenization_spaces=False)[
            0
        ].strip()

    def templated(prompt: str) -> list[str]:
        conversation = conv_templates["qwen"].copy()  # inference.py's add_template
        conversation.append_message(conversation.roles[0], GENERATION_INSTRUCTION.format(prompt=prompt))
        conversation.append_message(conversation.roles[1], None)
        return [conversation.get_prompt()]

    def generate(prompts, seeds, size, outputs):
        if size is not None:
            raise WorkerError(
                "user",
                f"--size {size[0]}x{size[1]}: BLIP3-o's decoder pipeline draws at its own size; "
                "run without --size",
            )
        for prompt, seed, path in zip(prompts, seeds, outputs):
            seed_everything(seed)  # inference.py seeds the global generators (set_global_seed)
            pipe(templated(prompt), guidance_scale=args.guidance_scale).image.save(path, format="PNG")

    info = common_info(args, model=f"BLIP3-o ({args.weights})", repository=REPOSITORY, commit=commit)
    info["understanding"] = {
        "processor": processor_name,
        "min_pixels": args.min_pixels,
        "max_pixels": args.max_pixels,
    }
    info["generation"] = {
        "guidance_scale": args.guidance_scale,
        "instruction": GENERATION_INSTRUCTION,
        "template": "blip3o.conversation conv_templates['qwen']",
        "size": "the diffusion-decoder pipeline's own",
        "dtype": "fp16 model (official builder), bf16 decoder pipeline (inference.py)",
    }
    serve(info=info, caption=captions_each_seeded(caption_one), generate=generate)


if __name__ == "__main__":
    main()
