"""Janus-Pro through transformers: one model captions (text mode) and draws (image mode).

Captions: the chat template with the image and the benchmark instruction, sampled per row.
Images: the chat-formatted prompt in image mode, classifier-free guidance against the prompt with
everything but BOS/BOI masked (the model card's recipe, built into transformers), image tokens
sampled per row, then ``decode_image_tokens`` through the VQ decoder (384x384 for the released models).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from PIL import Image
from transformers import (
    ClassifierFreeGuidanceLogitsProcessor,
    GenerationMixin,
    JanusForConditionalGeneration,
    JanusProcessor,
    LogitsProcessorList,
)

from unified_bench.adapter import AdapterOptions, config_from_args
from unified_bench.loading import load_pretrained, model_load_kwargs, oom_guard, require_package
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
from unified_bench_adapters._images import decoded_to_pil, fit_to_size

JANUS_PRO_7B = "deepseek-community/Janus-Pro-7B"
JANUS_PRO_1B = "deepseek-community/Janus-Pro-1B"


@dataclass(frozen=True)
class JanusProConfig:
    """Settings, each settable with ``--adapter-arg NAME=VALUE``."""

    model: str = JANUS_PRO_7B  # hub id or local folder (model + processor)
    revision: str | None = None
    caption_prompt: str = CAPTION_PROMPT
    caption_max_new_tokens: int = CAPTION_MAX_NEW_TOKENS
    caption_temperature: float = CAPTION_TEMPERATURE  # 0 = greedy
    caption_top_k: int | None = CAPTION_TOP_K  # the protocol's; None: the checkpoint's (else 50); 0 = off
    caption_top_p: float | None = CAPTION_TOP_P  # the protocol's; None: the checkpoint's (else 1.0)
    guidance_scale: float = 5.0  # the Janus-Pro card's cfg_weight
    image_temperature: float = 1.0  # the Janus-Pro card's temperature
    image_top_k: int | None = None  # None = off: the Janus-Pro recipe samples the full codebook
    image_top_p: float | None = None
    cpu_offload: bool = False  # device_map="auto": what does not fit on the GPU stays in CPU RAM
    attn_implementation: str | None = None  # e.g. sdpa, eager, flash_attention_2

    def __post_init__(self) -> None:
        if self.guidance_scale < 1:
            raise ValueError("guidance_scale must be >= 1 (1 = no guidance).")
        if self.caption_max_new_tokens < 1:
            raise ValueError("caption_max_new_tokens must be >= 1.")
        TokenSampling(self.caption_temperature, self.caption_top_k, self.caption_top_p)  # validates
        self.image_sampling()

    def image_sampling(self) -> TokenSampling:
        return TokenSampling(self.image_temperature, self.image_top_k, self.image_top_p)


class JanusProAdapter:
    """``caption`` and ``generate`` with one ``JanusForConditionalGeneration``."""

    name = "janus-pro"

    def __init__(self, config: JanusProConfig, *, device: str | None = None, dtype: str | None = None):
        self.config = config
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        offload = config.cpu_offload and self.device.type != "cpu"
        if offload:
            require_package("accelerate", purpose="--adapter-arg cpu_offload=true")
        load_kwargs = model_load_kwargs(
            revision=config.revision,
            dtype=self.dtype,
            attn_implementation=config.attn_implementation,
            offload=offload,
        )
        self.model = load_pretrained(
            JanusForConditionalGeneration.from_pretrained,
            config.model,
            what="Janus-Pro model",
            arg="model",
            **load_kwargs,
        ).eval()
        if not offload:
            self.model.to(self.device)
        self.processor = load_pretrained(
            JanusProcessor.from_pretrained,
            config.model,
            what="Janus-Pro processor",
            arg="model",
            revision=config.revision,
        )
        self.processor.tokenizer.padding_side = "left"
        self._input_device = self.model.get_input_embeddings().weight.device

    # -- I2T ---------------------------------------------------------------------------------------
    def caption_call(self, images: list[Image.Image], *, seeds: list[int]) -> dict[str, Any]:
        """The keyword arguments of the caption ``generate`` call (inputs, config, processors)."""
        inputs = caption_chat_inputs(
            self.processor, images, self.config.caption_prompt, generation_mode="text"
        ).to(self._input_device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        # Janus's own text mode captions without guidance. The checkpoint's guidance_scale (5) is for
        # image mode; left in the config, generate() would add an unbatched CFG processor whose
        # "unconditional" context is the last prompt token. 1.0 (not None: generate refills None
        # from the checkpoint) switches it off.
        generation_config = greedy_generation_config(
            self.model.generation_config,
            max_new_tokens=self.config.caption_max_new_tokens,
            guidance_scale=1.0,
        )
        sampler = PerRowSampler(seeds, self.caption_sampling())
        processors = LogitsProcessorList([sampler])
        return {**inputs, "generation_config": generation_config, "logits_processor": processors}

    def caption_sampling(self) -> TokenSampling:
        return TokenSampling.for_captions(self.model.generation_config, self.config)

    @torch.inference_mode()
    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        call = self.caption_call(images, seeds=seeds)
        prompt_length = call["input_ids"].shape[1]
        with oom_guard(self.name, "captioning", len(images), device=self.device):
            # JanusForConditionalGeneration.generate drops logits processors in text mode: call the
            # generic text generation it delegates to.
            output = GenerationMixin.generate(self.model, **call)
        new_tokens = output[:, prompt_length:]
        return [text.strip() for text in self.processor.batch_decode(new_tokens, skip_special_tokens=True)]

    # -- T2I ---------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        chats = [
            self.processor.apply_chat_template(
                [{"role": "user", "content": [{"type": "text", "text": prompt}]}], add_generation_prompt=True
            )
            for prompt in prompts
        ]
        inputs = self.processor(text=chats, generation_mode="image", return_tensors="pt", padding=True).to(
            self._input_device
        )
        num_image_tokens = self.model.model.vision_model.config.num_image_tokens
        # guidance_scale=1 stops generate from adding its own guidance after our sampler; ours runs first.
        generation_config = greedy_generation_config(
            self.model.generation_config,
            guidance_scale=1.0,
            max_length=inputs["input_ids"].shape[1] + num_image_tokens,
        )
        processors = LogitsProcessorList(
            [
                ClassifierFreeGuidanceLogitsProcessor(self.config.guidance_scale),
                PerRowSampler(seeds, self.config.image_sampling()),
            ]
        )
        with oom_guard(self.name, "generating", len(prompts), device=self.device):
            tokens = self.model.generate(
                **inputs,
                generation_mode="image",
                generation_config=generation_config,
                logits_processor=processors,
            )
            # One row at a time: a batched VQ decode differs in the last bits, and so in rounded pixels.
            decoded = torch.cat([self.model.decode_image_tokens(row[None]) for row in tokens])
            decoded = decoded.permute(0, 3, 1, 2)  # decode_image_tokens gives (batch, H, W, C)
        return [fit_to_size(image, size) for image in decoded_to_pil(decoded, self.processor.image_processor)]

    def info(self) -> dict[str, Any]:
        return {
            "adapter": self.name,
            "model": self.config.model,
            "revision": self.config.revision,
            "commit": getattr(self.model.config, "_commit_hash", None),
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "caption_image_size": self.model.model.vision_model.config.image_size,
            "caption_sampling": asdict(sampling := self.caption_sampling()),
            "caption_guidance_scale": 1.0,  # text mode: no guidance (Janus's own text generate)
            "caption_decoding": caption_decoding_note(self.config.caption_temperature, "greedy"),
            "warnings": [w for w in [sampling.greedy_warning("caption")] if w],
            "settings": asdict(self.config),
        }


def build_janus_pro(options: AdapterOptions) -> JanusProAdapter:
    return JanusProAdapter(
        config_from_args(JanusProConfig, options.args), device=options.device, dtype=options.dtype
    )


def build_janus_pro_1b(options: AdapterOptions) -> JanusProAdapter:
    args = {"model": JANUS_PRO_1B, **options.args}
    return JanusProAdapter(config_from_args(JanusProConfig, args), device=options.device, dtype=options.dtype)
