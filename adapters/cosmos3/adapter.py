"""Cosmos3-Omni through transformers and diffusers: both halves from one checkpoint.

The checkpoint (default ``nvidia/Cosmos3-Nano``) is a unified omni checkpoint: transformers reads the
reasoner tower from it as ``Cosmos3OmniForConditionalGeneration`` (Qwen3-VL sub-configs) with its
processor, and diffusers reads its ``model_index.json`` as ``Cosmos3OmniPipeline`` (transformer, Wan
VAE, UniPC scheduler, text tokenizer). Captions: the image then the benchmark's instruction in the
processor's chat template, sampled from each sample's seed, one image per call. Images:
text-to-image (``num_frames=1``), one prompt per pipeline call (the pipeline runs one sample per
call), each from its own ``torch.Generator``. The Cosmos guardrail is off unless ``cosmos_guardrail``
is installed (``safety_checker=auto``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from PIL import Image
from transformers import AutoProcessor, Cosmos3OmniForConditionalGeneration, LogitsProcessorList

from unified_bench.adapter import AdapterOptions, config_from_args
from unified_bench.loading import (
    PipelineMemoryOptions,
    apply_pipeline_memory_options,
    load_pretrained,
    model_load_kwargs,
    oom_guard,
    package_installed,
)
from unified_bench.prompts import (
    CAPTION_MAX_NEW_TOKENS,
    CAPTION_PROMPT,
    CAPTION_TEMPERATURE,
    CAPTION_TOP_K,
    CAPTION_TOP_P,
    caption_chat_inputs,
    caption_decoding_note,
)
from unified_bench.sampling import PerRowSampler, TokenSampling, greedy_generation_config
from unified_bench.torch_utils import resolve_device, resolve_dtype

COSMOS3_NANO = "nvidia/Cosmos3-Nano"
# Cosmos3OmniPipeline.__call__'s defaults (diffusers 0.42); no separate image settings could be
# confirmed from the model card (see README.md).
DEFAULT_STEPS = 35
DEFAULT_GUIDANCE = 6.0
DEFAULT_SIZE = 1024  # square; not confirmed from the card (the pipeline's own default is 1280x720 video)


@dataclass(frozen=True)
class Cosmos3Config:
    """Settings, each settable with ``--adapter-arg NAME=VALUE``."""

    model: str = COSMOS3_NANO  # hub id or local folder holding both halves
    revision: str | None = None
    caption_prompt: str = CAPTION_PROMPT
    caption_max_new_tokens: int = CAPTION_MAX_NEW_TOKENS
    caption_temperature: float = CAPTION_TEMPERATURE  # the protocol's 0.7; 0 = greedy
    caption_top_k: int | None = CAPTION_TOP_K
    caption_top_p: float | None = CAPTION_TOP_P
    num_inference_steps: int = DEFAULT_STEPS
    guidance_scale: float = DEFAULT_GUIDANCE
    negative_prompt: str = ""  # the pipeline's default (it appends its inverse resolution template)
    width: int = DEFAULT_SIZE
    height: int = DEFAULT_SIZE
    safety_checker: Literal["auto", "on", "off"] = "auto"  # auto: on only if cosmos_guardrail is installed
    cpu_offload: Literal["none", "model", "sequential"] = "none"
    attn_implementation: str | None = None

    def __post_init__(self) -> None:
        if self.num_inference_steps < 1:
            raise ValueError("num_inference_steps must be >= 1.")
        if self.guidance_scale < 1:
            raise ValueError("guidance_scale must be >= 1 (1 = no guidance).")
        if self.caption_max_new_tokens < 1:
            raise ValueError("caption_max_new_tokens must be >= 1.")
        if self.width < 16 or self.height < 16 or self.width % 16 or self.height % 16:
            raise ValueError("width and height must be multiples of 16 (the VAE's spatial factor).")
        TokenSampling(self.caption_temperature, self.caption_top_k, self.caption_top_p)  # validates

    def guardrail_enabled(self) -> bool:
        if self.safety_checker == "auto":
            return package_installed("cosmos_guardrail")
        return self.safety_checker == "on"


class Cosmos3Adapter:
    """``caption`` with the reasoner, ``generate`` with the pipeline, both read from ``config.model``."""

    name = "cosmos3"

    def __init__(self, config: Cosmos3Config, *, device: str | None = None, dtype: str | None = None) -> None:
        from diffusers import Cosmos3OmniPipeline

        self.config = config
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.guardrail = config.guardrail_enabled()
        kwargs = model_load_kwargs(
            revision=config.revision,
            dtype=self.dtype,
            attn_implementation=config.attn_implementation,
            offload=False,
        )
        self.reasoner = load_pretrained(
            Cosmos3OmniForConditionalGeneration.from_pretrained,
            config.model,
            what="Cosmos3 reasoner",
            arg="model",
            **kwargs,
        ).eval()
        self.processor = load_pretrained(
            AutoProcessor.from_pretrained, config.model, what="Cosmos3 processor", arg="model",
            revision=config.revision,
        )  # fmt: skip
        self.processor.tokenizer.padding_side = "left"
        self.pipeline = load_pretrained(
            Cosmos3OmniPipeline.from_pretrained, config.model, what="Cosmos3 pipeline", arg="model",
            revision=config.revision, dtype=self.dtype, enable_safety_checker=self.guardrail,
        )  # fmt: skip
        self.pipeline.set_progress_bar_config(disable=True)
        self.reasoner.to(self.device)
        memory = PipelineMemoryOptions(cpu_offload=config.cpu_offload)
        self.memory_options = apply_pipeline_memory_options(self.pipeline, memory, self.device)

    # -- I2T ---------------------------------------------------------------------------------------
    @torch.inference_mode()
    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        """One image per ``generate`` call: left padding in a batch can move a bf16 logit, and so a
        sampled token, so a batch could change a caption (the harness's batch-invariance promise)."""
        generation_config = greedy_generation_config(
            self.reasoner.generation_config, max_new_tokens=self.config.caption_max_new_tokens
        )
        sampling = self.caption_sampling()
        captions = []
        with oom_guard(self.name, "captioning", 1, device=self.device):
            for image, seed in zip(images, seeds, strict=True):
                inputs = self.caption_inputs([image]).to(self.device)
                output = self.reasoner.generate(
                    **inputs,
                    generation_config=generation_config,
                    logits_processor=LogitsProcessorList([PerRowSampler([seed], sampling)]),
                )
                new_tokens = output[:, inputs["input_ids"].shape[1] :]
                captions.append(self.processor.batch_decode(new_tokens, skip_special_tokens=True)[0].strip())
        return captions

    def caption_inputs(self, images: list[Image.Image]) -> Any:
        """The image then the benchmark's instruction, in the reasoner's chat template (references
        composited on white by ``caption_conversations``)."""
        inputs = caption_chat_inputs(self.processor, images, self.config.caption_prompt)
        for key, value in inputs.items():
            if torch.is_tensor(value) and torch.is_floating_point(value):
                inputs[key] = value.to(self.dtype)
        return inputs

    def caption_sampling(self) -> TokenSampling:
        return TokenSampling.for_captions(self.reasoner.generation_config, self.config)

    # -- T2I ---------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        width, height = size if size is not None else (self.config.width, self.config.height)
        with oom_guard(self.name, "generating", len(prompts), device=self.device):
            return [
                self._draw(prompt, seed, width, height) for prompt, seed in zip(prompts, seeds, strict=True)
            ]

    def _draw(self, prompt: str, seed: int, width: int, height: int) -> Image.Image:
        output = self.pipeline(
            prompt=prompt,
            negative_prompt=self.config.negative_prompt,
            num_frames=1,
            width=width,
            height=height,
            num_inference_steps=self.config.num_inference_steps,
            guidance_scale=self.config.guidance_scale,
            generator=torch.Generator(device="cpu").manual_seed(int(seed)),
            output_type="pil",
            enable_safety_check=self.guardrail,
        )
        frames = output.video
        return frames[0].convert("RGB")

    def info(self) -> dict[str, Any]:
        return {
            "adapter": self.name,
            "checkpoint": self.config.model,
            "classes": {
                "caption": type(self.reasoner).__name__,
                "generate": type(self.pipeline).__name__,
            },
            "revision": self.config.revision,
            "commit": getattr(self.reasoner.config, "_commit_hash", None),
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "guardrail": self.guardrail,
            "memory_options": self.memory_options,
            "drawing": {
                "num_frames": 1,
                "num_inference_steps": self.config.num_inference_steps,
                "guidance_scale": self.config.guidance_scale,
                "negative_prompt": self.config.negative_prompt,
                "default_size": [self.config.width, self.config.height],
                "source": "Cosmos3OmniPipeline defaults (steps, guidance); size not confirmed from the card",
            },
            "caption_sampling": asdict(sampling := self.caption_sampling()),
            "caption_decoding": caption_decoding_note(self.config.caption_temperature, "not stated"),
            "warnings": [w for w in [sampling.greedy_warning("caption")] if w],
            "settings": asdict(self.config),
        }


def build_cosmos3(options: AdapterOptions) -> Cosmos3Adapter:
    return Cosmos3Adapter(
        config_from_args(Cosmos3Config, options.args), device=options.device, dtype=options.dtype
    )
