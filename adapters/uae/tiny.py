"""``uae-tiny``: UAE's exact classes at toy sizes with seeded random weights, in the release layout.

Built once into ``cache_dir("models", "uae-tiny-v3")`` and loaded back through
``UAEAdapter.from_pretrained``, so the demo and the tests run the code users run. The encoder is
written the way the release was (transformers-4.50 flat config and ``model.layers``/``visual``
tensor names, ``llm_lora/`` as a PEFT-wrapped state dict), which exercises the conversion path.
Sizes follow the transformers/diffusers test configs (see grpo.md §4.2).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from unified_bench.paths import cache_dir

TINY_NAME = "uae-tiny-v3"  # bump when the build below changes
TINY_SEED = 0
# Written last: its presence marks a complete build.
_COMPLETE_MARKER = "uae_tiny.json"
# Small enough that 8 images round-trip in seconds on 2 CPU cores.
TINY_DEFAULTS = {"height": 64, "width": 64, "num_inference_steps": 4, "max_new_tokens": 24}

QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
# Qwen2.5-VL's chat template, restated: a default system prompt, any role name, images as
# <|vision_start|><|image_pad|><|vision_end|>.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n"
    "{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}"
    "{{ content['text'] }}"
    "{% endif %}"
    "{% endfor %}"
    "<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "<|im_start|>assistant\n"
    "{% endif %}"
)
# Text the tiny BPE learns its merges from, so random captions decode to word-like pieces.
_TOKENIZER_CORPUS = (
    "You are an expert vision-language model. Your task is: Given an input image, generate a textual "
    "description of the image. If there is text in the image, transcribe it inside double quotes. "
    "Now, carefully analyze the input image and output the full description. You are a helpful assistant. "
    "Generate a random, low quality, ugly, blur, bad and anime, cartoon image. "
    "A photo of a small red cat sitting on a wooden chair next to a window with white curtains. "
    "Two people walk along a sandy beach under a blue sky with clouds, holding a green umbrella. "
    "A plate of food on a table: bread, cheese, tomatoes and a cup of coffee in the morning light. "
    "A city street at night with yellow taxis, tall buildings, bright signs and a dog near the door."
)
_QWEN_VOCAB_WITHOUT_SPECIALS = 480
_PROJECTOR_DIM = 32  # = the tiny SD3 transformer's joint_attention_dim
_CLIP_PROJECTION_DIM = 32  # two CLIPs -> pooled width 64 = pooled_projection_dim
# Two weights are set at the scale of a trained model rather than the 0.02 init, so that g4u has
# something to learn (measured on v1, where both were 0.02-init, in the train README): the token
# embeddings (tied to the LM head) give the captioner logits of std ~1.1 (entropy 4.4 of 6.0 nats
# at temperature 1; at 0.02 they were near uniform and no LoRA could move them by more than ~0.6),
# and the projector's output layer writes states of norm ~1 per token, so SD3's context embedder
# reads the caption rather than its own bias (at 0.02: norm 0.05, the decoder was caption-blind).
# A side effect to know: the 0.02-init layers leave the residual stream close to the current token's
# embedding, so under the release's sampling (temperature 0.7, top-k 20) the toy mostly repeats a
# token; at g4u's temperature 1 its captions vary.
_TOKEN_EMBEDDING_STD = 0.2
_PROJECTOR_OUTPUT_GAIN = 20.0
_DIT_LORA_TARGETS = [
    "attn.add_k_proj",
    "attn.add_q_proj",
    "attn.add_v_proj",
    "attn.to_add_out",
    "attn.to_k",
    "attn.to_out.0",
    "attn.to_q",
    "attn.to_v",
]


def ensure_tiny_checkpoint() -> Path:
    """The cached tiny checkpoint, built first if needed (safe when several processes race)."""
    models = cache_dir("models")
    target = models / TINY_NAME
    if (target / _COMPLETE_MARKER).is_file():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f".{TINY_NAME}.", dir=models))
    try:
        build_tiny_checkpoint(staging)
        if target.exists() and not (target / _COMPLETE_MARKER).is_file():
            shutil.rmtree(target, ignore_errors=True)  # an interrupted build from an older version
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / _COMPLETE_MARKER).is_file():  # lost the race to a finished build otherwise
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build_tiny_checkpoint(root: Path, seed: int = TINY_SEED) -> None:
    """Write a complete tiny UAE checkpoint into ``root`` (deterministic for a seed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tokenizer = _build_tiny_qwen_tokenizer()
        _save_qwen_processor(tokenizer, root / "llm_model")
        qwen_config = _qwen_release_config(tokenizer)
        qwen = _build_tiny_qwen(qwen_config)
        _save_legacy_qwen(qwen, qwen_config, root / "llm_model")
        _save_llm_lora(qwen, root / "llm_lora")
        _save_sd3_parts(root)
    (root / _COMPLETE_MARKER).write_text(json.dumps({"name": TINY_NAME, "seed": seed}) + "\n")


# --- encoder -----------------------------------------------------------------------------------


def _build_tiny_qwen_tokenizer():
    """A byte-level BPE learned from a fixed corpus, in Qwen's tokenizer class, plus Qwen's special tokens.

    Its alphabet is printable ASCII and newline only, so the random model's captions stay readable
    (other characters are dropped when encoding; fine for a toy).
    """
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    printable = "\n" + "".join(chr(code) for code in range(0x20, 0x7F))
    alphabet = sorted({symbol for piece, _ in byte_level.pre_tokenize_str(printable) for symbol in piece})
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=_QWEN_VOCAB_WITHOUT_SPECIALS,
        initial_alphabet=alphabet,
        limit_alphabet=len(alphabet),
        show_progress=False,
    )
    bpe.train_from_iterator([_TOKENIZER_CORPUS], trainer)
    learned = json.loads(bpe.to_str())["model"]
    tokenizer = Qwen2Tokenizer(
        vocab=learned["vocab"],
        merges=[tuple(merge) for merge in learned["merges"]],
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
    )
    tokenizer.add_tokens([AddedToken(token, special=True, normalized=False) for token in QWEN_SPECIAL_TOKENS])
    return tokenizer


