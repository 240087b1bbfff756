"""``compare --recommend-n``: how many samples each gated row needs for 80% power."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unified_bench.compare.checks import (
    _check_gate,
    _check_per_sample_table,
    _check_sample_ids,
    _pair_ids,
    _paired_values,
)
from unified_bench.compare.gate import compare_paths
from unified_bench.compare.types import CompareSettings
from unified_bench.errors import UserError
from unified_bench.results import Results, read_results
from unified_bench.stats import DEFAULT_POWER, recommended_sample_size
from unified_bench.store import RESULTS_FILE


# -- sizing --limit ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleSizeAdvice:
    """How many samples a gated row needs to find ``effect`` with 80% power."""

    scorer: str
    effect: float
    sd: float  # assumed spread of the paired differences
    source: str  # where ``sd`` comes from
    n: int | None  # None: more than 10^6

    def line(self, alpha: float) -> str:
        from unified_bench.stats import choose_paired_test

        if self.n is None:
            return (
                f"{self.scorer}: no n up to 10^6 detects {self.effect:g} (sd {self.sd:.4f}, {self.source})."
            )
        return (
            f"{self.scorer}: --limit {self.n} for {DEFAULT_POWER:.0%} power to detect {self.effect:g} at "
            f"alpha {alpha:g} ({choose_paired_test(self.n)} test; sd {self.sd:.4f} from {self.source})."
        )


def recommend_sample_sizes(
    baseline: str | Path,
    candidates: Sequence[str | Path],
    effect: float,
    *,
    settings: CompareSettings | None = None,
) -> list[SampleSizeAdvice]:
    """``compare --recommend-n EFFECT``: the n each gated row needs for 80% power at ``effect``.

    The spread of the paired differences comes from, best first: the candidates' paired differences;
    for a baseline made with ``run --repeats K``, the difference of its first two seeds (seed noise
    only, divided by sqrt(K) as both sides average K seeds: a lower bound, so n is a minimum); else the
    baseline's per-sample sd (the paired sd when baseline and candidate correlate at 0.5 per image;
    checkpoints of one model correlate more, so this usually overstates n).

    Raises:
        UserError: ``effect`` <= 0; bad input as in ``compare_results``.
    """
    settings = settings or CompareSettings()
    if not effect > 0:
        raise UserError(f"--recommend-n {effect}: give the effect to detect, > 0, in the scorer's units.")

    def advice(scorer: str, sd: float, source: str) -> SampleSizeAdvice:
        n = recommended_sample_size(effect, sd, alpha=settings.row_alpha)
        return SampleSizeAdvice(scorer, effect, sd, source, n)

    if candidates:
        report = compare_paths(baseline, candidates, settings=settings)
        return [
            advice(row.scorer, row.sd_difference, f"the paired differences with {comparison.candidate}")
            for comparison in report.comparisons
            for row in comparison.rows
            if row.role == "gate"
        ]
    base_results = read_results(baseline)
    label = str(baseline)
    _check_sample_ids(base_results, label)
    _check_gate(base_results, base_results, settings.gate, (label, label))
    seeds = _first_two_repeats(Path(baseline), base_results)
    result = []
    for scorer in settings.gate:
        if seeds is not None:
            first, second, k = seeds
            labels = (
                f"{baseline}/{base_results.repeats['runs'][0]}",
                f"{baseline}/{base_results.repeats['runs'][1]}",
            )
            ids, _ = _pair_ids(first, second, labels, allow_partial=True)
            a, b, _ = _paired_values(first, second, scorer, ids, labels, allow_partial=True)
            sd = float((b - a).std(ddof=1)) / math.sqrt(k)
            result.append(
                advice(scorer, sd, f"the seed noise between {labels[0]} and {labels[1]} / sqrt({k})")
            )
            continue
        scores = np.array(list(_check_per_sample_table(base_results, scorer, label).values()))
        sd = float(scores.std(ddof=1)) if scores.size > 1 else 0.0
        result.append(
            advice(scorer, sd, f"{label}'s per-sample scores, assuming correlation 0.5 with the candidate")
        )
    return result


def _first_two_repeats(run_dir: Path, results: Results) -> tuple[Results, Results, int] | None:
    """The first two seeds of a ``run --repeats K`` folder and K, or None for a single run."""
    if not results.repeats or not run_dir.is_dir():
        return None
    first, second = (run_dir / name for name in results.repeats["runs"][:2])
    if not (first / RESULTS_FILE).is_file() or not (second / RESULTS_FILE).is_file():
        return None
    return read_results(first), read_results(second), int(results.repeats["k"])
