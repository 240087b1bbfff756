"""Tiny random checkpoints of the exact classes the janus-pro, emu3 and composite adapters load.

Each builder writes a folder with ``save_pretrained`` (seeded, so the weights are the same every time),
which the tests then hand to the adapters as ``--adapter-arg model=PATH``: the loading code is the one
users run, only the sizes differ. Tokenizers are byte-level (every byte one token, no merges), built
offline with the tokenizer classes the real checkpoints use or their base class.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tokenizers.pre_tokenizers import ByteLevel

BYTE_ALPHABET = sorted(ByteLevel.alphabet())


def _byte_vocab() -> dict[str, int]:
    return {char: index for index, char in enumerate(BYTE_ALPHABET)}


# -- Janus-Pro -----------------------------------------------------------------------------------------
JANUS_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<|User|>: {% else %}<|Assistant|>: {% endif %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<image_placeholder>\n{% else %}{{ content['text'] }}{% endif %}"
    "{% endfor %}\n\n{% endfor %}"
    "{% if add_generation_prompt %}<|Assistant|>:{% endif %}"
)


def build_tiny_janus(path: Path) -> Path:
    """A ``JanusForConditionalGeneration`` + ``JanusProcessor`` at 32x32 input, 4x4 image tokens."""
    from transformers import (
        GenerationConfig,
        GPT2Tokenizer,
        JanusConfig,
        JanusForConditionalGeneration,
        JanusImageProcessor,
        JanusProcessor,
    )

    tokenizer = GPT2Tokenizer(
        vocab=_byte_vocab(),
        merges=[],
        bos_token="<|begin_of_sentence|>",
        eos_token="<|end_of_sentence|>",
        pad_token="<|pad|>",
        unk_token=None,
        image_token="<image_placeholder>",
        boi_token="<begin_of_image>",
        eoi_token="<end_of_image>",
    )
    image_processor = JanusImageProcessor(
        size={"height": 32, "width": 32}, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]
    )
    processor = JanusProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=JANUS_CHAT_TEMPLATE,
        num_image_tokens=16,
    )
    hidden = 32
    config = JanusConfig(
        text_config={
            "model_type": "llama",
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 1024,
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "num_image_tokens": 16,
            "hidden_size": hidden,
            "projection_dim": hidden,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "mlp_ratio": 2,
        },
        vq_config={
            "embed_dim": 8,
            "num_embeddings": 64,
            "latent_channels": 8,
            "base_channels": 32,
            "channel_multiplier": [1, 1],
            "num_res_blocks": 1,
            "projection_dim": hidden,
            "image_token_embed_dim": hidden,
            "num_patches": 4,
        },
        image_token_id=tokenizer.image_token_id,
    )
    torch.manual_seed(0)
    model = JanusForConditionalGeneration(config).eval()
    # What the released checkpoints' generation_config.json carries (BOI id for the CFG masking).
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        guidance_scale=5.0,
        generation_kwargs={"boi_token_id": tokenizer.convert_tokens_to_ids("<begin_of_image>")},
    )
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


# -- Emu3 ----------------------------------------------------------------------------------------------
EMU3_CHAT_TEMPLATE = (
    # the llava-style template of transformers' Emu3 processor tests: a system turn has no role prefix
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}"
    "{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}<image>{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' ' }}{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
EMU3_CODEBOOK_SIZE = 32


def build_tiny_emu3(path: Path, *, seed: int = 0) -> Path:
    """An ``Emu3ForConditionalGeneration`` + ``Emu3Processor`` (images up to 32x32 = 4x4 VQ tokens)."""
    from transformers import (
        Emu3Config,
        Emu3ForConditionalGeneration,
        Emu3ImageProcessor,
        Emu3Processor,
        Emu3TextConfig,
        GenerationConfig,
        GPT2Tokenizer,
    )

    visual = [f"<|visual token {index:06d}|>" for index in range(EMU3_CODEBOOK_SIZE)]
    tokenizer = GPT2Tokenizer(
        vocab=_byte_vocab(),
        merges=[],
        bos_token="<|extra_203|>",
        eos_token="<|extra_204|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        image_token="<image>",
        boi_token="<|image start|>",
        eoi_token="<|image end|>",
        image_wrapper_token="<|image token|>",
        eof_token="<|extra_201|>",
        extra_special_tokens=["<|extra_200|>", *visual],
    )
    image_processor = Emu3ImageProcessor(
        min_pixels=16 * 16, max_pixels=32 * 32, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]
    )
    processor = Emu3Processor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=EMU3_CHAT_TEMPLATE
    )
    text_config = Emu3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    vq_config = {
        "codebook_size": EMU3_CODEBOOK_SIZE,
        "embed_dim": 4,
        "latent_channels": 4,
        "temporal_downsample_factor": 1,
        "base_channels": 32,
        "channel_multiplier": [1, 1, 1, 1],
        "num_res_blocks": 1,
        "attn_resolutions": [],
        "hidden_size": 32,
        "num_attention_heads": 1,
    }
    config = Emu3Config(text_config=text_config, vq_config=vq_config, vocabulary_map=tokenizer.get_vocab())
    torch.manual_seed(seed)
    model = Emu3ForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


# -- composite: a Qwen2-VL captioner and a Stable Diffusion pipeline ---------------------------------
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


QWEN_SPECIAL_TOKENS = ["<|im_start|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def _tiny_vl_text_config(tokenizer) -> dict:
    """The language model of the tiny Qwen2-VL and Qwen2.5-VL captioners (M-RoPE, 2 layers)."""
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 1024,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": None,
        "eos_token_id": tokenizer.eos_token_id,
    }


def tiny_qwen_tokenizer(**kwargs: Any) -> Any:
    """A byte-level ``Qwen2Tokenizer`` with Qwen's special tokens (``kwargs``: e.g. a chat template)."""
    from transformers import Qwen2Tokenizer

    return Qwen2Tokenizer(
        vocab=_byte_vocab(),
        merges=[],
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=QWEN_SPECIAL_TOKENS,
        **kwargs,
    )