def _save_qwen_processor(tokenizer, directory: Path) -> None:
    """Qwen2.5-VL's processor with the release's image settings (patch 14, merge 2, 3136..65536 px)."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            patch_size=14, merge_size=2, temporal_patch_size=2, min_pixels=3136, max_pixels=65536
        ),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(patch_size=14, merge_size=2, temporal_patch_size=2),
        chat_template=QWEN_CHAT_TEMPLATE,
    )
    processor.save_pretrained(str(directory))


def _qwen_release_config(tokenizer) -> dict:
    """A transformers-4.50 style (flat) Qwen2.5-VL config.json at tiny sizes, plus ``projector_dim``."""
    token_id = tokenizer.convert_tokens_to_ids
    return {
        "architectures": ["Qwen2_5_VLWithLongContext"],
        "model_type": "qwen2_5_vl",
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": len(tokenizer),
        "max_position_embeddings": 4096,
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 1, 1]},
        "rope_theta": 1000000.0,
        "bos_token_id": token_id("<|endoftext|>"),
        "eos_token_id": token_id("<|im_end|>"),
        "pad_token_id": token_id("<|endoftext|>"),
        "vision_start_token_id": token_id("<|vision_start|>"),
        "vision_end_token_id": token_id("<|vision_end|>"),
        "image_token_id": token_id("<|image_pad|>"),
        "video_token_id": token_id("<|video_pad|>"),
        "tie_word_embeddings": True,
        "vision_config": {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 32,
            "out_hidden_size": 32,
            "num_heads": 4,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [0],
        },
        "projector_dim": _PROJECTOR_DIM,
    }


def _build_tiny_qwen(release_config: dict):
    from transformers import GenerationConfig, Qwen2_5_VLConfig

    from .modeling import Qwen2_5_VLWithProjector

    model = Qwen2_5_VLWithProjector(Qwen2_5_VLConfig(**release_config)).eval()
    with torch.no_grad():  # trained-model scales (see _TOKEN_EMBEDDING_STD)
        model.projector[2].weight.mul_(_PROJECTOR_OUTPUT_GAIN)
        model.model.language_model.embed_tokens.weight.normal_(std=_TOKEN_EMBEDDING_STD)  # tied: LM head too
    model.generation_config = GenerationConfig(
        bos_token_id=release_config["bos_token_id"],
        pad_token_id=release_config["pad_token_id"],
        eos_token_id=[release_config["eos_token_id"], release_config["pad_token_id"]],
        do_sample=True,
        temperature=0.7,
        top_k=20,
        top_p=0.9,
        repetition_penalty=1.05,
    )
    return model


def _save_legacy_qwen(model, release_config: dict, directory: Path) -> None:
    """config.json, generation_config.json and model.safetensors with transformers-4.50 tensor names."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(release_config, indent=2) + "\n")
    model.generation_config.save_pretrained(str(directory))
    state = {
        _legacy_name(name): tensor.detach().clone().contiguous()
        for name, tensor in model.state_dict().items()
        if name != "lm_head.weight"  # tied to the input embeddings
    }
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})


