"""BAGEL (ByteDance-Seed/Bagel) as a unified-bench worker: the official ``InterleaveInferencer``'s
understanding mode captions, its text-to-image mode draws.

Runs in the environment of the official README (Python 3.10, its requirements.txt, flash_attn):
    python adapters/workers/bagel.py --repo /src/Bagel --weights /models/BAGEL-7B-MoT --caption-prompt ...
The model is built and loaded as the official app.py does (mode 1: bf16, accelerate dispatch over
the visible GPUs); the generation settings are those of the official inference.ipynb text-to-image
cell. Nothing of the official code is copied: it is imported from the checkout.
"""

from __future__ import annotations

import os

from official import common_info, load_or_refuse, parser, seed_everything, use_checkout
from worker_protocol import WorkerError, serve

REPOSITORY = "https://github.com/ByteDance-Seed/Bagel"
# inference.ipynb, text-to-image: cfg_text_scale 4.0, cfg_img_scale 1.0, cfg_interval [0.4, 1.0],
# timestep_shift 3.0, num_timesteps 50, cfg_renorm_min 0.0, cfg_renorm_type "global"; 1024x1024.
DEFAULT_SIZE = (1024, 1024)


def arguments():
    parse = parser("BAGEL worker (unified-bench protocol v1)")
    parse.add_argument("--cfg-text-scale", type=float, default=4.0)
    parse.add_argument("--cfg-img-scale", type=float, default=1.0)
    parse.add_argument("--cfg-interval-start", type=float, default=0.4)
    parse.add_argument("--timestep-shift", type=float, default=3.0)
    parse.add_argument("--num-timesteps", type=int, default=50)
    parse.add_argument("--cfg-renorm-min", type=float, default=0.0)
    parse.add_argument("--cfg-renorm-type", default="global")
    parse.add_argument("--max-memory-per-gpu", default="80GiB", help="as app.py's infer_auto_device_map")
    return parse.parse_args()


def load_inferencer(args):
    """The official model, tokenizer and transforms, wired as app.py wires them (mode 1)."""
    import torch
    from accelerate import infer_auto_device_map, init_empty_weights, load_checkpoint_and_dispatch
    from data.data_utils import add_special_tokens
    from data.transforms import ImageTransform
    from inferencer import InterleaveInferencer
    from modeling.autoencoder import load_ae
    from modeling.bagel import (
        Bagel,
        BagelConfig,
        Qwen2Config,
        Qwen2ForCausalLM,
        SiglipVisionConfig,
        SiglipVisionModel,
    )
    from modeling.qwen2 import Qwen2Tokenizer

    weights = args.weights
    for name in ("llm_config.json", "vit_config.json", "ae.safetensors", "ema.safetensors"):
        if not os.path.isfile(os.path.join(weights, name)):
            raise WorkerError(
                "user", f"--weights {weights}: no {name}; download ByteDance-Seed/BAGEL-7B-MoT there"
            )
    llm_config = Qwen2Config.from_json_file(os.path.join(weights, "llm_config.json"))
    llm_config.qk_norm = True
    llm_config.tie_word_embeddings = False
    llm_config.layer_module = "Qwen2MoTDecoderLayer"
    vit_config = SiglipVisionConfig.from_json_file(os.path.join(weights, "vit_config.json"))
    vit_config.rope = False
    vit_config.num_hidden_layers -= 1
    vae_model, vae_config = load_ae(local_path=os.path.join(weights, "ae.safetensors"))
    config = BagelConfig(
        visual_gen=True,
        visual_und=True,
        llm_config=llm_config,
        vit_config=vit_config,
        vae_config=vae_config,
        vit_max_num_patch_per_side=70,
        connector_act="gelu_pytorch_tanh",
        latent_patch_size=2,
        max_latent_size=64,
    )
    with init_empty_weights():
        language_model = Qwen2ForCausalLM(llm_config)
        vit_model = SiglipVisionModel(vit_config)
        model = Bagel(language_model, vit_model, config)
        model.vit_model.vision_model.embeddings.convert_conv2d_to_linear(vit_config, meta=True)
    tokenizer, new_token_ids, _ = add_special_tokens(Qwen2Tokenizer.from_pretrained(weights))
    if not torch.cuda.is_available():
        raise WorkerError("user", "BAGEL's inferencer runs under CUDA autocast; no CUDA device is visible")
    device_map = infer_auto_device_map(
        model,
        max_memory={i: args.max_memory_per_gpu for i in range(torch.cuda.device_count())},
        no_split_module_classes=["Bagel", "Qwen2MoTDecoderLayer"],
    )
    # app.py: these modules must share the embedding's device.
    together = ["language_model.model.embed_tokens", "time_embedder", "latent_pos_embed", "vae2llm",
                "llm2vae", "connector", "vit_pos_embed"]  # fmt: skip
    first = device_map.get(together[0], "cuda:0")
    for name in together:
        if name in device_map or torch.cuda.device_count() == 1:
            device_map[name] = first
    model = load_checkpoint_and_dispatch(
        model,
        checkpoint=os.path.join(weights, "ema.safetensors"),
        device_map=device_map,
        offload_buffers=True,
        offload_folder="offload",
        dtype=torch.bfloat16,
        force_hooks=True,
    ).eval()
    return InterleaveInferencer(
        model=model,
        vae_model=vae_model,
        tokenizer=tokenizer,
        vae_transform=ImageTransform(1024, 512, 16),
        vit_transform=ImageTransform(980, 224, 14),
        new_token_ids=new_token_ids,
    )