def qwen_vision_token_ids(tokenizer: Any) -> dict[str, int]:
    """The image/video placeholder and vision start/end ids a Qwen-VL-style config names."""
    ids = tokenizer.convert_tokens_to_ids
    return {
        "image_token_id": ids("<|image_pad|>"),
        "video_token_id": ids("<|video_pad|>"),
        "vision_start_token_id": ids("<|vision_start|>"),
        "vision_end_token_id": ids("<|vision_end|>"),
    }


def save_tiny_captioner(model_class: Any, config: Any, processor: Any, path: Path) -> Path:
    """Seeded random weights of ``model_class`` with a sampling generation config (top-k 20, as some
    checkpoints ship), saved with its processor: the tail of every tiny Qwen-style captioner."""
    from transformers import GenerationConfig

    tokenizer = processor.tokenizer
    torch.manual_seed(0)
    model = model_class(config).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=True, top_k=20
    )
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def build_tiny_qwen2_vl(path: Path) -> Path:
    """A ``Qwen2VLForConditionalGeneration`` (what ``AutoModelForImageTextToText`` loads for Qwen2-VL)."""
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = tiny_qwen_tokenizer()
    image_processor = Qwen2VLImageProcessor(
        min_pixels=28 * 28, max_pixels=56 * 56, patch_size=14, merge_size=2
    )
    processor = Qwen2VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(min_pixels=28 * 28, max_pixels=56 * 56),
        chat_template=QWEN_CHAT_TEMPLATE,
    )
    config = Qwen2VLConfig(
        text_config=_tiny_vl_text_config(tokenizer),
        vision_config={
            "depth": 1,
            "embed_dim": 32,
            "hidden_size": 32,
            "num_heads": 2,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        **qwen_vision_token_ids(tokenizer),
    )
    return save_tiny_captioner(Qwen2VLForConditionalGeneration, config, processor, path)


def build_tiny_stable_diffusion(path: Path) -> Path:
    """A ``StableDiffusionPipeline`` (UNet, VAE, CLIP text encoder + tokenizer) drawing 32x32 images."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = _byte_vocab()
    vocab.update({f"{char}</w>": len(vocab) + index for index, char in enumerate(BYTE_ALPHABET)})
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=32)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=32,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(32,),
        down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",),
        latent_channels=4,
        norm_num_groups=32,
        sample_size=32,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(path)
    return path


def build_tiny_qwen2_5_vl(path: Path) -> Path:
    """A ``Qwen2_5_VLForConditionalGeneration`` + its processor: the composite's default captioner."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = tiny_qwen_tokenizer()
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            min_pixels=28 * 28, max_pixels=56 * 56, patch_size=14, merge_size=2
        ),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(min_pixels=28 * 28, max_pixels=56 * 56),
        chat_template=QWEN_CHAT_TEMPLATE,
    )
    config = Qwen2_5_VLConfig(
        text_config=_tiny_vl_text_config(tokenizer),
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 32,
            "out_hidden_size": 32,
            "num_heads": 4,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
        },
        **qwen_vision_token_ids(tokenizer),
    )
    return save_tiny_captioner(Qwen2_5_VLForConditionalGeneration, config, processor, path)


