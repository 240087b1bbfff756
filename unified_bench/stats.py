"""Summary statistics of per-sample scores: mean, spread and a seeded bootstrap interval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Aggregates of one score over the samples that have it."""

    n: int
    mean: float
    std: float
    min: float
    max: float
    ci_low: float
    ci_high: float


def bootstrap_mean_ci(
    values: Sequence[float],
    *,
    seed: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean: resample with replacement ``n_resamples`` times.

    Deterministic for a given ``seed`` and order of ``values``.

    >>> low, high = bootstrap_mean_ci([0.1, 0.2, 0.3, 0.4], seed=0)
    >>> 0.1 <= low <= 0.25 <= high <= 0.4
    True
    """
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError("bootstrap needs a non-empty 1-D sequence")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    rng = np.random.Generator(np.random.PCG64(seed))
    # Resample in chunks so 10k x 100k samples never materialises one huge index matrix.
    means = np.empty(n_resamples, dtype=np.float64)
    chunk = max(1, 2_000_000 // data.size)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        indices = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[indices].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def summarize(
    values: Sequence[float],
    *,
    seed: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Summary:
    """Mean, sample std (ddof=1; 0 for one value), min, max and the bootstrap interval of the mean."""
    data = np.asarray(values, dtype=np.float64)
    low, high = bootstrap_mean_ci(data, seed=seed, n_resamples=n_resamples, confidence=confidence)
    return Summary(
        n=int(data.size),
        mean=float(data.mean()),
        std=float(data.std(ddof=1)) if data.size > 1 else 0.0,
        min=float(data.min()),
        max=float(data.max()),
        ci_low=low,
        ci_high=high,
    )