def _legacy_name(name: str) -> str:
    """transformers-5 tensor name -> the 4.50 name the release uses."""
    if name.startswith("model.language_model."):
        return "model." + name.removeprefix("model.language_model.")
    if name.startswith("model.visual."):
        return name.removeprefix("model.")
    return name


def _save_llm_lora(model, directory: Path) -> None:
    """demo.py's LoRA on the language model with random (non-zero) weights, saved as a state dict of
    ``uae_model`` whose ``.model`` is PEFT-wrapped under transformers 4.50 (our reading of the release)."""
    from peft import inject_adapter_in_model

    from .weights import llm_lora_config

    language_model = model.model.language_model
    inject_adapter_in_model(llm_lora_config(directory), language_model)
    state = {}
    for name, tensor in language_model.state_dict().items():
        if ".lora_" not in name:
            continue
        if ".lora_B." in name:  # gaussian init leaves B at zero: make the LoRA change outputs
            tensor = torch.randn_like(tensor) * 0.1
        state[f"model.base_model.model.{name}"] = tensor.detach().clone().contiguous()
    directory.mkdir(parents=True, exist_ok=True)
    save_file(state, str(directory / "model-00001-of-00001.safetensors"), metadata={"format": "pt"})


# --- decoder -----------------------------------------------------------------------------------


def _save_sd3_parts(root: Path) -> None:
    """dit/ + dit_lora/ and SD3/{vae, scheduler, text_encoder(_2), tokenizer(_2)} at tiny sizes."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    transformer = SD3Transformer2DModel(
        sample_size=8,
        patch_size=2,
        in_channels=16,
        out_channels=16,
        num_layers=2,
        attention_head_dim=8,
        num_attention_heads=4,
        joint_attention_dim=_PROJECTOR_DIM,
        caption_projection_dim=32,
        pooled_projection_dim=2 * _CLIP_PROJECTION_DIM,
        pos_embed_max_size=32,
        dual_attention_layers=(0,),
        qk_norm="rms_norm",
    )
    transformer.save_pretrained(str(root / "dit"))
    lora = get_peft_model(
        transformer,
        LoraConfig(r=4, lora_alpha=8, init_lora_weights="gaussian", target_modules=_DIT_LORA_TARGETS),
    )
    with torch.no_grad():
        for name, parameter in lora.named_parameters():
            if ".lora_B." in name:
                parameter.normal_(std=0.1)
    lora.save_pretrained(str(root / "dit_lora"))
    # PEFT writes target_modules from a set: sort it so every build has the same config hash.
    adapter_config = root / "dit_lora" / "adapter_config.json"
    settings = json.loads(adapter_config.read_text())
    settings["target_modules"] = sorted(settings["target_modules"])
    adapter_config.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")

    sd3 = root / "SD3"
    AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        latent_channels=16,
        norm_num_groups=4,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
        sample_size=64,
    ).save_pretrained(str(sd3 / "vae"))
    FlowMatchEulerDiscreteScheduler(shift=3.0).save_pretrained(str(sd3 / "scheduler"))
    tokenizer = _build_tiny_clip_tokenizer()
    for suffix in ("", "_2"):
        tokenizer.save_pretrained(str(sd3 / f"tokenizer{suffix}"))
        CLIPTextModelWithProjection(
            CLIPTextConfig(
                hidden_size=32,
                intermediate_size=37,
                num_attention_heads=4,
                num_hidden_layers=2,
                projection_dim=_CLIP_PROJECTION_DIM,
                vocab_size=len(tokenizer),
                max_position_embeddings=77,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        ).save_pretrained(str(sd3 / f"text_encoder{suffix}"))


def _build_tiny_clip_tokenizer():
    """CLIP's tokenizer class over single bytes (no merges): only ever asked to encode ``""``."""
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = [*alphabet, *(symbol + "</w>" for symbol in alphabet), "<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(
        vocab={token: index for index, token in enumerate(tokens)}, merges=[], model_max_length=77
    )
