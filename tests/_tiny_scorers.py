"""Shared test helpers for scorers: tiny checkpoints (built once per session), images, items.

Import the fixtures into a test module to use them:
``from tests._tiny_scorers import fresh_cache, tiny_specs``. Never name a fixture here after one in
tests/conftest.py: an imported fixture shadows the conftest one for the whole module.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unified_bench.images import png_bytes
from unified_bench.scoring import ScoringItem


@pytest.fixture(scope="session")
def tiny_specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``{scorer name: path}`` of the tiny random-weight checkpoints, in a session temp cache."""
    from unified_bench.scorers.tiny import ensure_tiny_scorer_weights

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path_factory.mktemp("tiny-scorers-cache")))
        return ensure_tiny_scorer_weights()


@pytest.fixture
def fresh_cache(isolated_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``$UNIFIED_BENCH_CACHE`` at an empty folder for one test (on top of conftest's isolation)."""
    root = tmp_path / "unified-bench-cache"
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(root))
    return root


def random_images(count: int, *, size: tuple[int, int] = (48, 40), seed: int = 0) -> list[Image.Image]:
    """``count`` RGB noise images of ``size`` (width, height), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    width, height = size
    return [Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)) for _ in range(count)]


def image_sha(image: Image.Image) -> str:
    return hashlib.sha256(png_bytes(image)).hexdigest()


def make_items(count: int, *, seed: int = 0, captions: bool = True) -> list[ScoringItem]:
    references = random_images(count, seed=100)  # the dataset: the same references for every "model"
    reconstructions = random_images(count, size=(56, 56), seed=seed)
    return [
        ScoringItem(
            id=f"sample-{i}",
            reference=ref,
            reference_sha256=image_sha(ref),
            reconstruction=rec,
            reconstruction_sha256=image_sha(rec),
            caption=f"the cat and dog number {i}" if captions else None,
            reference_captions=(f"a cat and a dog number {i}",) if i % 2 == 0 else None,
        )
        for i, (ref, rec) in enumerate(zip(references, reconstructions, strict=True))
    ]
