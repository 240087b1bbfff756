"""A tiny random Cosmos3-Omni checkpoint in the layout of nvidia/Cosmos3-Nano: both halves in one folder.

The folder root holds the reasoner (``Cosmos3OmniForConditionalGeneration`` with Qwen3-VL sub-configs,
and its ``Qwen3VLProcessor``), ``model_index.json`` and the subfolders hold the generator
(``Cosmos3OmniPipeline``: ``Cosmos3OmniTransformer``, ``AutoencoderKLWan``, ``UniPCMultistepScheduler``,
the text tokenizer). Everything is written with ``save_pretrained`` and read back by the adapter
through ``from_pretrained``, as the real checkpoint is. The tokenizer is byte-level (no merges).
"""

from __future__ import annotations

from pathlib import Path

import torch

from tests._tiny_adapters import (
    _tiny_vl_text_config,
    qwen_vision_token_ids,
    save_tiny_captioner,
    tiny_qwen_tokenizer,
)

# Handles both the processor's list-of-parts messages and the pipeline's plain-string messages.
COSMOS3_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _save_reasoner(path: Path, tokenizer) -> None:
    from transformers import (
        Cosmos3OmniConfig,
        Cosmos3OmniForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            min_pixels=32 * 32, max_pixels=64 * 64, patch_size=16, merge_size=2,
            image_mean=[0.5] * 3, image_std=[0.5] * 3,
        ),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(),
        chat_template=COSMOS3_CHAT_TEMPLATE,
    )  # fmt: skip
    config = Cosmos3OmniConfig(
        # The tiny Qwen-VL language model; Qwen3 needs its head size said (its default is 128).
        text_config={**_tiny_vl_text_config(tokenizer), "head_dim": 8},
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 4,
            "out_hidden_size": 32,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "num_position_embeddings": 16,
            "deepstack_visual_indexes": [0],
        },
        **qwen_vision_token_ids(tokenizer),
    )
    save_tiny_captioner(Cosmos3OmniForConditionalGeneration, config, processor, path)


def _save_generator(path: Path, tokenizer) -> None:
    from diffusers import (
        AutoencoderKLWan,
        Cosmos3OmniPipeline,
        Cosmos3OmniTransformer,
        UniPCMultistepScheduler,
    )

    torch.manual_seed(0)
    transformer = Cosmos3OmniTransformer(
        head_dim=8,
        hidden_act="relu2",
        hidden_size=16,
        intermediate_size=32,
        latent_channel=16,
        latent_patch_size=1,
        num_attention_heads=2,
        num_hidden_layers=1,
        num_key_value_heads=1,
        patch_latent_dim=16,
        qk_norm_for_text=False,
        rms_norm_eps=1e-5,
        rope_axes_dim=[2, 1, 1],
        vocab_size=len(tokenizer),
    )
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    pipeline = Cosmos3OmniPipeline(
        transformer=transformer,
        text_tokenizer=tokenizer,
        vae=vae,
        scheduler=UniPCMultistepScheduler(),
        enable_safety_checker=False,
    )
    pipeline.save_pretrained(path)


def build_tiny_cosmos3(path: Path) -> Path:
    """Both halves of a tiny Cosmos3-Omni in ``path`` (seeded: the same weights every time)."""
    tokenizer = tiny_qwen_tokenizer(chat_template=COSMOS3_CHAT_TEMPLATE)
    _save_reasoner(path, tokenizer)
    _save_generator(path, tokenizer)
    return path
