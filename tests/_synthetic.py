"""Synthetic results built through the real ``build_results``: known per-sample scores, no model.

Used by the compare, leaderboard, report and browser tests; the statistics under test see exactly
what a run would write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from unified_bench.results import PAPER_SCORERS, Results, build_results, write_results

DATASET_FINGERPRINT = "sha256:" + hashlib.sha256(b"synthetic dataset").hexdigest()
PIXEL_SCORER = "lpips"  # lower is better


def scorer_fingerprint(name: str, weights: str = "official") -> str:
    return f"{name}:test/{name}@sha256:{hashlib.sha256(weights.encode()).hexdigest()[:16]}:pp:float32"


def sample_ids(n: int) -> list[str]:
    return [f"img{i:03d}" for i in range(n)]


def base_scores(n: int, seed: int, scorers=(*PAPER_SCORERS, PIXEL_SCORER)) -> dict[str, np.ndarray]:
    """Per-sample scores with realistic spread: cosine-like in [0.4, 0.95], lpips in [0.2, 0.7]."""
    rng = np.random.default_rng(seed)
    difficulty = rng.uniform(0.0, 1.0, n)  # shared across scorers, like real images
    scores = {}
    for name in scorers:
        if name == PIXEL_SCORER:
            scores[name] = 0.2 + 0.5 * difficulty + rng.normal(0, 0.03, n)
        else:
            scores[name] = 0.95 - 0.5 * difficulty + rng.normal(0, 0.03, n)
    return scores


def make_results(
    scores: Mapping[str, np.ndarray | list[float]],
    *,
    ids: list[str] | None = None,
    dataset_fingerprint: str = DATASET_FINGERPRINT,
    protocol: str | None = "text",
    fingerprints: Mapping[str, str] | None = None,
    model: str = "synthetic",
    n_resamples: int = 1000,
    bootstrap_seed: int = 0,
) -> Results:
    n = len(next(iter(scores.values())))
    ids = ids or sample_ids(n)
    fingerprints = dict(fingerprints or {})
    meta = {name: (fingerprints.get(name, scorer_fingerprint(name)), name != PIXEL_SCORER) for name in scores}
    return build_results(
        ids=ids,
        scores={name: dict(zip(ids, map(float, values), strict=True)) for name, values in scores.items()},
        scorer_meta=meta,
        dataset={
            "name": "synthetic",
            "fingerprint": dataset_fingerprint,
            "n_total": n,
            "n_selected": n,
            "limit": None,
            "shard": None,
        },
        protocol=protocol,
        model={"name": model, "adapter_args": {}, "info": {}},
        captions={i: f"a photo number {i}" for i in ids},
        bootstrap_seed=bootstrap_seed,
        n_resamples=n_resamples,
    )


def second_run(tmp_path, samples, results, shift: dict[str, float]):
    """Run B: run A's scores plus a known per-sample shift, same images."""
    ids = results.samples["ids"]
    scores = {
        name: [summary.per_sample[i] + shift.get(i, 0.0) for i in ids]
        for name, summary in results.scorers.items()
    }
    fingerprints = {name: s.fingerprint for name, s in results.scorers.items()}
    b = make_results(
        scores, ids=ids, dataset_fingerprint=results.dataset["fingerprint"], fingerprints=fingerprints
    )
    b = replace(
        b, dataset=results.dataset, samples={**b.samples, "captions": {i: f"B says {i}" for i in ids}}
    )
    folder = tmp_path / "run-b"
    (folder / "images").mkdir(parents=True)
    for sample in samples.samples:
        sample.image.resize((64, 64)).rotate(90).save(folder / "images" / f"{sample.id}.png")
    write_results(folder / "results.json", b)
    return folder, b
