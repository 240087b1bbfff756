"""MMaDA (Gen-Verse/MMaDA) as a unified-bench worker: ``MMadaModelLM.mmu_generate`` captions (as
inference_mmu.py), ``MMadaModelLM.t2i_generate`` draws MAGVIT-v2 tokens that ``MAGVITv2`` decodes
(as inference_t2i.py).

Runs in the environment of the official README (``pip install -r requirements.txt``: transformers
4.46.0, diffusers 0.32.2, omegaconf, ...):
    python adapters/workers/mmada.py --repo /src/MMaDA --weights Gen-Verse/MMaDA-8B-MixCoT ...
Settings: configs/mmada_demo.yaml, with the README's text-to-image command line (guidance_scale 3.5,
generation_timesteps 15); captions as inference_mmu.py (max_new_tokens = steps * 2 = block_length * 4
= the config's max_seq_length, 512), sampled at --caption-temperature (mmu_generate's own parameter).
MAGVIT-v2 decodes 1024 tokens to 512x512, the only size. Nothing of the official code is copied.
"""

from __future__ import annotations

from official import common_info, load_or_refuse, parser, seed_everything, use_checkout
from worker_protocol import WorkerError, serve

REPOSITORY = "https://github.com/Gen-Verse/MMaDA"
SPECIAL_TOKENS = (
    "<|soi|>",
    "<|eoi|>",
    "<|sov|>",
    "<|eov|>",
    "<|t2i|>",
    "<|mmu|>",
    "<|t2v|>",
    "<|v2v|>",
    "<|lvg|>",
)


def arguments():
    parse = parser("MMaDA worker (unified-bench protocol v1)")
    parse.add_argument("--vq-weights", default="showlab/magvitv2", help="MAGVIT-v2 (config model.vq_model)")
    parse.add_argument("--config", default="configs/mmada_demo.yaml", help="in the checkout")
    parse.add_argument("--guidance-scale", type=float, default=3.5)
    parse.add_argument("--generation-timesteps", type=int, default=15)
    parse.add_argument("--generation-temperature", type=float, default=1.0)
    parse.add_argument("--dtype", default="bf16", choices=("fp32", "bf16"))
    return parse.parse_args()


def load(args):
    """(commit, config, model, VQ model, prompting), as inference_t2i.py / inference_mmu.py build them."""
    commit = use_checkout(args.repo, REPOSITORY, "models/modeling_mmada.py")
    import torch
    from models import MAGVITv2, MMadaModelLM
    from omegaconf import OmegaConf
    from training.prompting_utils import UniversalPrompting
    from transformers import AutoTokenizer

    config = OmegaConf.load(args.config)
    config.model.mmada.pretrained_model_path = args.weights
    config.model.vq_model.vq_model_name = args.vq_weights
    tokenizer = AutoTokenizer.from_pretrained(args.weights, padding_side="left")
    prompting = UniversalPrompting(
        tokenizer,
        max_text_len=config.dataset.preprocessing.max_seq_length,
        special_tokens=SPECIAL_TOKENS,
        ignore_id=-100,
        cond_dropout_prob=config.training.cond_dropout_prob,
        use_reserved_token=True,
    )
    vq_model = MAGVITv2.from_pretrained(args.vq_weights).to(args.device).eval()
    vq_model.requires_grad_(False)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    model = MMadaModelLM.from_pretrained(args.weights, trust_remote_code=True, torch_dtype=dtype)
    return commit, config, model.to(args.device).eval(), vq_model, prompting


