"""OmniGen2 (VectorSpaceLab/OmniGen2) as a unified-bench worker: the official ``OmniGen2Pipeline``
draws (as inference.py / example_t2i.sh), and ``OmniGen2ChatPipeline.generate_text`` over the same
modules captions (as inference_chat.py / example_understanding.sh).

Runs in the environment of the official README (Python 3.11, torch 2.6.0, its requirements.txt,
optionally flash-attn 2.7.4.post1):
    python adapters/workers/omnigen2.py --repo /src/OmniGen2 --weights OmniGen2/OmniGen2 --caption-prompt ...
Captions use the chat pipeline's own text generation (max_new_tokens 256 and the checkpoint's
generation_config, fixed there); --caption-temperature and --caption-max-tokens are therefore not
applied and the info says so. Nothing of the official code is copied: it is imported from the checkout.
"""

from __future__ import annotations

import importlib

from official import common_info, load_or_refuse, parser, seed_everything, use_checkout
from worker_protocol import serve

REPOSITORY = "https://github.com/VectorSpaceLab/OmniGen2"
# inference.py defaults with example_t2i.sh's overrides: 50 steps, text guidance 4.0, 1024x1024.
NEGATIVE_PROMPT = (
    "(((deformed))), blurry, over saturation, bad anatomy, disfigured, poorly drawn face, mutation, "
    "mutated, (extra_limb), (ugly), (poorly drawn hands), fused fingers, messy drawing, broken legs "
    "censor, censored, censor_bar"
)


def arguments():
    parse = parser("OmniGen2 worker (unified-bench protocol v1)")
    parse.add_argument("--num-inference-steps", type=int, default=50)
    parse.add_argument("--text-guidance-scale", type=float, default=4.0)
    parse.add_argument("--image-guidance-scale", type=float, default=2.0)
    parse.add_argument("--negative-prompt", default=NEGATIVE_PROMPT)
    parse.add_argument("--dtype", default="bf16", choices=("fp32", "fp16", "bf16"))
    return parse.parse_args()


def load_pipelines(args):
    """(commit, the text-to-image pipeline, the chat pipeline over the same modules), as inference.py
    and inference_chat.py load them (without offloading)."""
    commit = use_checkout(args.repo, REPOSITORY, "omnigen2/pipelines/omnigen2/pipeline_omnigen2.py")
    import torch
    from omnigen2.models.transformers.transformer_omnigen2 import OmniGen2Transformer2DModel
    from omnigen2.pipelines.omnigen2.pipeline_omnigen2 import OmniGen2Pipeline
    from omnigen2.pipelines.omnigen2.pipeline_omnigen2_chat import OmniGen2ChatPipeline

    # Recent diffusers load a model_index.json component only from a module already imported.
    importlib.import_module("omnigen2.schedulers.scheduling_flow_match_euler_discrete")
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    pipeline = OmniGen2Pipeline.from_pretrained(args.weights, torch_dtype=dtype, trust_remote_code=True)
    pipeline.transformer = OmniGen2Transformer2DModel.from_pretrained(
        args.weights, subfolder="transformer", torch_dtype=dtype
    )
    pipeline = pipeline.to(args.device)
    return commit, pipeline, OmniGen2ChatPipeline(**pipeline.components)


def main() -> None:
    args = arguments()
    loaded = load_or_refuse(lambda: load_pipelines(args))
    if loaded is None:
        return
    commit, pipeline, chat = loaded
    import torch
    from PIL import Image

    def caption(images, seeds):
        texts = []
        for path, seed in zip(images, seeds):
            seed_everything(seed)
            image = Image.open(path).convert("RGB")
            text = chat.generate_text(chat._apply_chat_template(args.caption_prompt, [image]), [image])[0]
            for marker in ("<|im_end|>", "<|endoftext|>", "<|img|>"):
                text = text.split(marker)[0]
            texts.append(text.strip())
        return texts

    def generate(prompts, seeds, size, outputs):
        width, height = size or (1024, 1024)
        for prompt, seed, path in zip(prompts, seeds, outputs):
            results = pipeline(
                prompt=prompt,
                input_images=None,
                width=width,
                height=height,
                num_inference_steps=args.num_inference_steps,
                max_sequence_length=1024,
                text_guidance_scale=args.text_guidance_scale,
                image_guidance_scale=args.image_guidance_scale,
                cfg_range=(0.0, 1.0),
                negative_prompt=args.negative_prompt,
                num_images_per_prompt=1,
                generator=torch.Generator(device=args.device).manual_seed(seed),
                output_type="pil",
            )
            results.images[0].save(path, format="PNG")

    info = common_info(args, model="OmniGen2/OmniGen2", repository=REPOSITORY, commit=commit)
    info["caption_temperature"] = (
        "not applied: the chat pipeline's generate_text (checkpoint generation_config)"
    )
    info["caption_max_tokens"] = "not applied: generate_text's max_new_tokens=256"
    info["generation"] = {
        "num_inference_steps": args.num_inference_steps,
        "text_guidance_scale": args.text_guidance_scale,
        "image_guidance_scale": args.image_guidance_scale,
        "cfg_range": [0.0, 1.0],
        "negative_prompt": args.negative_prompt,
        "max_sequence_length": 1024,
        "dtype": args.dtype,
        "default_size": [1024, 1024],
        "generator": "torch.Generator(device).manual_seed(sample seed)",
    }
    serve(info=info, caption=caption, generate=generate)


if __name__ == "__main__":
    main()
