"""Worked example of docs/extending.md: a dataset made in code, with a reference caption per image.

Six striped images (two colours each), built in memory, so the dataset is the same on every machine
(same ids, same bytes, same fingerprint). A dataset on disk needs no code at all: a folder of images
or a JSONL manifest (``{"id", "image", "captions"}`` per line) is passed as ``--dataset PATH``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from unified_bench.datasets import Dataset, Sample, make_dataset

COLOURS = {"red": (200, 30, 30), "green": (30, 160, 60), "blue": (30, 60, 200)}


def stripes(top: str, bottom: str, side: int = 32) -> Image.Image:
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    canvas[: side // 2], canvas[side // 2 :] = COLOURS[top], COLOURS[bottom]
    return Image.fromarray(canvas)


def load_stripes(cache_root: Path | None = None) -> Dataset:
    """A named loader's signature: ``cache_root`` is where a downloading loader would keep its files."""
    samples = [
        Sample.from_image(f"{top}-over-{bottom}", stripes(top, bottom), captions=(f"{top} above {bottom}",))
        for top in COLOURS
        for bottom in COLOURS
        if top != bottom
    ]
    return make_dataset("stripes", samples, source="docs/examples/stripes_dataset.py")