def main() -> None:
    args = arguments()
    loaded = load_or_refuse(
        lambda: (use_checkout(args.repo, REPOSITORY, "inferencer.py"), load_inferencer(args))
    )
    if loaded is None:
        return
    commit, inferencer = loaded
    from PIL import Image

    def caption(images, seeds):
        texts = []
        for path, seed in zip(images, seeds):
            seed_everything(seed)
            result = inferencer(
                image=Image.open(path).convert("RGB"),
                text=args.caption_prompt,
                think=False,
                understanding_output=True,
                do_sample=args.caption_temperature > 0,
                text_temperature=args.caption_temperature,
                max_think_token_n=args.caption_max_tokens,
            )
            texts.append(result["text"].strip())
        return texts

    def generate(prompts, seeds, size, outputs):
        width, height = size or DEFAULT_SIZE
        if max(width, height) > 1024 or width % 16 or height % 16:
            raise WorkerError("user", f"--size {width}x{height}: BAGEL draws multiples of 16 up to 1024")
        for prompt, seed, path in zip(prompts, seeds, outputs):
            seed_everything(seed)
            result = inferencer(
                text=prompt,
                think=False,
                cfg_text_scale=args.cfg_text_scale,
                cfg_img_scale=args.cfg_img_scale,
                cfg_interval=[args.cfg_interval_start, 1.0],
                timestep_shift=args.timestep_shift,
                num_timesteps=args.num_timesteps,
                cfg_renorm_min=args.cfg_renorm_min,
                cfg_renorm_type=args.cfg_renorm_type,
                image_shapes=(height, width),  # BAGEL's image_shapes are (height, width)
            )
            result["image"].save(path, format="PNG")

    info = common_info(args, model="ByteDance-Seed/BAGEL-7B-MoT", repository=REPOSITORY, commit=commit)
    info["generation"] = {
        "cfg_text_scale": args.cfg_text_scale,
        "cfg_img_scale": args.cfg_img_scale,
        "cfg_interval": [args.cfg_interval_start, 1.0],
        "timestep_shift": args.timestep_shift,
        "num_timesteps": args.num_timesteps,
        "cfg_renorm_min": args.cfg_renorm_min,
        "cfg_renorm_type": args.cfg_renorm_type,
        "default_size": list(DEFAULT_SIZE),
        "think": False,
    }
    serve(info=info, caption=caption, generate=generate)


if __name__ == "__main__":
    main()
