"""Two separate models as one: any transformers captioner + any diffusers text-to-image pipeline.

The captioner is whatever ``AutoModelForImageTextToText`` loads (Qwen2.5-VL, BLIP-2, Florence-2, ...),
prompted with the benchmark instruction through its chat template when it has one. The generator is
whatever ``AutoPipelineForText2Image`` loads (SD3.5, FLUX.1, Qwen-Image, SDXL, ...), drawing with its
family's model-card settings (families.py). Defaults are UAE's parts and settings (Qwen2.5-VL-3B,
SD3.5-Large, 40 steps, guidance 5, 1024x1024), so this is the "no unification" baseline for UAE.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, LogitsProcessorList

from unified_bench.adapter import AdapterArgError, AdapterOptions, config_from_args
from unified_bench.images import reference_rgb
from unified_bench.loading import (
    OffloadMode,
    PipelineMemoryOptions,
    apply_pipeline_memory_options,
    load_pretrained,
    model_load_kwargs,
    oom_guard,
    require_package,
)
from unified_bench.prompts import (
    CAPTION_MAX_NEW_TOKENS,
    CAPTION_PROMPT,
    CAPTION_TEMPERATURE,
    CAPTION_TOP_K,
    CAPTION_TOP_P,
    caption_chat_inputs,
)
from unified_bench.sampling import PerRowSampler, TokenSampling, greedy_generation_config
from unified_bench.torch_utils import resolve_device, resolve_dtype

from .families import DRAWING_SETTINGS, family_of, prompt_usage, resolve_drawing

CaptionProtocol = Literal["chat", "uae"]
DEFAULT_CAPTIONER = "Qwen/Qwen2.5-VL-3B-Instruct"
DEFAULT_GENERATOR = "stabilityai/stable-diffusion-3.5-large"


@dataclass(frozen=True)
class CompositeConfig:
    """Settings, each settable with ``--adapter-arg NAME=VALUE``."""

    captioner: str = DEFAULT_CAPTIONER  # hub id or local folder (AutoModelForImageTextToText)
    generator: str = DEFAULT_GENERATOR  # hub id or local folder (a diffusers text-to-image pipeline)
    captioner_revision: str | None = None
    generator_revision: str | None = None
    # chat: the captioner's chat template, image then instruction. uae: UAE demo.py's protocol for a
    # Qwen2.5-VL captioner (instruction then image, qwen-vl-utils resize, 3,136..65,536 pixels, PIL
    # processor, captions not stripped): the uae-base preset.
    caption_protocol: CaptionProtocol = "chat"
    caption_prompt: str = CAPTION_PROMPT
    caption_max_new_tokens: int = CAPTION_MAX_NEW_TOKENS
    caption_temperature: float = CAPTION_TEMPERATURE  # 0 = greedy
    caption_top_k: int | None = CAPTION_TOP_K  # the protocol's; None: the checkpoint's (else 50); 0 = off
    caption_top_p: float | None = CAPTION_TOP_P  # the protocol's; None: the checkpoint's (else 1.0)
    # Drawing settings: None = the pipeline family's model-card default (families.py, recorded in
    # info()); a pipeline of no known family needs guidance_scale or true_cfg_scale given explicitly.
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    true_cfg_scale: float | None = None  # Qwen-Image's (and FLUX's optional) real classifier-free guidance
    negative_prompt: str | None = None
    width: int | None = None  # --size wins; None = the family's native size, else the pipeline's
    height: int | None = None
    prompt_suffix: str | None = None  # appended to every prompt; None = the family's (Qwen-Image's)
    max_sequence_length: int | None = None  # T5 / Qwen prompt tokens; None = the family's maximum
    batch_denoise: bool = False  # one pipeline call per batch: faster, but pixels may move by a rounding step
    cpu_offload: OffloadMode = "none"  # model | sequential: diffusers offload; the captioner uses device_map
    attention_slicing: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False
    attn_implementation: str | None = None  # the captioner's, e.g. sdpa, flash_attention_2

    def __post_init__(self) -> None:
        if self.num_inference_steps is not None and self.num_inference_steps < 1:
            raise ValueError("num_inference_steps must be >= 1.")
        if self.caption_max_new_tokens < 1:
            raise ValueError("caption_max_new_tokens must be >= 1.")
        TokenSampling(self.caption_temperature, self.caption_top_k, self.caption_top_p)  # validates

    @property
    def memory(self) -> PipelineMemoryOptions:
        return PipelineMemoryOptions(
            self.cpu_offload, self.attention_slicing, self.vae_tiling, self.vae_slicing
        )


class CompositeAdapter:
    """``caption`` with the captioner, ``generate`` with the diffusion pipeline; only text crosses."""

    name = "composite"

    def __init__(
        self, config: CompositeConfig, *, device: str | None = None, dtype: str | None = None
    ) -> None:
        self.config = config
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self._load_captioner()
        self._load_generator()

    def _load_captioner(self) -> None:
        config = self.config
        offload = config.cpu_offload != "none" and self.device.type != "cpu"
        if offload:
            require_package("accelerate", purpose="--adapter-arg cpu_offload")
        kwargs = model_load_kwargs(
            revision=config.captioner_revision,
            dtype=self.dtype,
            attn_implementation=config.attn_implementation,
            offload=offload,
        )
        self.captioner = load_pretrained(
            AutoModelForImageTextToText.from_pretrained,
            config.captioner,
            what="captioner",
            arg="captioner",
            **kwargs,
        ).eval()
        if not offload:
            self.captioner.to(self.device)
        if config.caption_protocol == "uae":
            if self.captioner.config.model_type != "qwen2_5_vl":
                raise AdapterArgError(
                    f"caption_protocol=uae needs a Qwen2.5-VL captioner; {config.captioner} is a "
                    f"{self.captioner.config.model_type}."
                )
            from unified_bench_adapters.uae.encoder import load_release_processor

            self.processor = load_pretrained(
                load_release_processor, config.captioner, what="captioner processor", arg="captioner"
            )
        else:
            self.processor = load_pretrained(
                AutoProcessor.from_pretrained,
                config.captioner,
                what="captioner processor",
                arg="captioner",
                revision=config.captioner_revision,
            )
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None and not self.captioner.config.is_encoder_decoder:
            tokenizer.padding_side = "left"
        self._caption_device = self.captioner.get_input_embeddings().weight.device

    def _load_generator(self) -> None:
        from diffusers import AutoPipelineForText2Image, DiffusionPipeline

        config = self.config

        def load(source: str, **kwargs: Any) -> Any:
            try:
                return AutoPipelineForText2Image.from_pretrained(source, **kwargs)
            except ValueError as error:  # a pipeline class AutoPipeline has no text-to-image mapping for
                if "AutoPipeline" not in str(error):
                    raise
                return DiffusionPipeline.from_pretrained(source, **kwargs)

        self.pipeline = load_pretrained(
            load, config.generator, what="generator pipeline", arg="generator",
            revision=config.generator_revision, dtype=self.dtype,
        )  # fmt: skip
        self.pipeline.set_progress_bar_config(disable=True)
        self.memory_options = apply_pipeline_memory_options(self.pipeline, config.memory, self.device)
        self._call_parameters = set(inspect.signature(self.pipeline.__call__).parameters)
        self.family = family_of(type(self.pipeline).__name__)
        self.drawing = self._resolve_drawing_settings()  # {"family", "source", "settings"}

    def _resolve_drawing_settings(self) -> dict[str, Any]:
        """The pipeline call's settings, the default size and the prompt suffix (else the family's)."""
        explicit = {name: getattr(self.config, name) for name in DRAWING_SETTINGS}
        try:
            drawing = resolve_drawing(type(self.pipeline).__name__, self._call_parameters, explicit)
        except ValueError as error:
            raise AdapterArgError(f"generator {self.config.generator!r}: {error}") from None
        config, family = self.config, self.family
        drawing["size"] = [
            config.width or (family.width if family else None),
            config.height or (family.height if family else None),
        ]  # None: the pipeline's own default
        suffix = config.prompt_suffix
        drawing["prompt_suffix"] = suffix if suffix is not None else (family.prompt_suffix if family else "")
        return drawing

    # -- I2T ---------------------------------------------------------------------------------------
    def _caption_inputs(self, images: list[Image.Image]) -> Any:
        prompt = self.config.caption_prompt
        if self.config.caption_protocol == "uae":
            from unified_bench_adapters.uae.config import UAEConfig
            from unified_bench_adapters.uae.encoder import uae_caption_inputs

            limits = UAEConfig()
            inputs = uae_caption_inputs(
                self.processor, images, prompt, min_pixels=limits.min_pixels, max_pixels=limits.max_pixels
            )
        elif getattr(self.processor, "chat_template", None):
            inputs = caption_chat_inputs(self.processor, images, prompt)
        else:  # no chat template (e.g. BLIP-2): the prompt as plain text
            inputs = self.processor(
                images=[reference_rgb(image) for image in images],
                text=[prompt] * len(images),
                padding=True,
                return_tensors="pt",
            )
        inputs = inputs.to(self._caption_device)
        for key, value in inputs.items():
            if torch.is_tensor(value) and torch.is_floating_point(value):
                inputs[key] = value.to(self.dtype)
        return inputs

    @torch.inference_mode()
    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        inputs = self._caption_inputs(images)
        sampling = self.caption_sampling()
        generation_config = greedy_generation_config(
            self.captioner.generation_config, max_new_tokens=self.config.caption_max_new_tokens
        )
        with oom_guard(self.name, "captioning", len(images), device=self.device, hint=_OFFLOAD_HINT):
            output = self.captioner.generate(
                **inputs,
                generation_config=generation_config,
                logits_processor=LogitsProcessorList([PerRowSampler(seeds, sampling)]),
            )
        if not self.captioner.config.is_encoder_decoder:
            output = output[:, inputs["input_ids"].shape[1] :]
        texts = self.processor.batch_decode(output, skip_special_tokens=True)
        return texts if self.config.caption_protocol == "uae" else [text.strip() for text in texts]

    def caption_sampling(self) -> TokenSampling:
        return TokenSampling.for_captions(self.captioner.generation_config, self.config)

    # -- T2I ---------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        width, height = size if size is not None else self.drawing["size"]
        with oom_guard(self.name, "generating", len(prompts), device=self.device, hint=_OFFLOAD_HINT):
            if self.config.batch_denoise:
                images = self._draw(list(prompts), list(seeds), width, height)
            else:
                # One prompt per call: batched kernels round differently, so a batch could move a pixel.
                images = [self._draw([p], [s], width, height)[0] for p, s in zip(prompts, seeds, strict=True)]
        return [image.convert("RGB") for image in images]

    def _draw(self, prompts: list[str], seeds: list[int], width: int | None, height: int | None) -> list[Any]:
        # Each prompt draws its initial noise (and any scheduler noise) from its own CPU generator.
        settings = dict(self.drawing["settings"])
        if "negative_prompt" in settings:
            settings["negative_prompt"] = [settings["negative_prompt"]] * len(prompts)
        call: dict[str, Any] = {
            "prompt": self.drawn_prompts(prompts),
            "generator": [torch.Generator(device="cpu").manual_seed(int(seed)) for seed in seeds],
            **settings,
        }
        size = {"width": width, "height": height}
        call.update({k: v for k, v in size.items() if v is not None and k in self._call_parameters})
        return self.pipeline(**call).images

    def prompt_usage(self, prompts: list[str]) -> list[dict[str, Any]] | None:
        """Per prompt, the tokens each text encoder has and keeps (None for a pipeline of no known family)."""
        if self.family is None:
            return None
        max_sequence_length = self.drawing["settings"].get("max_sequence_length")
        return prompt_usage(self.pipeline, self.family, self.drawn_prompts(prompts), max_sequence_length)

    def drawn_prompts(self, prompts: list[str]) -> list[str]:
        """The prompts as the pipeline gets them: each with the family's card suffix (if any)."""
        return [prompt + self.drawing["prompt_suffix"] for prompt in prompts]

    def info(self) -> dict[str, Any]:
        return {
            "adapter": self.name,
            "captioner": {
                "source": self.config.captioner,
                "class": type(self.captioner).__name__,
                "revision": self.config.captioner_revision,
                "commit": getattr(self.captioner.config, "_commit_hash", None),
            },
            "generator": {
                "source": self.config.generator,
                "class": type(self.pipeline).__name__,
                "revision": self.config.generator_revision,
            },
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "memory_options": self.memory_options,
            "drawing": self.drawing,  # the settings each pipeline call gets, and where they come from
            "caption_sampling": asdict(sampling := self.caption_sampling()),
            "warnings": [w for w in [sampling.greedy_warning("caption")] if w],
            "settings": asdict(self.config),
        }


