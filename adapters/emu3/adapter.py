"""Emu3 through transformers: two checkpoints of ``Emu3ForConditionalGeneration``, one adapter.

Captions come from Emu3-Chat (chat template with BAAI's system sentence and the image, sampled per
row at the protocol's temperature 0.7; the card decodes greedily). Images come from
Emu3-Gen as the model card draws them: the prompt plus the card's quality suffix, a size header
(``H*W`` in VQ tokens), classifier-free guidance against the card's negative prompt, tokens
constrained to the image layout (H rows of W visual tokens + end-of-line, then EOF, EOI, EOS), sampled
per row, and ``decode_image_tokens`` through the VQ decoder. The VQ tokenizer runs in float32 in both
directions, as BAAI runs its separate VisionTokenizer (``vq.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from PIL import Image
from transformers import Emu3ForConditionalGeneration, Emu3Processor, LogitsProcessor, LogitsProcessorList

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

from .vq import checkpoint_weight_files, install_float32_vq

EMU3_CHAT = "BAAI/Emu3-Chat-hf"
EMU3_GEN = "BAAI/Emu3-Gen-hf"
# From the Emu3 model card (transformers docs, "Image generation inference").
POSITIVE_SUFFIX = " masterpiece, film grained, best quality."
NEGATIVE_PROMPT = (
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, "
    "worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry."
)
DEFAULT_IMAGE_AREA = 720 * 720  # Emu3Processor's default image_area
# BAAI's processing_emu3.py prompts understanding with this sentence before "USER:".
SYSTEM_PROMPT = "You are a helpful assistant."


@dataclass(frozen=True)
class Emu3Config:
    """Settings, each settable with ``--adapter-arg NAME=VALUE``."""

    chat_model: str = EMU3_CHAT  # hub id or local folder: the captioning checkpoint
    gen_model: str = EMU3_GEN  # hub id or local folder: the image generation checkpoint
    revision: str | None = None  # applies to both
    caption_prompt: str = CAPTION_PROMPT
    caption_system_prompt: str = SYSTEM_PROMPT  # BAAI's; "" = no system turn
    caption_max_new_tokens: int = CAPTION_MAX_NEW_TOKENS
    caption_temperature: float = CAPTION_TEMPERATURE  # the protocol's 0.7 (the card: greedy); 0 = greedy
    caption_top_k: int | None = CAPTION_TOP_K  # the protocol's; None: the checkpoint's (else 50); 0 = off
    caption_top_p: float | None = CAPTION_TOP_P  # the protocol's; None: the checkpoint's (else 1.0)
    prompt_suffix: str = POSITIVE_SUFFIX
    negative_prompt: str = NEGATIVE_PROMPT
    guidance_scale: float = 3.0  # Emu3's classifier-free guidance for generation
    image_temperature: float = 1.0
    image_top_k: int | None = 2048  # Emu3's image sampling top-k; None = off
    image_top_p: float | None = None
    cpu_offload: bool = False  # device_map="auto": what does not fit on the GPU stays in CPU RAM
    offload_idle: bool = False  # keep only the model in use on the GPU (the other waits in CPU RAM)
    attn_implementation: str | None = None

    def __post_init__(self) -> None:
        if self.guidance_scale < 1:
            raise ValueError("guidance_scale must be >= 1 (1 = no guidance).")
        if self.caption_max_new_tokens < 1:
            raise ValueError("caption_max_new_tokens must be >= 1.")
        if self.cpu_offload and self.offload_idle:
            raise ValueError("choose cpu_offload or offload_idle, not both.")
        TokenSampling(self.caption_temperature, self.caption_top_k, self.caption_top_p)  # validates
        self.image_sampling()

    def image_sampling(self) -> TokenSampling:
        return TokenSampling(self.image_temperature, self.image_top_k, self.image_top_p)


class ImageLayoutConstraint(LogitsProcessor):
    """Allows, at each step, only the token the Emu3 image layout has there.

    After the prompt (which ends with the image-wrapper token): ``height`` rows of ``width`` visual
    tokens each closed by end-of-line, then end-of-frame, end-of-image, end-of-sequence.
    """

    def __init__(
        self, *, prompt_length: int, height: int, width: int, visual: torch.Tensor, special: dict[str, int]
    ) -> None:
        self.prompt_length, self.height, self.width = prompt_length, height, width
        self.visual, self.special = visual, special
        self._masks: dict[tuple[str, int, torch.device], torch.Tensor] = {}

    def _mask(self, kind: str, vocab_size: int, device: torch.device) -> torch.Tensor:
        key = (kind, vocab_size, device)
        if key not in self._masks:
            mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
            mask[self.visual.to(device) if kind == "visual" else self.special[kind]] = True
            self._masks[key] = mask
        return self._masks[key]

    def allowed(self, step: int, vocab_size: int, device: torch.device) -> torch.Tensor:
        """The tokens allowed at ``step`` (0 = the first generated token), as a boolean mask."""
        grid = self.height * (self.width + 1)
        if step < grid:
            kind = "eol" if (step + 1) % (self.width + 1) == 0 else "visual"
        else:
            kind = ("eof", "eoi", "eos")[min(step - grid, 2)]
        return self._mask(kind, vocab_size, device)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_length
        mask = self.allowed(step, scores.shape[-1], scores.device)
        return scores.masked_fill(~mask, -math.inf)


class Emu3Adapter:
    """``caption`` with Emu3-Chat, ``generate`` with Emu3-Gen."""

    name = "emu3"

    def __init__(self, config: Emu3Config, *, device: str | None = None, dtype: str | None = None) -> None:
        self.config = config
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self._offload = config.cpu_offload and self.device.type != "cpu"
        if self._offload:
            require_package("accelerate", purpose="--adapter-arg cpu_offload=true")
        self.chat_model, self.chat_processor = self._load(config.chat_model, "Emu3 chat", "chat_model")
        self.gen_model, self.gen_processor = self._load(config.gen_model, "Emu3 generation", "gen_model")
        self._active: Emu3ForConditionalGeneration | None = None
        if not self._offload:
            self._activate(self.chat_model)

    def _load(self, source: str, what: str, arg: str) -> tuple[Emu3ForConditionalGeneration, Emu3Processor]:
        kwargs = model_load_kwargs(
            revision=self.config.revision,
            dtype=self.dtype,
            attn_implementation=self.config.attn_implementation,
            offload=self._offload,
        )
        model = load_pretrained(
            Emu3ForConditionalGeneration.from_pretrained, source, what=f"{what} model", arg=arg, **kwargs
        ).eval()
        install_float32_vq(model, checkpoint_weight_files(source, self.config.revision))
        processor = load_pretrained(
            Emu3Processor.from_pretrained,
            source,
            what=f"{what} processor",
            arg=arg,
            revision=self.config.revision,
        )
        processor.tokenizer.padding_side = "left"
        return model, processor

    def _activate(self, model: Emu3ForConditionalGeneration) -> torch.device:
        """Put ``model`` on the device; with ``offload_idle`` the other one goes to CPU RAM first."""
        if self._offload:
            return model.get_input_embeddings().weight.device
        if self._active is not model:
            if self.config.offload_idle and self._active is not None:
                self._active.to("cpu")
            model.to(self.device)
            self._active = model
        return self.device

    # -- I2T ---------------------------------------------------------------------------------------
    @torch.inference_mode()
    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        """Images of one size share a call: the processor pads smaller images to the batch's largest,
        and the VQ encoder's convolutions see that padding, so the edge tokens of a padded image
        (and so its caption) would depend on the batch."""
        groups: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            groups.setdefault(image.size, []).append(index)
        captions: dict[int, str] = {}
        for group in groups.values():
            texts = self._caption_group([images[i] for i in group], [seeds[i] for i in group])
            captions.update(zip(group, texts, strict=True))
        return [captions[index] for index in range(len(images))]

    def _caption_group(self, images: list[Image.Image], seeds: list[int]) -> list[str]:
        device = self._activate(self.chat_model)
        inputs = self.caption_inputs(images).to(device)
        generation_config = greedy_generation_config(
            self.chat_model.generation_config, max_new_tokens=self.config.caption_max_new_tokens
        )
        sampler = PerRowSampler(seeds, self.caption_sampling())
        with oom_guard(self.name, "captioning", len(images), device=self.device):
            output = self.chat_model.generate(
                **inputs, generation_config=generation_config, logits_processor=LogitsProcessorList([sampler])
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        texts = self.chat_processor.batch_decode(new_tokens, skip_special_tokens=True)
        return [text.strip() for text in texts]

    def caption_inputs(self, images: list[Image.Image]) -> Any:
        """The chat as BAAI's processing_emu3.py words it: its system sentence, the image, the instruction."""
        inputs = caption_chat_inputs(
            self.chat_processor,
            images,
            self.config.caption_prompt,
            system=self.config.caption_system_prompt or None,
        )
        inputs["pixel_values"] = inputs["pixel_values"].float()  # the VQ tokenizer's dtype (vq.py)
        return inputs

    def caption_sampling(self) -> TokenSampling:
        return TokenSampling.for_captions(self.chat_model.generation_config, self.config)

    # -- T2I ---------------------------------------------------------------------------------------
    def _generation_size(self, size: tuple[int, int] | None) -> tuple[str, int]:
        if size is None:
            return "1:1", DEFAULT_IMAGE_AREA
        width, height = size
        divisor = math.gcd(width, height)
        return f"{width // divisor}:{height // divisor}", width * height

    def negative_inputs(self, count: int, *, ratio: str, image_area: int) -> Any:
        """The unconditional prompt as BAAI's image_generation.py builds it: in generation mode
        (``mode="G"``): it ends with the prompt's own ``<|image start|>H*W<|image token|>`` header."""
        negative = self.gen_processor(
            text=[self.config.negative_prompt] * count,
            return_for_image_generation=True,
            ratio=ratio,
            image_area=image_area,
            padding=True,
            return_tensors="pt",
        )
        negative.pop("image_sizes")
        return negative

    @torch.inference_mode()
    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        device = self._activate(self.gen_model)
        processor, tokenizer = self.gen_processor, self.gen_processor.tokenizer
        ratio, image_area = self._generation_size(size)
        inputs = processor(
            text=[prompt + self.config.prompt_suffix for prompt in prompts],
            return_for_image_generation=True,
            ratio=ratio,
            image_area=image_area,
            padding=True,
            return_tensors="pt",
        )
        height, width = (int(v) for v in inputs.pop("image_sizes")[0])
        inputs = inputs.to(device)
        negative = self.negative_inputs(len(prompts), ratio=ratio, image_area=image_area).to(device)
        prompt_length = inputs["input_ids"].shape[1]
        layout = ImageLayoutConstraint(
            prompt_length=prompt_length,
            height=height,
            width=width,
            visual=torch.tensor(self.gen_model.vocabulary_mapping.image_tokens, dtype=torch.long),
            special={
                "eol": self.gen_model.vocabulary_mapping.eol_token_id,
                "eof": tokenizer.convert_tokens_to_ids(tokenizer.eof_token),
                "eoi": tokenizer.convert_tokens_to_ids(tokenizer.eoi_token),
                "eos": tokenizer.eos_token_id,
            },
        )
        generation_config = greedy_generation_config(
            self.gen_model.generation_config,
            max_new_tokens=height * (width + 1) + 3,
            guidance_scale=self.config.guidance_scale,
        )
        sampler = PerRowSampler(seeds, self.config.image_sampling())
        with oom_guard(self.name, "generating", len(prompts), device=self.device):
            output = self.gen_model.generate(
                **inputs,
                generation_config=generation_config,
                logits_processor=LogitsProcessorList([layout, sampler]),
                negative_prompt_ids=negative["input_ids"],
                negative_prompt_attention_mask=negative["attention_mask"],
            )
            # One row at a time: a batched VQ decode differs in the last bits, and so in rounded pixels.
            decoded = torch.cat(
                [
                    self.gen_model.decode_image_tokens(image_tokens=row[None], height=height, width=width)
                    for row in output[:, prompt_length:]
                ]
            )
        return [fit_to_size(image, size) for image in decoded_to_pil(decoded, processor.image_processor)]

    def info(self) -> dict[str, Any]:
        return {
            "adapter": self.name,
            "checkpoints": {"caption": self.config.chat_model, "generate": self.config.gen_model},
            "note": "two checkpoints: Emu3-Chat captions, Emu3-Gen draws",
            "revision": self.config.revision,
            "commits": {
                "caption": getattr(self.chat_model.config, "_commit_hash", None),
                "generate": getattr(self.gen_model.config, "_commit_hash", None),
            },
            "dtype": str(self.dtype).removeprefix("torch."),
            "vq_dtype": "float32",
            "device": str(self.device),
            "caption_sampling": asdict(sampling := self.caption_sampling()),
            "caption_decoding": caption_decoding_note(self.config.caption_temperature, "greedy"),
            "warnings": [w for w in [sampling.greedy_warning("caption")] if w],
            "settings": asdict(self.config),
        }


def build_emu3(options: AdapterOptions) -> Emu3Adapter:
    return Emu3Adapter(config_from_args(Emu3Config, options.args), device=options.device, dtype=options.dtype)
