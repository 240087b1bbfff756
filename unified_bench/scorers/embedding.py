"""What the transformers image encoders share: placement, preprocessing ids, batched embedding.

Each image is preprocessed by the model's own image processor. The default is the PIL backend
(``*ImageProcessorPil`` in transformers 5), which is what the official Unified-Bench scripts ran
under transformers 4.50 (the "slow" processors); the torchvision backend is an opt-in speed option
and shows up in the fingerprint, because its resizing is not bit-identical.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from unified_bench.scorers.base import EmbeddingScorer
from unified_bench.scorers.registry import BuildContext
from unified_bench.scorers.weights import ResolvedWeights, config_digest
from unified_bench.torch_utils import resolve_device, resolve_dtype


def placement(context: BuildContext) -> tuple[torch.device, torch.dtype]:
    """The device and compute dtype a context asks for; float32 on every device unless asked.

    The official scripts ran CLIP, DINOv2 and DINOv3 in float32 with PyTorch's default precision
    flags (which we never change), so that is the default on a GPU too; ``--dtype bfloat16`` is an
    opt-in speed option and shows up in the fingerprint.
    """
    device = resolve_device(context.device)
    if context.dtype in (None, "auto"):
        return device, torch.float32
    return device, resolve_dtype(context.dtype, device)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def preprocessing_id(processor: Any) -> str:
    """``ClassName#digest`` of every setting of a transformers image processor."""
    settings = {k: v for k, v in processor.to_dict().items() if not k.startswith("_")}
    return f"{type(processor).__name__}#{config_digest(settings)}"


def image_processor_class(classes: dict[str, type], backend: str) -> type:
    """The processor class for ``backend``; models with a single official backend ignore the choice."""
    return classes.get(backend) or next(iter(classes.values()))


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide transformers' per-file progress bars while a scorer loads (the caller shows its own)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


_TORCH_RESAMPLE = {2: "bilinear", 3: "bicubic"}  # PIL resample codes image processors store


def tensor_pixel_values(pixels: torch.Tensor, processor: Any) -> torch.Tensor:
    """A transformers image processor's resize / centre-crop / normalise, on float tensors in [0, 1].

    Differentiable (antialiased bicubic or bilinear interpolation). ``size`` is either
    ``shortest_edge`` (aspect kept, as the processor's PIL path computes the long side) or
    ``height``/``width``.
    """
    if getattr(processor, "do_resize", False):
        size = dict(processor.size)
        height, width = pixels.shape[-2:]
        if "shortest_edge" in size:
            short, long = sorted((height, width))
            target_short = size["shortest_edge"]
            target_long = int(target_short * long / short)
            new_size = (target_short, target_long) if height <= width else (target_long, target_short)
        else:
            new_size = (size["height"], size["width"])
        mode = _TORCH_RESAMPLE.get(int(getattr(processor, "resample", 3)), "bicubic")
        pixels = F.interpolate(pixels, size=new_size, mode=mode, align_corners=False, antialias=True)
    if getattr(processor, "do_center_crop", False):
        crop = dict(processor.crop_size)
        height, width = pixels.shape[-2:]
        top, left = (height - crop["height"]) // 2, (width - crop["width"]) // 2
        pixels = pixels[..., top : top + crop["height"], left : left + crop["width"]]
    if getattr(processor, "do_normalize", False):
        mean = torch.tensor(processor.image_mean, device=pixels.device, dtype=pixels.dtype).view(1, -1, 1, 1)
        std = torch.tensor(processor.image_std, device=pixels.device, dtype=pixels.dtype).view(1, -1, 1, 1)
        pixels = (pixels - mean) / std
    return pixels


def rgb(images: list[Image.Image]) -> list[Image.Image]:
    return [image if image.mode == "RGB" else image.convert("RGB") for image in images]


class TransformersImageEmbedder(EmbeddingScorer):
    """A transformers vision model + its image processor; subclasses pick the feature."""

    def __init__(
        self,
        model: torch.nn.Module,
        processor: Any,
        *,
        weights: ResolvedWeights,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.model = model.eval()
        self.processor = processor
        self.weights = weights
        self.device = torch.device(device)
        self.dtype = dtype

    @abstractmethod
    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Model forward -> one global feature per image ``[N, D]`` (not yet normalised)."""

    def fingerprint(self) -> str:
        return (
            f"{self.name}:{self.weights.model_id}@sha256:{self.weights.short_sha}:"
            f"{preprocessing_id(self.processor)}:{dtype_name(self.dtype)}"
        )

    def pixel_values(self, images: list[Image.Image]) -> torch.Tensor:
        """Preprocess a batch exactly as the model's image processor does."""
        return self.prepare(images).to(self.device, self.dtype)

    def prepare(self, images: list[Image.Image]) -> torch.Tensor:
        """The image processor's ``pixel_values`` on the CPU (pinned for a fast copy to a GPU)."""
        pixel_values = self.processor(images=rgb(images), return_tensors="pt")["pixel_values"]
        return pixel_values.pin_memory() if self.device.type == "cuda" else pixel_values

    def embed_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        return self._embed_pixel_values(prepared.to(self.device, self.dtype, non_blocking=True))

    def embed(self, images: list[Image.Image]) -> torch.Tensor:
        return self._embed_pixel_values(self.pixel_values(images))

    def _embed_pixel_values(self, pixel_values: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            features = self.features(pixel_values)
        return F.normalize(features.float(), dim=-1).cpu()

    def embed_tensor(self, pixels: torch.Tensor) -> torch.Tensor:
        pixel_values = tensor_pixel_values(pixels.float(), self.processor)
        features = self.features(pixel_values.to(self.device, self.dtype))
        return F.normalize(features.float(), dim=-1)
