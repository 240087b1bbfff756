"""UniWorld-V1 (PKU-YuanGroup/UniWorld-V1) as a unified-bench worker: the official
``UnivaQwen2p5VLForConditionalGeneration`` captions (its Qwen2.5-VL ``generate``) and, as
``output_type="denoise_embeds"``, conditions the official ``FluxPipeline`` built over its denoiser, as
``app.py`` does.

Runs in the environment of the official README (Python 3.10, ``pip install -r requirements.txt``:
torch 2.5.1, transformers 4.50.0, diffusers 0.32.2, qwen-vl-utils; flash_attn):
    python adapters/workers/uniworld.py --repo /src/UniWorld-V1 --weights /models/UniWorld-V1 \
        --flux-path /models/FLUX.1-dev ...
The generation settings are app.py's defaults (1024x1024, 30 steps, guidance 4.0, the prompt also
encoded by FLUX's T5/CLIP: "Enhance Current Turn"). app.py's task head picks text or image per turn;
here each request says which (its "Enhance Generation" / "Enhance Understanding" switches), so the
head is not loaded. Nothing of the official code is copied: it is imported from the checkout.
"""

from __future__ import annotations

from official import captions_each_seeded, common_info, load_or_refuse, parser, seed_everything, use_checkout
from worker_protocol import WorkerError, serve

REPOSITORY = "https://github.com/PKU-YuanGroup/UniWorld-V1"
DEFAULT_SIZE = (1024, 1024)  # app.py's Height / Width sliders
PIXELS = 448 * 448  # app.py: the processor's and each image's min_pixels = max_pixels


def arguments():
    parse = parser("UniWorld-V1 worker (unified-bench protocol v1)")
    parse.add_argument("--flux-path", default="black-forest-labs/FLUX.1-dev", help="as app.py's --flux_path")
    parse.add_argument("--num-inference-steps", type=int, default=30)  # app.py's slider default
    parse.add_argument("--guidance-scale", type=float, default=4.0)  # app.py's slider default
    parse.add_argument("--no-joint-with-t5", action="store_true", help="app.py's 'Enhance Current Turn' off")
    parse.add_argument("--attn-implementation", default="flash_attention_2", help="app.py: flash_attention_2")
    return parse.parse_args()


def load(args):
    """Model, processor and FLUX pipeline over the model's denoiser, as app.py's initialize_models."""
    import torch
    from transformers import AutoProcessor
    from univa.models.qwen2p5vl.modeling_univa_qwen2p5vl import UnivaQwen2p5VLForConditionalGeneration
    from univa.utils.flux_pipeline import FluxPipeline

    device = torch.device(args.device)
    model = UnivaQwen2p5VLForConditionalGeneration.from_pretrained(
        args.weights, torch_dtype=torch.bfloat16, attn_implementation=args.attn_implementation
    ).to(device)
    processor = AutoProcessor.from_pretrained(args.weights, min_pixels=PIXELS, max_pixels=PIXELS)
    pipe = FluxPipeline.from_pretrained(
        args.flux_path, transformer=model.denoise_tower.denoiser, torch_dtype=torch.bfloat16
    ).to(device)
    return model, processor, pipe, device


def main() -> None:
    args = arguments()
    loaded = load_or_refuse(
        lambda: (
            use_checkout(args.repo, REPOSITORY, "univa/models/qwen2p5vl/modeling_univa_qwen2p5vl.py"),
            load(args),
        )
    )
    if loaded is None:
        return
    commit, (model, processor, pipe, device) = loaded
    import torch
    from qwen_vl_utils import process_vision_info
    from univa.utils.denoiser_prompt_embedding_flux import encode_prompt

    def chat_inputs(content: list[dict]):
        # app.py's chat_step: the chat template without its first (system) turn, process_vision_info.
        conversation = [{"role": "user", "content": content}]
        text = processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        text = "<|im_end|>\n".join(text.split("<|im_end|>\n")[1:])
        images, videos = process_vision_info(conversation)
        return processor(text=[text], images=images, videos=videos, padding=True, return_tensors="pt").to(
            device
        )

    @torch.no_grad()
    def caption_one(path: str) -> str:
        # app.py: text first, then the image at 448x448 pixels.
        inputs = chat_inputs(
            [
                {"type": "text", "text": args.caption_prompt},
                {"type": "image", "image": path, "min_pixels": PIXELS, "max_pixels": PIXELS},
            ]
        )
        sample = args.caption_temperature > 0
        ids = model.generate(
            **inputs,
            max_new_tokens=args.caption_max_tokens,
            do_sample=sample,
            temperature=args.caption_temperature if sample else None,
        )
        return processor.batch_decode([ids[0][len(inputs.input_ids[0]) :]], skip_special_tokens=True)[
            0
        ].strip()

    @torch.no_grad()
    def draw(prompt: str, seed: int, width: int, height: int):
        # app.py's image branch without input images (no SigLIP states): the model's denoise
        # embeddings, joined with FLUX's own T5 embedding of the prompt; FLUX's pooled CLIP embedding.
        inputs = chat_inputs([{"type": "text", "text": prompt}])
        embeds = model(
            inputs.input_ids,
            pixel_values=getattr(inputs, "pixel_values", None),
            attention_mask=inputs.attention_mask,
            image_grid_thw=getattr(inputs, "image_grid_thw", None),
            siglip_hidden_states=None,
            output_type="denoise_embeds",
        )
        joint = not args.no_joint_with_t5
        t5_embeds, pooled = encode_prompt(
            [pipe.text_encoder, pipe.text_encoder_2],
            [pipe.tokenizer, pipe.tokenizer_2],
            prompt if joint else "",
            256,
            device,
            1,
        )
        return pipe(
            prompt_embeds=torch.concat([embeds, t5_embeds], dim=1) if joint else embeds,
            pooled_prompt_embeds=pooled,
            height=height,
            width=width,
            num_inference_steps=args.num_inference_steps,
            guidance_scale=args.guidance_scale,
            generator=torch.Generator(device=device).manual_seed(seed),
            num_images_per_prompt=1,
        ).images[0]

    def generate(prompts, seeds, size, outputs):
        width, height = size or DEFAULT_SIZE
        if not (256 <= width <= 2048 and 256 <= height <= 2048) or width % 64 or height % 64:
            raise WorkerError(
                "user", f"--size {width}x{height}: UniWorld-V1's app draws multiples of 64 from 256 to 2048"
            )
        for prompt, seed, path in zip(prompts, seeds, outputs):
            seed_everything(seed)  # app.py: torch.manual_seed(seed), and a generator seeded with it
            draw(prompt, seed, width, height).save(path, format="PNG")

    info = common_info(args, model=f"UniWorld-V1 ({args.weights})", repository=REPOSITORY, commit=commit)
    info["generation"] = {
        "flux_path": args.flux_path,
        "num_inference_steps": args.num_inference_steps,
        "guidance_scale": args.guidance_scale,
        "joint_with_t5": not args.no_joint_with_t5,
        "t5_max_length": 256,
        "default_size": list(DEFAULT_SIZE),
        "task_head": "not used: each request names its branch (app.py's Enhance Generation / Understanding)",
    }
    serve(info=info, caption=captions_each_seeded(caption_one), generate=generate)


if __name__ == "__main__":
    main()
