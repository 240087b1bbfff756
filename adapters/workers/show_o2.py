"""Show-o2 (showlab/Show-o, the ``show-o2`` folder) as a unified-bench worker: the official
``Showo2Qwen2_5.mmu_generate`` captions, ``t2i_generate`` under the official flow-matching
``Sampler`` draws, the Wan2.1 VAE encodes and decodes.

Runs in the environment of the official ``show-o2/build_env.sh`` (torch 2.5.1, transformers 4.47.0,
diffusers 0.31.0, omegaconf, torchdiffeq, ...):
    python adapters/workers/show_o2.py --repo /src/Show-o --weights showlab/show-o2-7B --caption-prompt ...
The model, tokenizer, VAE and sampler are built as ``inference_mmu.py`` and ``inference_t2i.py``
build them from the demo config (``--config``, default the README's 7B 432x432 demo); the
generation settings are the README's text-to-image command (guidance 7.5, 50 steps). Nothing of
the official code is copied: it is imported from the checkout.
"""

from __future__ import annotations

import os

from official import captions_each_seeded, common_info, load_or_refuse, parser, seed_everything, use_checkout
from worker_protocol import WorkerError, serve

REPOSITORY = "https://github.com/showlab/Show-o"


def arguments():
    parse = parser("Show-o2 worker (unified-bench protocol v1)")
    parse.add_argument(
        "--config",
        default="configs/showo2_7b_demo_432x432.yaml",
        help="demo config, relative to the checkout's show-o2 folder",
    )
    parse.add_argument(
        "--vae-weights",
        default="Wan2.1_VAE.pth",
        help="the Wan2.1 VAE (README: wget it into the show-o2 folder)",
    )
    parse.add_argument("--guidance-scale", type=float, default=7.5)  # README's inference_t2i.py command
    parse.add_argument("--num-inference-steps", type=int, default=50)
    parse.add_argument(
        "--dtype", choices=("bf16", "fp32"), default="bf16", help="the demo config's weight_type"
    )
    return parse.parse_args()


def load(args):
    """Model, tokenizer, VAE and the derived hyper-parameters, as the official demo scripts build them."""
    import torch
    from models import Showo2Qwen2_5, WanVAE
    from models.misc import get_text_tokenizer
    from omegaconf import OmegaConf
    from utils import get_hyper_params, path_to_llm_name

    config = OmegaConf.load(args.config)
    config.model.showo.pretrained_model_path = args.weights
    if not os.path.isfile(args.vae_weights):
        raise WorkerError(
            "user",
            f"--vae-weights {args.vae_weights}: no such file; "
            "wget https://huggingface.co/Wan-AI/Wan2.1-T2V-14B/resolve/main/Wan2.1_VAE.pth",
        )
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    vae = WanVAE(vae_pth=args.vae_weights, dtype=dtype, device=device)
    tokenizer, token_ids = get_text_tokenizer(
        config.model.showo.llm_model_path,
        add_showo_tokens=True,
        return_showo_token_ids=True,
        llm_name=path_to_llm_name[config.model.showo.llm_model_path],
    )
    config.model.showo.llm_vocab_size = len(tokenizer)
    model = Showo2Qwen2_5.from_pretrained(args.weights, use_safetensors=False).to(device).to(dtype).eval()
    if config.model.showo.add_time_embeds:  # both scripts: the time embedding is prepended to vision tokens
        for name in ("num_t2i_image_tokens", "num_mmu_image_tokens", "num_video_tokens"):
            config.dataset.preprocessing[name] += 1
    hyper = get_hyper_params(config, tokenizer, token_ids)
    return config, model, tokenizer, token_ids, vae, hyper, device, dtype


