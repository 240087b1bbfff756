"""Outputs another tool wrote (captions.jsonl + images/), for the ``precomputed`` adapter."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from unified_bench.datasets import load_dataset

IDS = [sample.id for sample in load_dataset("samples").samples]  # the bundled samples


def outputs_folder(root: Path) -> Path:
    """Captions and images for every bundled sample, as another tool would have written them."""
    (root / "images").mkdir(parents=True)
    lines = []
    for index, sample_id in enumerate(IDS):
        Image.new("RGB", (20, 16), (30 * index, 90, 255 - 25 * index)).save(
            root / "images" / f"{sample_id}.png"
        )
        lines.append(json.dumps({"id": sample_id, "caption": f"picture number {index}"}))
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return root
