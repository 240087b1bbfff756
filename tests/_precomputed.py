"""Outputs another tool wrote (captions.jsonl + images/), for the ``precomputed`` adapter."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from PIL import Image

from unified_bench.datasets import load_dataset

IDS = [sample.id for sample in load_dataset("samples").samples]  # the bundled samples


def outputs_folder(root: Path, captions: Mapping[str, str] | None = None) -> Path:
    """Captions and images as another tool would have written them: ``captions`` by id (default:
    every bundled sample, captioned ``picture number I``), one flat-colour image each."""
    if captions is None:
        captions = {sample_id: f"picture number {index}" for index, sample_id in enumerate(IDS)}
    (root / "images").mkdir(parents=True)
    lines = []
    for index, (sample_id, caption) in enumerate(captions.items()):
        Image.new("RGB", (20, 16), (30 * index, 90, 255 - 25 * index)).save(
            root / "images" / f"{sample_id}.png"
        )
        lines.append(json.dumps({"id": sample_id, "caption": caption}))
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return root
