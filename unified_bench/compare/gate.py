"""The comparison: paired tests per row, Holm within the gated and the secondary rows, verdicts, power."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unified_bench.compare.checks import (
    _check_sample_ids,
    _higher_is_better,
    _pair_ids,
    _paired_values,
    _select_scorers,
    check_comparable,
)
from unified_bench.compare.types import (
    CompareReport,
    CompareSettings,
    Comparison,
    Role,
    ScorerComparison,
    Verdict,
)
from unified_bench.errors import UserError
from unified_bench.results import Results, read_results
from unified_bench.stats import (
    DEFAULT_POWER,
    bootstrap_mean_ci,
    holm_adjust,
    minimum_detectable_effect,
    paired_test_p_value,
    recommended_sample_size,
    smallest_n_reaching,
    smallest_p_value,
)


def _verdict(
    difference: float, p_adjusted: float, higher_is_better: bool, settings: CompareSettings
) -> Verdict:
    if p_adjusted >= settings.alpha or abs(difference) < settings.min_effect:
        return "tied"
    improved = difference > 0 if higher_is_better else difference < 0
    return "better" if improved else "worse"


# -- the comparison ------------------------------------------------------------------------------
def compare_results(
    baseline: Results,
    candidate: Results,
    *,
    scorers: Sequence[str] | None = None,
    settings: CompareSettings | None = None,
    labels: tuple[str, str] = ("baseline", "candidate"),
) -> Comparison:
    """Compare ``candidate`` with ``baseline``: the gated rows decide, the other rows are reported.

    Args:
        scorers: secondary rows to compare (``overall`` allowed); default every scorer both runs have.
        settings: the gate, alpha, min effect, bootstrap size and seed, correction, ``allow_partial``.
        labels: how the two runs are named in messages and reports.

    Raises:
        InputError: duplicate or empty ids, an empty per-sample table, a non-finite score, id sets
            that differ (without ``allow_partial``).
        ComparisonRefused: different datasets, protocols or scorer weights; a gated scorer missing.
    """
    settings = settings or CompareSettings()
    for results, label in zip((baseline, candidate), labels, strict=True):
        _check_sample_ids(results, label)
    chosen, skipped = _select_scorers(baseline, candidate, scorers, settings.gate, labels)
    check_comparable(baseline, candidate, chosen, labels)
    paired_ids, (only_base, only_cand) = _pair_ids(baseline, candidate, labels, settings.allow_partial)
    n_unpaired = only_base + only_cand
    notes = []
    if n_unpaired:
        notes.append(
            f"--allow-partial: compared the {len(paired_ids)} shared sample ids, dropped {n_unpaired} "
            f"({only_base} only in the baseline, {only_cand} only in the candidate)."
        )
    values, tests, p_values = {}, {}, {}
    for scorer in chosen:
        base_values, cand_values, one_sided = _paired_values(
            baseline, candidate, scorer, paired_ids, labels, settings.allow_partial
        )
        if one_sided:
            notes.append(f"--allow-partial: {scorer} dropped {one_sided} ids scored in only one run.")
        values[scorer] = (base_values, cand_values)
        test, p = paired_test_p_value(cand_values - base_values)
        tests[scorer], p_values[scorer] = test, float(p)
    adjusted: dict[str, float] = {}
    for family in ([s for s in chosen if s in settings.gate], [s for s in chosen if s not in settings.gate]):
        family_p = [p_values[s] for s in family]
        family_adjusted = holm_adjust(family_p) if settings.correction == "holm" else family_p
        adjusted.update(zip(family, family_adjusted, strict=True))
    rows = [
        _row(scorer, *values[scorer], tests[scorer], p_values[scorer], adjusted[scorer], baseline, settings)
        for scorer in chosen
    ]
    gate_can_fail, warnings = _power_warnings(rows, settings)
    return Comparison(
        baseline=labels[0],
        candidate=labels[1],
        baseline_model=(baseline.model or {}).get("name"),
        candidate_model=(candidate.model or {}).get("name"),
        n_paired=len(paired_ids),
        n_unpaired=n_unpaired,
        rows=rows,
        skipped=skipped,
        warnings=[*warnings, *notes],
        gate_can_fail=gate_can_fail,
    )


def _row(
    scorer: str,
    base_values: np.ndarray,
    cand_values: np.ndarray,
    test: str,
    p_value: float,
    p_adjusted: float,
    baseline: Results,
    settings: CompareSettings,
) -> ScorerComparison:
    differences = cand_values - base_values
    difference = float(differences.mean())
    sd = float(differences.std(ddof=1))
    role: Role = "gate" if scorer in settings.gate else "secondary"
    low, high = bootstrap_mean_ci(
        differences, seed=settings.seed, n_resamples=settings.n_resamples, confidence=settings.confidence
    )
    higher = _higher_is_better(baseline, scorer)
    return ScorerComparison(
        scorer=scorer,
        higher_is_better=higher,
        role=role,
        n=differences.size,
        baseline_mean=float(base_values.mean()),
        candidate_mean=float(cand_values.mean()),
        difference=difference,
        ci_low=low,
        ci_high=high,
        test=test,
        p_value=p_value,
        p_adjusted=p_adjusted,
        sd_difference=sd,
        mde=minimum_detectable_effect(sd, differences.size, alpha=settings.row_alpha)
        if role == "gate"
        else None,
        verdict=_verdict(difference, p_adjusted, higher, settings),
    )


def _power_warnings(rows: Sequence[ScorerComparison], settings: CompareSettings) -> tuple[bool, list[str]]:
    """(can any gated row reach alpha at its n, one line per power problem of the gated rows)."""
    gated = [row for row in rows if row.role == "gate"]
    alpha, row_alpha = settings.alpha, settings.row_alpha
    per_rows = f" / {len(gated)} gated rows" if row_alpha < alpha else ""
    can_fail = any(smallest_p_value(row.n) < row_alpha for row in gated)
    if not can_fail:
        n = min(row.n for row in gated)
        return False, [
            f"n = {n} cannot reach alpha {alpha:g}{per_rows}: the exact sign-flip test's smallest p is "
            f"2/2^{n} = {smallest_p_value(n):.3g}, so this gate can never fail; use --limit "
            f"{smallest_n_reaching(row_alpha)} or more (docs/ci-gating.md)."
        ]
    warnings = []
    for row in gated:
        if settings.min_effect <= 0 or row.mde is None or row.mde <= settings.min_effect:
            continue
        needed = recommended_sample_size(settings.min_effect, row.sd_difference, alpha=row_alpha)
        advice = f"--limit {needed} would" if needed else "no --limit up to 10^6 would"
        detects = (
            f"detects changes of about {row.mde:.4f} with {DEFAULT_POWER:.0%} power"
            if math.isfinite(row.mde)
            else f"cannot reach alpha {alpha:g}{per_rows}"
        )
        warnings.append(
            f"{row.scorer}: at n = {row.n} the gate {detects} (paired differences sd "
            f"{row.sd_difference:.4f}), so it cannot detect --min-effect {settings.min_effect:g}; "
            f"{advice} (docs/ci-gating.md)."
        )
    return True, warnings


def compare_paths(
    baseline: str | Path,
    candidates: Sequence[str | Path],
    *,
    scorers: Sequence[str] | None = None,
    settings: CompareSettings | None = None,
) -> CompareReport:
    """``unified-bench compare``: read each results file (or run dir) and compare every candidate.

    Raises:
        InputError / SchemaVersionError: a file that is not a readable results file, or bad input.
        ComparisonRefused: see ``compare_results``.
    """
    settings = settings or CompareSettings()
    if not candidates:
        raise UserError("compare: give a baseline and at least one candidate (results.json or run folder).")
    base_results = read_results(baseline)
    comparisons = [
        compare_results(
            base_results,
            read_results(candidate),
            scorers=scorers,
            settings=settings,
            labels=(str(baseline), str(candidate)),
        )
        for candidate in candidates
    ]
    return CompareReport(settings=settings, comparisons=comparisons)
