"""UAE's understanding half: Qwen2.5-VL (+ Stage-2 LoRA) captions images and encodes text for SD3."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.nn.utils.rnn import pad_sequence
from transformers import AutoProcessor, LogitsProcessorList, SuppressTokensLogitsProcessor
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

from unified_bench.errors import InputError, MissingWeightsError
from unified_bench.images import reference_rgb

from .config import UAEConfig
from .modeling import LEGACY_KEY_MAPPING, Qwen2_5_VLWithProjector, release_multimodal_position_ids
from .sampling import PerSampleGumbelSampler, SamplingSettings
from .weights import LoraLoadReport, attach_llm_lora, canonical_key, load_projector

# qwen-vl-utils' `fetch_image` limits: demo.py resizes with them before the processor resizes again.
_QWEN_VL_UTILS_MIN_PIXELS = 4 * 28 * 28
_QWEN_VL_UTILS_MAX_PIXELS = 16384 * 28 * 28


class UAEEncoder:
    """Qwen2.5-VL with projector: ``caption`` (I2T) and ``project_pair`` (text -> SD3 prompt embeddings)."""

    def __init__(
        self,
        model: Qwen2_5_VLWithProjector,
        processor: Any,
        config: UAEConfig,
        *,
        processor_source: str,
        lora_report: LoraLoadReport | None,
    ) -> None:
        self.model = model
        self.processor = processor
        self.config = config
        self.processor_source = processor_source
        self.lora_report = lora_report
        self.device = next(model.parameters()).device
        self.sampling = SamplingSettings.resolve(
            model.generation_config,
            do_sample=config.do_sample,
            temperature=config.temperature,
            top_k=config.top_k,
            top_p=config.top_p,
            max_new_tokens=config.max_new_tokens,
        )
        # Decoding is greedy over Gumbel-perturbed logits (see sampling.py); the checkpoint's other
        # settings (EOS ids, repetition penalty...) stay in force.
        model.generation_config = self.sampling.greedy_generation_config(model.generation_config)
        self.pad_token_id = processor.tokenizer.pad_token_id

    @classmethod
    def load(
        cls,
        llm_dir: Path,
        processor_source: str,
        config: UAEConfig,
        *,
        llm_lora: Path | None,
        projector: Path | None,
        device: torch.device,
        dtype: torch.dtype,
    ) -> UAEEncoder:
        """Load ``llm_model/``, then the LoRA and projector overrides, then the processor."""
        model, loading = Qwen2_5_VLWithProjector.from_pretrained(
            str(llm_dir), dtype=dtype, key_mapping=LEGACY_KEY_MAPPING, output_loading_info=True
        )
        # Cast before the LoRA goes in: it is kept in float32 (see weights.attach_llm_lora).
        model.to(device=device, dtype=dtype).eval()
        # transformers initialises absent tensors at random; demo.py's later loads may fill them.
        unfilled = {canonical_key(name) for name in loading["missing_keys"]}
        lora_report = attach_llm_lora(model, llm_lora) if llm_lora is not None else None
        if lora_report is not None:
            unfilled -= lora_report.loaded
        if projector is not None:
            unfilled -= load_projector(model, projector)
        if unfilled:
            examples = ", ".join(sorted(unfilled)[:3])
            raise MissingWeightsError(
                f"{llm_dir}: no weights for {len(unfilled)} encoder tensors (e.g. {examples}); the "
                "checkpoint is incomplete or saved under tensor names this adapter does not know."
            )
        processor = load_release_processor(processor_source)
        processor.tokenizer.padding_side = "left"
        return cls(model, processor, config, processor_source=processor_source, lora_report=lora_report)

    def info(self) -> dict[str, Any]:
        return {
            "class": type(self.model).__name__,
            "processor": self.processor_source,
            "image_processor": type(self.processor.image_processor).__name__,
            "projector_dims": list(self.model.projector_dims),
            "llm_lora": self.lora_report.as_dict() if self.lora_report else None,
            "sampling": asdict(self.sampling),
        }

    # --- I2T -----------------------------------------------------------------------------------

    def caption(self, images: Sequence[Image.Image], seeds: Sequence[int]) -> list[str]:
        """Caption ``images``; ``seeds[i]`` alone decides the sampling of ``images[i]``.

        With ``batch_invariant`` each image gets its own ``generate`` call; otherwise all share one
        left-padded call (same distribution, bits may differ with the batch).
        """
        if self.config.batch_invariant:
            return [
                self._caption_batch([image], [seed])[0] for image, seed in zip(images, seeds, strict=True)
            ]
        return self._caption_batch(list(images), list(seeds))

    def caption_inputs(self, images: Sequence[Image.Image]) -> Any:
        """Processor outputs for captioning ``images`` (left-padded), on the model's device."""
        return uae_caption_inputs(
            self.processor,
            images,
            self.config.caption_prompt,
            min_pixels=self.config.min_pixels,
            max_pixels=self.config.max_pixels,
        ).to(self.device)

    def caption_answer_inputs(self, image: Image.Image, answer: str) -> tuple[Any, torch.Tensor]:
        """The captioning chat with ``answer`` as the assistant's reply, and a mask of the reply tokens.

        For training on caption tokens with the image in context (the cold-start stage): the
        inputs are ``caption_inputs([image])`` followed by ``answer`` and ``<|im_end|>`` (what SFT
        labels cover); the mask ``[1, L]`` is true on those reply tokens.
        """
        prompt = self.caption_inputs([image])
        reply = self.processor.tokenizer(answer + "<|im_end|>", add_special_tokens=False, return_tensors="pt")
        reply_ids = reply["input_ids"].to(self.device)
        inputs = dict(prompt)
        inputs["input_ids"] = torch.cat([prompt["input_ids"], reply_ids], dim=1)
        inputs["attention_mask"] = torch.cat([prompt["attention_mask"], torch.ones_like(reply_ids)], dim=1)
        if "mm_token_type_ids" in inputs:
            reply_types = torch.zeros_like(reply_ids, dtype=inputs["mm_token_type_ids"].dtype)
            inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], reply_types], dim=1)
        reply_mask = torch.zeros_like(inputs["input_ids"], dtype=torch.bool)
        reply_mask[:, prompt["input_ids"].shape[1] :] = True
        return inputs, reply_mask

    def placeholder_token_ids(self) -> list[int]:
        """Image/video placeholder tokens: never part of a caption (a random model samples them, and
        Qwen would expect image features for them when the caption is read back, as g4u does)."""
        config = self.model.config
        names = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
        return [getattr(config, name) for name in names]

    def caption_warpers(self, settings: SamplingSettings) -> LogitsProcessorList:
        """What the sampler applies to ``generate``'s scores before the Gumbel draw: placeholder
        tokens banned, then ``settings``' warpers (temperature, top-k, top-p, min-p)."""
        return LogitsProcessorList(
            [SuppressTokensLogitsProcessor(self.placeholder_token_ids()), *settings.warpers()]
        )

    @torch.inference_mode()
    def _caption_batch(self, images: list[Image.Image], seeds: list[int]) -> list[str]:
        inputs = self.caption_inputs(images)
        logits_processor = LogitsProcessorList()
        if self.sampling.do_sample:
            logits_processor.append(PerSampleGumbelSampler(seeds, self.caption_warpers(self.sampling)))
        generated = self.model.generate(**inputs, logits_processor=logits_processor)
        new_tokens = generated[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)

    # --- text -> SD3 conditioning -------------------------------------------------------------

    def generate_role_ids(self, texts: Sequence[str]) -> torch.Tensor:
        """Ids of ``texts``, each wrapped in the ``generate`` role, right-padded to one length: ``[B, L]``.

        Padded positions are kept by the caller (as demo.py does); ``ids.ne(pad_token_id)`` is the mask.
        """
        return pad_sequence(
            [self._chat_ids(text) for text in texts], batch_first=True, padding_value=self.pad_token_id
        ).to(self.device)

    def _chat_ids(self, text: str) -> torch.Tensor:
        messages = [{"role": self.config.generate_role, "content": [{"type": "text", "text": text}]}]
        prompt = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.processor.tokenizer.encode(prompt, return_tensors="pt")[0]

    @torch.inference_mode()
    def project_native_pair(self, image: Image.Image, caption: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(negative, positive)`` embeddings ``[L, D]`` for the ``native`` protocol.

        The positive is the projected states of the caption's tokens computed with the image in
        context (the cold-start code's conditioning), the negative the usual ``generate``-role
        negative prompt. The shorter side is right-padded with pad tokens (attention mask 0, states
        kept), as demo.py pads its text pair, so ``L`` depends on this sample alone.
        """
        negative_ids = self.generate_role_ids([self.config.negative_prompt])
        inputs, reply_mask = self.caption_answer_inputs(image, caption)
        length = max(negative_ids.shape[1], int(reply_mask.sum()))
        inputs, reply_mask = _right_pad(inputs, reply_mask, length - int(reply_mask.sum()), self.pad_token_id)
        negative_ids = torch.nn.functional.pad(
            negative_ids, (0, length - negative_ids.shape[1]), value=self.pad_token_id
        )
        negative = self.model.get_projected_embeddings(
            input_ids=negative_ids, attention_mask=negative_ids.ne(self.pad_token_id)
        )[0]
        keys = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw", "mm_token_type_ids")
        model_inputs = {k: inputs[k] for k in keys if k in inputs}
        if "mm_token_type_ids" in model_inputs:  # else transformers computes no M-RoPE positions at all
            model_inputs["position_ids"] = release_multimodal_position_ids(self.model.model, model_inputs)
        hidden = self.model.model(**model_inputs).last_hidden_state
        positive = self.model.projector(hidden[reply_mask])
        return negative, positive

    @torch.inference_mode()
    def project_pair(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(negative, positive)`` prompt embeddings ``[L, D]`` for one prompt, as demo.py computes them.

        The negative and positive token ids are right-padded to the longer of the two and encoded as
        one batch; padded positions are kept (demo.py passes them to SD3 too). ``L`` therefore depends
        on this prompt alone.
        """
        ids = self.generate_role_ids([self.config.negative_prompt, prompt])
        embeddings = self.model.get_projected_embeddings(
            input_ids=ids, attention_mask=ids.ne(self.pad_token_id)
        )
        return embeddings[0], embeddings[1]


def uae_caption_inputs(
    processor: Any, images: Sequence[Image.Image], prompt: str, *, min_pixels: int, max_pixels: int
) -> Any:
    """UAE's caption protocol (demo.py) for a Qwen2.5-VL processor: the model inputs, left-padded.

    One user turn, the instruction text, then the image; each image is first composited on white and
    rounded to the patch grid as qwen-vl-utils does, then resized by the processor to
    [min_pixels, max_pixels]. ``uae`` and ``uae-base`` both caption through this.
    """
    messages = [{"role": "user", "content": [{"type": "text", "text": prompt}, {"type": "image"}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    image_processor = processor.image_processor
    factor = image_processor.patch_size * image_processor.merge_size
    return processor(
        text=[text] * len(images),
        images=[_qwen_vl_utils_resize(image, factor) for image in images],
        size={"shortest_edge": min_pixels, "longest_edge": max_pixels},
        padding=True,
        return_tensors="pt",
    )


def _qwen_vl_utils_resize(image: Image.Image, factor: int) -> Image.Image:
    """demo.py's ``process_vision_info`` step: alpha on white, size rounded to the patch grid (bicubic)."""
    width, height = image.size
    try:
        new_height, new_width = smart_resize(
            height,
            width,
            factor=factor,
            min_pixels=_QWEN_VL_UTILS_MIN_PIXELS,
            max_pixels=_QWEN_VL_UTILS_MAX_PIXELS,
        )
    except ValueError as error:
        raise InputError(
            f"image of {width}x{height} pixels cannot be captioned by Qwen2.5-VL: {error}"
        ) from None
    return reference_rgb(image).resize((new_width, new_height), Image.Resampling.BICUBIC)


def load_release_processor(processor_source: str) -> Any:
    """Qwen2.5-VL's processor with the PIL ("slow") image processor, the one demo.py ran under 4.50.

    transformers 5 resolves ``AutoProcessor`` to the torchvision backend, whose resizing differs from
    PIL's by up to about one grey level; the settings (pixel limits, mean/std) come from the same file.
    """
    from transformers import Qwen2VLImageProcessorPil

    image_processor = Qwen2VLImageProcessorPil.from_pretrained(processor_source)
    return AutoProcessor.from_pretrained(processor_source, image_processor=image_processor)


def _right_pad(
    inputs: dict[str, torch.Tensor], reply_mask: torch.Tensor, count: int, pad_token_id: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Append ``count`` pad tokens (attention 0) to a one-row chat and count them as reply tokens."""
    if count <= 0:
        return inputs, reply_mask
    inputs = dict(inputs)
    pads = torch.full(
        (1, count), pad_token_id, dtype=inputs["input_ids"].dtype, device=inputs["input_ids"].device
    )
    inputs["input_ids"] = torch.cat([inputs["input_ids"], pads], dim=1)
    inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.zeros_like(pads)], dim=1)
    if "mm_token_type_ids" in inputs:
        types = torch.zeros_like(pads, dtype=inputs["mm_token_type_ids"].dtype)
        inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], types], dim=1)
    return inputs, torch.cat([reply_mask, torch.ones_like(pads, dtype=torch.bool)], dim=1)
