"""Worked example of docs/extending.md: a model adapter, its config and its manifest.

The "model" captions an image with the mean colour of its horizontal bands and draws a caption back
as those bands, so the round trip is exact for striped images and lossy for photos. It also shows
one optional capability, ``prompt_usage`` (``ReportsPromptUsage``): its "text encoder" reads at most
``max_words`` words of a caption.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from unified_bench.adapter import AdapterManifest, AdapterOptions, config_from_args

# The registry imports nothing but this manifest until the adapter is used.
MANIFEST = AdapterManifest(
    name="banded",
    factory="docs.examples.banded_adapter:build",
    config="docs.examples.banded_adapter:BandedConfig",  # --adapter-arg is checked against it
    description="Worked example: captions the mean colour of horizontal bands and draws them back.",
    gpu_memory_gb=0.0,
)


@dataclass(frozen=True)
class BandedConfig:
    bands: int = 2  # --adapter-arg bands=3
    max_words: int = 12  # what the generator reads of a caption


class BandedAdapter:
    def __init__(self, config: BandedConfig) -> None:
        self.config = config

    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        return [self._describe(image) for image in images]

    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        width, height = size or (64, 64)
        return [self._draw(prompt, width, height) for prompt in prompts]

    def info(self) -> dict[str, Any]:
        return {"adapter": "banded", "bands": self.config.bands, "max_words": self.config.max_words}

    def prompt_usage(self, prompts: list[str]) -> list[dict[str, Any]]:
        """Optional (``ReportsPromptUsage``): how much of each caption the generator read."""
        usage = []
        for prompt in prompts:
            words = len(prompt.split())
            kept = min(words, self.config.max_words)
            usage.append({"words": {"tokens": words, "kept": kept, "truncated": kept < words}})
        return usage

    def _describe(self, image: Image.Image) -> str:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
        bands = np.array_split(pixels, self.config.bands)  # top to bottom
        means = [band.reshape(-1, 3).mean(axis=0).round() for band in bands]
        return "; ".join("band {} {} {}".format(*(int(v) for v in mean)) for mean in means)

    def _draw(self, prompt: str, width: int, height: int) -> Image.Image:
        read = " ".join(prompt.split()[: self.config.max_words])
        found = re.findall(r"band (\d+) (\d+) (\d+)", read)
        colours = [tuple(map(int, rgb)) for rgb in found] or [(128, 128, 128)]
        canvas = np.zeros((height, width, 3), dtype=np.uint8)
        for colour, rows in zip(colours, np.array_split(np.arange(height), len(colours)), strict=True):
            canvas[rows] = colour
        return Image.fromarray(canvas)


def build(options: AdapterOptions) -> BandedAdapter:
    """The factory the manifest names: ``AdapterOptions`` in, an adapter out."""
    return BandedAdapter(config_from_args(BandedConfig, options.args))