def _tiny_clip_tokenizer(model_max_length: int) -> Any:
    from transformers import CLIPTokenizer

    vocab = _byte_vocab()
    vocab.update({f"{char}</w>": len(vocab) + index for index, char in enumerate(BYTE_ALPHABET)})
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=model_max_length)


def build_tiny_sd3(path: Path) -> Path:
    """A ``StableDiffusion3Pipeline`` as the SD3.5 release lays it out: MMDiT, 16-channel-style VAE with
    shift/scale, flow-matching scheduler, CLIP-L and CLIP-G (``CLIPTextModelWithProjection``, 77 tokens)
    and T5 (``T5EncoderModel`` + ``T5Tokenizer``). Tokenizers are per character, so a long caption runs
    past 77 CLIP tokens and past the T5 limit, as real long captions do."""
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModelWithProjection,
        T5Config,
        T5EncoderModel,
        T5Tokenizer,
    )

    torch.manual_seed(0)
    clip_tokenizer = _tiny_clip_tokenizer(77)

    def clip_encoder() -> Any:
        return CLIPTextModelWithProjection(
            CLIPTextConfig(
                vocab_size=len(clip_tokenizer), hidden_size=32, intermediate_size=37, projection_dim=32,
                num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=77, hidden_act="gelu",
                bos_token_id=clip_tokenizer.bos_token_id, eos_token_id=clip_tokenizer.eos_token_id,
                pad_token_id=clip_tokenizer.pad_token_id,
            )
        )  # fmt: skip

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [
        (char, -3.0)
        for char in sorted(set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'\"-"))
    ]
    t5_tokenizer = T5Tokenizer(vocab=pieces, extra_ids=0)
    t5 = T5EncoderModel(
        T5Config(
            vocab_size=len(t5_tokenizer), d_model=64, d_kv=16, d_ff=64, num_layers=1, num_heads=4,
            relative_attention_num_buckets=8, pad_token_id=t5_tokenizer.pad_token_id,
            eos_token_id=t5_tokenizer.eos_token_id,
        )
    )  # fmt: skip
    transformer = SD3Transformer2DModel(
        sample_size=16, patch_size=1, in_channels=4, out_channels=4, num_layers=1, attention_head_dim=8,
        num_attention_heads=4, joint_attention_dim=64, caption_projection_dim=32, pooled_projection_dim=64,
        pos_embed_max_size=16,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), latent_channels=4, norm_num_groups=4,
        sample_size=32, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609,
        scaling_factor=1.5035,
    )  # fmt: skip
    pipeline = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=vae,
        text_encoder=clip_encoder(),
        tokenizer=clip_tokenizer,
        text_encoder_2=clip_encoder(),
        tokenizer_2=_tiny_clip_tokenizer(77),
        text_encoder_3=t5,
        tokenizer_3=t5_tokenizer,
    )
    pipeline.save_pretrained(path)
    return path


# -- shared test helpers -------------------------------------------------------------------------------
@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Tiny models run far faster on one thread than on cores shared with other work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def random_images(count: int = 3) -> list[Image.Image]:
    """Seeded random RGB images of different sizes (so processors pad and resize differently)."""
    return [
        Image.fromarray(
            np.random.default_rng(index).integers(0, 256, (40 + 23 * index, 50, 3), dtype=np.uint8)
        )
        for index in range(count)
    ]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def run_args(model: str, output: Path, *extra: str, limit: int = 3) -> list[str]:
    """``unified-bench run`` on the bundled samples with the weightless scorers."""
    return [
        "run", "--model", model, "--dataset", "samples", "--limit", str(limit), "--output", str(output),
        "--scorer", "ssim", "--scorer", "psnr", "--device", "cpu", *extra,
    ]  # fmt: skip
