"""What is compared, and bad input that is never a verdict.

Which rows two results can share (the gate first), whether they measured the same thing (images,
protocol, scorer weights), and the per-sample values paired by id: duplicate or empty ids, empty
tables, non-finite scores and partial overlap (without ``allow_partial``) raise ``UserError``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from unified_bench.compare.types import ComparisonRefused
from unified_bench.errors import InputError
from unified_bench.results import OVERALL, Results
from unified_bench.scorers.registry import INFORMATIONAL_SCORERS


# -- what is compared ----------------------------------------------------------------------------
def _per_sample(results: Results, scorer: str) -> dict[str, float] | None:
    if scorer == OVERALL:
        return results.overall.per_sample if results.overall is not None else None
    summary = results.scorers.get(scorer)
    return summary.per_sample if summary is not None else None


def _higher_is_better(results: Results, scorer: str) -> bool:
    return True if scorer == OVERALL else results.scorers[scorer].higher_is_better


def _available(results: Results) -> set[str]:
    return set(results.scorers) | ({OVERALL} if results.overall is not None else set())


def check_comparable(
    baseline: Results, candidate: Results, scorers: Sequence[str], labels: tuple[str, str]
) -> None:
    """Refuse (one line) when the two results measured different things.

    Raises:
        ComparisonRefused: different directions, tasks, dataset fingerprints, protocols, or scorer
            fingerprints.
    """
    from unified_bench.directions import direction_of

    base_label, cand_label = labels
    base_direction, cand_direction = direction_of(baseline.direction), direction_of(candidate.direction)
    if base_direction != cand_direction:
        raise ComparisonRefused(
            f"{base_label} is a {base_direction} run, {cand_label} a {cand_direction} run; the two "
            "directions measure different things and are never compared."
        )
    base_task = (baseline.task or {}).get("name")
    cand_task = (candidate.task or {}).get("name")
    if base_task != cand_task:
        raise ComparisonRefused(
            f"{base_label} ran task {base_task!r}, {cand_label} task {cand_task!r}; compare runs of one task."
        )
    base_fp, cand_fp = baseline.dataset["fingerprint"], candidate.dataset["fingerprint"]
    if base_fp != cand_fp:
        raise ComparisonRefused(
            f"{base_label} and {cand_label} were scored on different images (dataset fingerprints "
            f"{base_fp[:19]}… vs {cand_fp[:19]}…); compare runs of the same dataset."
        )
    if baseline.protocol != candidate.protocol:
        raise ComparisonRefused(
            f"{base_label} used protocol {baseline.protocol!r}, {cand_label} {candidate.protocol!r}; "
            "text and native round trips are never compared."
        )
    for scorer in scorers:
        names = (
            [scorer] if scorer != OVERALL else list(baseline.overall.components if baseline.overall else [])
        )
        for name in names:
            base, cand = baseline.scorers.get(name), candidate.scorers.get(name)
            if base is None or cand is None:
                continue
            if base.fingerprint != cand.fingerprint or base.higher_is_better != cand.higher_is_better:
                raise ComparisonRefused(
                    f"scorer {name!r} differs: {base.fingerprint} in {base_label} vs {cand.fingerprint} in "
                    f"{cand_label}; rescore both with the same weights (--scorer {name}=MODEL)."
                )
    if OVERALL in scorers and baseline.overall and candidate.overall:
        base_c, cand_c = baseline.overall.components, candidate.overall.components
        if base_c != cand_c:
            raise ComparisonRefused(
                f"overall averages {'+'.join(base_c)} in {base_label} but {'+'.join(cand_c)} in "
                f"{cand_label}; compare single scorers with --scorer NAME."
            )


def _check_gate(baseline: Results, candidate: Results, gate: Sequence[str], labels: tuple[str, str]) -> None:
    """Every gated scorer must be in both runs, and ``overall`` must average the same scorers."""
    for name in gate:
        if name in INFORMATIONAL_SCORERS:
            raise ComparisonRefused(
                f"--gate {name}: informational (no better direction), it cannot gate; choose a scorer."
            )
        for results, label in zip((baseline, candidate), labels, strict=True):
            if name in _available(results):
                continue
            if name == OVERALL:
                raise ComparisonRefused(
                    f"{label}: no 'overall' score (it needs a paper scorer: clip, dinov2, dinov3, "
                    "longclip); rescore with them or gate on other scorers with --gate NAME."
                )
            known = ", ".join(sorted(_available(results))) or "(none)"
            raise ComparisonRefused(
                f"{label}: no {name!r} scores, which the gate needs (scorers there: {known}); rescore "
                f"with --scorer {name} or choose the gate with --gate NAME."
            )
    if OVERALL in gate:
        base_c, cand_c = baseline.overall.components, candidate.overall.components
        for components, others, label in ((base_c, cand_c, labels[1]), (cand_c, base_c, labels[0])):
            missing = [name for name in components if name not in others]
            if missing:
                raise ComparisonRefused(
                    f"{label}: no {missing[0]!r} scores, so its 'overall' (the gate) averages "
                    f"{'+'.join(others)}, not {'+'.join(components)}; rescore it with every paper scorer "
                    "or gate on single scorers with --gate NAME."
                )


def _select_scorers(
    baseline: Results,
    candidate: Results,
    requested: Sequence[str] | None,
    gate: Sequence[str],
    labels: tuple[str, str],
) -> tuple[list[str], list[str]]:
    """(rows to compare: gated first, then secondary with ``overall`` first; secondary scorers skipped)."""
    _check_gate(baseline, candidate, gate, labels)
    both = _available(baseline) & _available(candidate)
    skipped: list[str] = []
    if requested:
        for name in requested:
            if name not in both:
                where = labels[0] if name not in _available(baseline) else labels[1]
                common = ", ".join(sorted(both)) or "(none)"
                raise ComparisonRefused(f"--scorer {name}: not in {where}; scorers in both: {common}.")
        secondary = [name for name in dict.fromkeys(requested) if name not in gate]
    else:
        informational = both & set(INFORMATIONAL_SCORERS)
        secondary = sorted(both - informational - set(gate), key=lambda s: (s != OVERALL, s))
        skipped = [
            f"{name} (in one run only)"
            for name in sorted((_available(baseline) | _available(candidate)) - both)
        ]
        skipped += [f"{name} (informational: no better direction)" for name in sorted(informational)]
        if OVERALL in secondary and baseline.overall.components != candidate.overall.components:
            secondary.remove(OVERALL)  # averages of different scorers: not comparable, say so
            skipped.append("overall (averages different scorers)")
    return [*gate, *secondary], skipped


# -- bad input: never a verdict ------------------------------------------------------------------
def _check_sample_ids(results: Results, label: str) -> None:
    ids = results.samples["ids"]
    if not ids:
        raise InputError(f"{label}: no sample ids (samples.ids is empty); rescore the run.")
    counts = Counter(ids)
    repeated = next((i for i in ids if counts[i] > 1), None)
    if repeated is not None:
        raise InputError(
            f"{label}: sample id {repeated!r} is listed {counts[repeated]} times in samples.ids; each image "
            "must be scored once (a bad merge or an edited file): rescore the run."
        )


def _check_per_sample_table(results: Results, scorer: str, label: str) -> dict[str, float]:
    table = _per_sample(results, scorer) or {}
    if not table:
        raise InputError(
            f"{label}: the per-sample table of {scorer!r} is empty; compare needs every per-sample "
            "score: rescore the run."
        )
    ordered = [*(i for i in results.samples["ids"] if i in table), *(i for i in table)]
    for sample_id in ordered:
        value = table[sample_id]
        if not math.isfinite(value):
            raise InputError(
                f"{label}: {scorer!r} of sample {sample_id!r} is {value} (not a finite number); rescore "
                "that sample: compare never turns NaN or infinity into a verdict."
            )
    return table


def _pair_ids(
    baseline: Results, candidate: Results, labels: tuple[str, str], allow_partial: bool
) -> tuple[list[str], tuple[int, int]]:
    """(ids in both runs in baseline order, (ids only in the baseline, only in the candidate)).

    Partial overlap needs ``allow_partial``.
    """
    base_ids, cand_ids = baseline.samples["ids"], candidate.samples["ids"]
    base_set, cand_set = set(base_ids), set(cand_ids)
    paired = [i for i in base_ids if i in cand_set]
    only_base = [i for i in base_ids if i not in cand_set]
    only_cand = [i for i in cand_ids if i not in base_set]
    if not paired:
        raise ComparisonRefused(f"{labels[0]} and {labels[1]} share no sample id; nothing to pair.")
    if (only_base or only_cand) and not allow_partial:
        first = (
            f"first missing: {only_base[0]!r}"
            if only_base
            else f"first not in the baseline: {only_cand[0]!r}"
        )
        raise InputError(
            f"{labels[1]}: its sample ids differ from {labels[0]}'s ({len(only_base)} of the baseline's "
            f"{len(base_ids)} missing, {len(only_cand)} extra; {first}); score the same images (same "
            f"--limit/--shard) or pass --allow-partial to compare the {len(paired)} shared ids."
        )
    return paired, (len(only_base), len(only_cand))


def _paired_values(
    baseline: Results,
    candidate: Results,
    scorer: str,
    paired_ids: Sequence[str],
    labels: tuple[str, str],
    allow_partial: bool,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(baseline values, candidate values, ids scored in one run only) for the ids both runs list."""
    base = _check_per_sample_table(baseline, scorer, labels[0])
    cand = _check_per_sample_table(candidate, scorer, labels[1])
    one_sided = [i for i in paired_ids if (i in base) != (i in cand)]
    if one_sided and not allow_partial:
        first = one_sided[0]
        lacking, other = (labels[1], labels[0]) if first in base else (labels[0], labels[1])
        raise InputError(
            f"{lacking}: no {scorer!r} score for sample {first!r}, which {other} scored "
            f"({len(one_sided)} such ids); rescore it or pass --allow-partial to compare the shared ids."
        )
    ids = [i for i in paired_ids if i in base and i in cand]
    if len(ids) < 2:
        raise InputError(
            f"{labels[0]} and {labels[1]}: {len(ids)} sample(s) with a {scorer!r} score in both; a paired "
            "test needs at least 2."
        )
    return np.array([base[i] for i in ids]), np.array([cand[i] for i in ids]), len(one_sided)