def main() -> None:
    args = arguments()
    loaded = load_or_refuse(lambda: load(args))
    if loaded is None:
        return
    commit, config, model, vq_model, prompting = loaded
    import numpy
    import torch
    from models import get_mask_schedule
    from PIL import Image
    from training.utils import image_transform

    device = torch.device(args.device)
    max_tokens = args.caption_max_tokens
    sp = prompting.sptids_dict
    num_vq_tokens = config.model.mmada.num_vq_tokens
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def caption(images, seeds):
        texts = []
        for path, seed in zip(images, seeds):
            seed_everything(seed)
            pixels = image_transform(
                Image.open(path).convert("RGB"), resolution=config.dataset.preprocessing.resolution
            )
            image_tokens = vq_model.get_code(pixels.unsqueeze(0).to(device)) + len(prompting.text_tokenizer)
            question = prompting.text_tokenizer.apply_chat_template(
                [{"role": "user", "content": args.caption_prompt}],
                tokenize=True,
                add_generation_prompt=True,
                return_tensors="pt",
            ).to(device)
            marker = lambda name: torch.full((1, 1), int(sp[name]), device=device)  # noqa: E731
            input_ids = torch.cat(
                [marker("<|mmu|>"), marker("<|soi|>"), image_tokens, marker("<|eoi|>"), question], dim=1
            ).long()
            with torch.no_grad(), autocast:
                output_ids = model.mmu_generate(
                    input_ids,
                    max_new_tokens=max_tokens,
                    steps=max(1, max_tokens // 2),
                    block_length=max(1, max_tokens // 4),
                    temperature=args.caption_temperature,
                )
            generated = output_ids[:, input_ids.shape[1] :]
            text = prompting.text_tokenizer.batch_decode(
                generated, skip_special_tokens=True, clean_up_tokenization_spaces=False
            )[0]
            texts.append(text.strip())
        return texts

    def generate(prompts, seeds, size, outputs):
        if size is not None and tuple(size) != (512, 512):
            raise WorkerError(
                "user", f"--size {size[0]}x{size[1]}: MMaDA draws 512x512 only (1024 MAGVIT-v2 tokens)"
            )
        schedule = get_mask_schedule(config.mask_schedule.schedule, **config.mask_schedule.get("params", {}))
        mask_token_id = model.config.mask_token_id
        for prompt, seed, path in zip(prompts, seeds, outputs):
            seed_everything(seed)
            image_tokens = torch.full((1, num_vq_tokens), mask_token_id, dtype=torch.long, device=device)
            input_ids, attention_mask = prompting(([prompt], image_tokens), "t2i_gen")
            uncond_ids, uncond_mask = (None, None)
            if args.guidance_scale > 0:
                uncond_ids, uncond_mask = prompting(([""], image_tokens), "t2i_gen")
            with torch.no_grad(), autocast:
                tokens = model.t2i_generate(
                    input_ids=input_ids,
                    uncond_input_ids=uncond_ids,
                    attention_mask=attention_mask,
                    uncond_attention_mask=uncond_mask,
                    guidance_scale=args.guidance_scale,
                    temperature=args.generation_temperature,
                    timesteps=args.generation_timesteps,
                    noise_schedule=schedule,
                    noise_type=config.training.get("noise_type", "mask"),
                    seq_len=num_vq_tokens,
                    uni_prompting=prompting,
                    config=config,
                    generator=torch.Generator(device=device).manual_seed(seed),
                )
            tokens = torch.clamp(tokens, max=config.model.mmada.codebook_size - 1, min=0)
            image = torch.clamp((vq_model.decode_code(tokens) + 1.0) / 2.0, min=0.0, max=1.0) * 255.0
            array = image.permute(0, 2, 3, 1).float().cpu().numpy().astype(numpy.uint8)[0]
            Image.fromarray(array).save(path, format="PNG")

    info = common_info(args, model=args.weights, repository=REPOSITORY, commit=commit)
    info["generation"] = {
        "config": args.config,
        "vq_model": args.vq_weights,
        "guidance_scale": args.guidance_scale,
        "generation_timesteps": args.generation_timesteps,
        "generation_temperature": args.generation_temperature,
        "mask_schedule": str(config.mask_schedule.schedule),
        "size": [512, 512],
        "caption_steps": max(1, max_tokens // 2),
        "caption_block_length": max(1, max_tokens // 4),
        "dtype": args.dtype,
    }
    serve(info=info, caption=caption, generate=generate)


if __name__ == "__main__":
    main()