_OFFLOAD_HINT = "(or --adapter-arg cpu_offload=model)"


def build_composite(options: AdapterOptions) -> CompositeAdapter:
    return CompositeAdapter(
        config_from_args(CompositeConfig, options.args), device=options.device, dtype=options.dtype
    )


def uae_base_args() -> dict[str, str]:
    """``uae-base``: UAE's caption protocol and decoder settings (demo.py) on its two base models.

    The checkpoint's caption sampling (top-k/top-p from its generation_config.json, as UAE's);
    SD3.5-Large at 1024², 40 steps, CFG 5.0, with UAE's negative prompt.
    """
    from unified_bench_adapters.uae.config import NEGATIVE_PROMPT

    return {
        "caption_protocol": "uae",
        "caption_top_k": "none",
        "caption_top_p": "none",
        "width": "1024",
        "height": "1024",
        "num_inference_steps": "40",
        "guidance_scale": "5.0",
        "negative_prompt": NEGATIVE_PROMPT,
    }


def build_uae_base(options: AdapterOptions) -> CompositeAdapter:
    """Factory of ``uae-base``: the composite adapter with UAE's protocol; explicit arguments win."""
    given = {key.replace("-", "_") for key in options.args}
    args = {**{k: v for k, v in uae_base_args().items() if k not in given}, **options.args}
    adapter = CompositeAdapter(
        config_from_args(CompositeConfig, args), device=options.device, dtype=options.dtype
    )
    adapter.name = "uae-base"
    return adapter