def main() -> None:
    args = arguments()
    loaded = load_or_refuse(
        lambda: (
            use_checkout(args.repo, REPOSITORY, "models/modeling_showo2_qwen2_5.py", "show-o2"),
            load(args),
        )
    )
    if loaded is None:
        return
    commit, (config, model, tokenizer, token_ids, vae, hyper, device, dtype) = loaded
    import torch
    from datasets.utils import image_transform
    from models import omni_attn_mask_naive
    from models.misc import prepare_gen_input
    from PIL import Image
    from transport import Sampler, create_transport
    from utils import denorm

    (
        num_t2i_tokens,
        num_mmu_tokens,
        _,
        max_seq_len,
        max_text_len,
        latent_dim,
        patch_size,
        latent_width,
        latent_height,
        pad_id,
        bos_id,
        eos_id,
        boi_id,
        eoi_id,
        _,
        _,
        img_pad_id,
        _,
        _,
    ) = hyper
    resolution = config.dataset.preprocessing.resolution
    role = {
        text: tokenizer(text, add_special_tokens=False)["input_ids"]
        for text in (
            "system\nYou are a helpful assistant.<|im_end|>",
            "\n<|im_start|>user\n",
            "\n<|im_start|>assistant\n",
        )
    }
    system, user, assistant = role.values()

    @torch.no_grad()
    def caption_one(path: str) -> str:
        # inference_mmu.py: centre-cropped image -> VAE latents -> und/gen embedders fused; then
        # bos, system, user, boi, time embedding, image, eoi, question, assistant.
        image = image_transform(Image.open(path).convert("RGB"), resolution=resolution).to(device)[None]
        latents = vae.sample(image.unsqueeze(2).to(dtype)).squeeze(2).to(dtype)
        und = model.image_embedder_und(latents) + model.position_embedding(model.image_position_ids)
        und = model.und_trans(und)["last_hidden_state"]
        image_embeds = model.fusion_proj(torch.cat([und, model.image_embedder_gen(latents)], dim=-1))
        question = tokenizer(args.caption_prompt, add_special_tokens=False).input_ids
        tokens_a = torch.tensor([token_ids["bos_id"], *system, *user], device=device)[None]
        tokens_b = torch.tensor(
            [token_ids["boi_id"], token_ids["eoi_id"], *question, *assistant], device=device
        )[None]
        embeds_a = model.showo.model.embed_tokens(tokens_a)
        embeds_b = model.showo.model.embed_tokens(tokens_b)
        parts = [embeds_a, embeds_b[:, :1]]
        offset = tokens_a.shape[1] + 1
        if config.model.showo.add_time_embeds:
            time_embeds = model.time_embed(torch.Tensor([[1.0]]).to(device), embeds_a.dtype)
            if hasattr(model, "time_embed_proj"):
                time_embeds = model.time_embed_proj(time_embeds)
            parts.append(time_embeds)
            offset += 1
        input_embeds = torch.cat([*parts, image_embeds, embeds_b[:, 1:]], dim=1).to(dtype)
        positions = torch.tensor([offset, num_mmu_tokens], device=device)[None, None, :]
        mask = omni_attn_mask_naive(
            B=1, LEN=input_embeds.size(1), modalities=positions, device=device, inverted=True
        ).to(input_embeds.dtype)
        # The script: top_k 1 (greedy) at temperature 1; UAE samples at its temperature, all tokens.
        greedy = args.caption_temperature <= 0
        tokens = model.mmu_generate(
            input_embeds=input_embeds,
            attention_mask=mask,
            max_new_tokens=args.caption_max_tokens,
            temperature=1.0 if greedy else args.caption_temperature,
            top_k=1 if greedy else None,
            eos_token=tokenizer.eos_token_id,
        )
        return tokenizer.decode(torch.stack(tokens).reshape(-1), skip_special_tokens=True).strip()

    transport = create_transport(
        path_type=config.transport.path_type,
        prediction=config.transport.prediction,
        loss_weight=config.transport.loss_weight,
        train_eps=config.transport.train_eps,
        sample_eps=config.transport.sample_eps,
        snr_type=config.transport.snr_type,
        do_shift=config.transport.do_shift,
        seq_len=num_t2i_tokens,
    )
    sampler = Sampler(transport)

    @torch.no_grad()
    def draw(prompt: str) -> Image.Image:
        # inference_t2i.py with a batch of one: the prompt and the null prompt, noise duplicated for CFG.
        text, text_null, positions, positions_null = prepare_gen_input(
            [prompt],
            tokenizer,
            num_t2i_tokens,
            bos_id,
            eos_id,
            boi_id,
            eoi_id,
            pad_id,
            img_pad_id,
            max_text_len,
            device,
        )
        z = (
            torch.randn((1, latent_dim, latent_height * patch_size, latent_width * patch_size))
            .to(dtype)
            .to(device)
        )
        if args.guidance_scale > 0:
            z = torch.cat([z, z])
            text = torch.cat([text, text_null])
            positions = torch.cat([positions, positions_null])
        mask = omni_attn_mask_naive(text.size(0), max_seq_len, positions, device).to(dtype)
        sample = sampler.sample_ode(
            sampling_method=config.transport.sampling_method,
            num_steps=args.num_inference_steps,
            atol=config.transport.atol,
            rtol=config.transport.rtol,
            reverse=config.transport.reverse,
            time_shifting_factor=config.transport.time_shifting_factor,
        )
        samples = sample(
            z,
            model.t2i_generate,
            text_tokens=text,
            attention_mask=mask,
            modality_positions=positions,
            output_hidden_states=True,
            max_seq_len=max_seq_len,
            guidance_scale=args.guidance_scale,
        )[-1]
        samples = torch.chunk(samples, 2)[0] if args.guidance_scale > 0 else samples
        images = vae.batch_decode(samples.unsqueeze(2)).squeeze(2)
        return Image.fromarray(denorm(images)[0])

    def generate(prompts, seeds, size, outputs):
        if size is not None and tuple(size) != (resolution, resolution):
            raise WorkerError(
                "user",
                f"--size {size[0]}x{size[1]}: this Show-o2 config draws {resolution}x{resolution} "
                "only (--adapter-arg worker_args='--config ...' picks another demo config)",
            )
        for prompt, seed, path in zip(prompts, seeds, outputs):
            seed_everything(seed)
            draw(prompt).save(path, format="PNG")

    info = common_info(args, model=f"Show-o2 ({args.weights})", repository=REPOSITORY, commit=commit)
    info["generation"] = {
        "config": args.config,
        "guidance_scale": args.guidance_scale,
        "num_inference_steps": args.num_inference_steps,
        "sampling_method": config.transport.sampling_method,
        "time_shifting_factor": config.transport.time_shifting_factor,
        "default_size": [resolution, resolution],
        "dtype": args.dtype,
        "vae_weights": os.path.abspath(args.vae_weights),
        "safety_checker": "not applied (inference_t2i.py only filters what it logs to wandb)",
    }
    serve(info=info, caption=captions_each_seeded(caption_one), generate=generate)


if __name__ == "__main__":
    main()
