"""A leaderboard for tests: the repository's folder, a registry of synthetic runs, forgeries."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from tests._synthetic import DATASET_FINGERPRINT, sample_ids, scorer_fingerprint
from unified_bench.leaderboard import OfficialRegistry
from unified_bench.leaderboard.registry import OfficialBootstrap, OfficialScorer
from unified_bench.results import PAPER_SCORERS
from unified_bench.stats import summarize

REPO_LEADERBOARD = Path(__file__).resolve().parent.parent / "leaderboard"
N = 24


def synthetic_registry(n_samples: int = N) -> OfficialRegistry:
    return OfficialRegistry(
        dataset_name="synthetic",
        n_samples=n_samples,
        dataset_fingerprints=(DATASET_FINGERPRINT,),
        ids=tuple(sample_ids(n_samples)),
        scorers={
            name: OfficialScorer(True, (scorer_fingerprint(name),), value_range=(-1.0, 1.0))
            for name in PAPER_SCORERS
        },
        bootstrap=OfficialBootstrap(n_resamples=1000),  # what tests._synthetic.make_results uses
        notice="Test leaderboard: synthetic numbers.",
    )


def forge(obj, *, ids=None, per_sample=None, bootstrap=None):
    """Rewrite the results with other ids / per-sample scores / bootstrap settings, then recompute every
    aggregate with unified-bench's own ``summarize``, so only the benchmark's rules can catch it."""
    results = obj["results"]
    if ids is not None:
        results["samples"]["ids"] = ids
        results["samples"]["captions"] = {i: "a caption" for i in ids}
    results["bootstrap"].update(bootstrap or {})
    boot = {k: results["bootstrap"][k] for k in ("seed", "n_resamples", "confidence")}
    ids = results["samples"]["ids"]
    for name, scorer in results["scorers"].items():
        scorer["per_sample"] = (per_sample or {}).get(name, scorer["per_sample"])
        values = [scorer["per_sample"][i] for i in ids if i in scorer["per_sample"]]
        scorer.update(asdict(summarize(values, **boot)))
    paper = [results["scorers"][name]["per_sample"] for name in PAPER_SCORERS]
    overall = {i: float(np.mean([p[i] for p in paper])) for i in ids if all(i in p for p in paper)}
    stats = summarize([overall[i] for i in ids if i in overall], **boot)
    results["overall"].update(
        per_sample=overall, n=stats.n, mean=stats.mean, ci_low=stats.ci_low, ci_high=stats.ci_high
    )
