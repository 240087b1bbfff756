"""Every setting of the UAE adapter, with the official demo's values as defaults (no torch import)."""

from __future__ import annotations

from dataclasses import dataclass, field

# demo.py `gen_prompt` verbatim and its sampling settings, shared with the other adapters.
from unified_bench.prompts import CAPTION_MAX_NEW_TOKENS, CAPTION_PROMPT, CAPTION_TEMPERATURE

NEGATIVE_PROMPT = "Generate a random, low quality, ugly, blur, bad and anime, cartoon image."
DEFAULT_MODEL = "zhiyuanyan1/UAE"
# SD3 latents are 1/8 of the image and the transformer patchifies them by 2.
SIZE_MULTIPLE = 16


@dataclass
class UAEConfig:
    """Settings of the UAE adapter; ``--adapter-arg KEY=VALUE`` sets any of them."""

    # --- Weights -------------------------------------------------------------------------------
    model: str = field(
        default=DEFAULT_MODEL,
        metadata={
            "help": "Hugging Face repo id or local directory laid out as the official release "
            "(llm_model/, llm_lora/, SD3/, dit/, dit_lora/)."
        },
    )
    revision: str | None = field(
        default=None, metadata={"help": "Hub revision (branch, tag or commit) when `model` is a repo id."}
    )
    processor: str | None = field(
        default=None,
        metadata={
            "help": "Where the Qwen2.5-VL processor (tokenizer, chat template, image processor) comes from; "
            "None = llm_model_preprocessor/ when it holds a tokenizer, else llm_model/."
        },
    )
    checkpoint: str | None = field(
        default=None,
        metadata={
            "help": "Optional directory whose llm_lora/, dit_lora/ and projector.safetensors (any subset) "
            "replace the release's, e.g. a Unified-GRPO training checkpoint."
        },
    )
    use_llm_lora: bool = field(
        default=True,
        metadata={"help": "Apply the Stage-2 encoder LoRA (llm_lora/) to the Qwen language model."},
    )
    use_dit_lora: bool = field(
        default=True, metadata={"help": "Apply the Stage-3 decoder LoRA (dit_lora/) to the SD3 transformer."}
    )
    # --- Captioning (I2T) ----------------------------------------------------------------------
    caption_prompt: str = field(
        default=CAPTION_PROMPT,
        metadata={
            "help": "Instruction sent before the image when captioning (demo.py gen_prompt, verbatim)."
        },
    )
    do_sample: bool = field(
        default=True, metadata={"help": "Sample captions (seeded per image); false = greedy decoding."}
    )
    temperature: float = field(
        default=CAPTION_TEMPERATURE, metadata={"help": "Caption sampling temperature."}
    )
    top_k: int | None = field(
        default=None,
        metadata={"help": "Caption top-k (0 = off); None = the checkpoint's generation_config.json."},
    )
    top_p: float | None = field(
        default=None,
        metadata={
            "help": "Caption nucleus top-p (1.0 = off); None = the checkpoint's generation_config.json."
        },
    )
    max_new_tokens: int = field(
        default=CAPTION_MAX_NEW_TOKENS, metadata={"help": "Longest caption, in tokens."}
    )
    min_pixels: int = field(
        default=3136,
        metadata={"help": "Fewest pixels the caption image is resized to (processor min_pixels)."},
    )
    max_pixels: int = field(
        default=65536,
        metadata={
            "help": "Most pixels the caption image is resized to (processor max_pixels; ~81 visual tokens)."
        },
    )
    # --- Generation (T2I) ----------------------------------------------------------------------
    generate_role: str = field(
        default="generate",
        metadata={"help": "Chat role wrapping the prompt for the decoder (the demo's custom role)."},
    )
    negative_prompt: str = field(
        default=NEGATIVE_PROMPT, metadata={"help": "Negative prompt for classifier-free guidance."}
    )
    height: int = field(default=1024, metadata={"help": "Default image height in pixels (multiple of 16)."})
    width: int = field(default=1024, metadata={"help": "Default image width in pixels (multiple of 16)."})
    num_inference_steps: int = field(default=40, metadata={"help": "Flow-matching Euler steps."})
    guidance_scale: float = field(
        default=5.0, metadata={"help": "Classifier-free guidance scale (<= 1 disables guidance)."}
    )
    # --- Execution -----------------------------------------------------------------------------
    batch_invariant: bool = field(
        default=True,
        metadata={
            "help": "Run every sample in its own model calls so its caption and image are bit-identical "
            "at any batch size; false = share calls between equal-length samples (faster, equal only up "
            "to float rounding)."
        },
    )

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("model is empty: give a Hugging Face repo id or a local directory.")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={self.max_new_tokens}: set it to at least 1.")
        if self.do_sample and not self.temperature > 0:
            raise ValueError(
                f"temperature={self.temperature} with do_sample=true: use a temperature > 0, "
                "or do_sample=false for greedy captions."
            )
        if not self.do_sample and (self.top_k is not None or self.top_p is not None):
            raise ValueError("top_k/top_p only apply when sampling: drop them or set do_sample=true.")
        if self.top_k is not None and self.top_k < 0:
            raise ValueError(f"top_k={self.top_k}: use 0 (off) or a positive number of tokens.")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p}: use a value in (0, 1]; 1.0 turns it off.")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(
                f"min_pixels={self.min_pixels}, max_pixels={self.max_pixels}: "
                "need 0 < min_pixels <= max_pixels."
            )
        for name in ("height", "width"):
            value = getattr(self, name)
            if value <= 0 or value % SIZE_MULTIPLE:
                raise ValueError(
                    f"{name}={value}: use a positive multiple of {SIZE_MULTIPLE} (SD3 latent grid)."
                )
        if self.num_inference_steps < 1:
            raise ValueError(f"num_inference_steps={self.num_inference_steps}: use at least 1.")
        if self.guidance_scale < 0:
            raise ValueError(
                f"guidance_scale={self.guidance_scale}: use a value >= 0 (<= 1 disables guidance)."
            )
        if not self.caption_prompt.strip():
            raise ValueError("caption_prompt is empty: give the instruction sent with each image.")
        if not self.generate_role.strip():
            raise ValueError("generate_role is empty: the demo uses 'generate'.")
