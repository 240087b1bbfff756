"""Helpers for the Unified-GRPO training tests: tiny configs, a small manifest, a stage context.

Everything runs on uae-tiny (UAE's classes at toy sizes, seeded random weights) and the tiny
random scorers, built once per test session into the session cache.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module", autouse=False)
def single_torch_thread() -> Iterator[None]:
    """One intra-op thread for the module (restored after): on toy models, and on a CPU shared with
    other jobs, a second spinning thread costs up to 10x more than it saves."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


QUIET = {"eval_every": 0, "save_every": 0, "report_to": ["none"], "log_every": 1}


@contextmanager
def cache_env(cache: Path) -> Iterator[None]:
    """The session cache and offline hub for fixtures wider than a test (the autouse fixture is per test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UNIFIED_BENCH_CACHE", str(cache))
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.delenv("WORLD_SIZE", raising=False)
        patch.delenv("RANK", raising=False)
        yield


def write_manifest(folder: Path, count: int = 2, size: int = 48, seed: int = 0) -> Path:
    """``count`` smooth random images with one caption each, as a JSONL manifest."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    words = ["a red cat", "two blue cups", "a green tree by a lake", "a yellow car at night"]
    lines = []
    for index in range(count):
        base = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((size, size), Image.Resampling.BICUBIC)
        image.save(folder / f"img{index}.png")
        caption = f"{words[index % len(words)]}, photo number {index}"
        lines.append(json.dumps({"id": f"img{index}", "image": f"img{index}.png", "captions": [caption]}))
    manifest = folder / "train.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def tiny_config(stage: str, **overrides: Any):
    """The shipped ``tiny-STAGE`` config with test-friendly overrides (no eval, no saving, no backends)."""
    from unified_bench_adapters.uae.train.config import load_config

    config = load_config(stage, f"tiny-{stage}")
    return dataclasses.replace(config, **{**QUIET, **overrides})


def trainable_state(context) -> dict[str, Any]:
    return {name: p.detach().clone() for name, p in context.policy.trainable_named_parameters()}


@contextmanager
def preserved(context, stage=None) -> Iterator[None]:
    """Run a block that trains, then put back everything it can change, even when it fails: trainable
    weights, optimizer (Adam moments, step counts) and scheduler state, the step counter, the
    gradients, and the stage's config (tests swap it with ``dataclasses.replace``)."""
    import torch

    weights = trainable_state(context)
    optimizer = copy.deepcopy(context.optimizer.state_dict())
    scheduler = copy.deepcopy(context.lr_scheduler.state_dict())
    steps = context.optimizer_steps
    config = context.config
    try:
        yield
    finally:
        with torch.no_grad():
            for name, parameter in context.policy.trainable_named_parameters():
                parameter.copy_(weights[name])
        context.optimizer.load_state_dict(optimizer)
        context.lr_scheduler.load_state_dict(scheduler)
        context.optimizer_steps = steps
        context.optimizer.zero_grad(set_to_none=True)
        context.config = config
        if stage is not None:
            stage.config = config


def welch_p_value(first: Sequence[float], last: Sequence[float], *, alternative: str) -> float:
    """One-sided Welch t-test of ``last`` against ``first`` (``greater``: last's mean is higher)."""
    from scipy.stats import ttest_ind

    return float(ttest_ind(last, first, equal_var=False, alternative=alternative).pvalue)
