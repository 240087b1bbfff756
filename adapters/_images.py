"""Image conversions shared by the autoregressive (VQ-token) adapters: Janus-Pro and Emu3."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image


def decoded_to_pil(decoded: torch.Tensor, image_processor: Any) -> list[Image.Image]:
    """VQ decoder output (batch, C, H, W), normalised as the processor normalises inputs, as RGB images.

    transformers' own ``postprocess`` for these models fails for PIL output (5.24), hence this. Values
    are clipped and truncated to uint8, as that postprocess and DeepSeek's and BAAI's scripts do (not
    rounded: that would move about half the pixels up one level).
    """
    mean = torch.tensor(image_processor.image_mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(image_processor.image_std, dtype=torch.float32).view(1, -1, 1, 1)
    pixels = ((decoded.float().cpu() * std + mean) * 255).clamp(0, 255).to(torch.uint8)
    return [Image.fromarray(image.permute(1, 2, 0).numpy()).convert("RGB") for image in pixels]


def fit_to_size(image: Image.Image, size: tuple[int, int] | None) -> Image.Image:
    """The model draws at its own resolution; resize only when ``--size`` asks for another."""
    if size is None or image.size == tuple(size):
        return image
    return image.resize(tuple(size), Image.Resampling.BICUBIC)
