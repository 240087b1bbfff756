"""Paired comparison of two results files: does the candidate regress on the pre-declared gate?

Both runs score the same images, so scores are paired by sample id and the unit of analysis is the
per-sample difference ``d = candidate - baseline``. The analysis plan is fixed before any number is
seen (docs/ci-gating.md):

* the **gate** (``overall`` by default, ``--gate NAME`` to change it) decides the exit code; with one
  gated row there is no multiplicity, with several the Holm adjustment runs across the gated rows only;
* every other row is **secondary**: mean difference, interval and p (Holm across the secondary rows)
  are shown, and fail the job only with ``--fail-on any``;
* per row the test is chosen by n (``unified_bench.stats.choose_paired_test``), the mean difference
  gets a seeded paired bootstrap interval, and each gated row says the smallest effect it can detect;
* ``better``/``worse`` needs p (adjusted) < ``alpha`` and ``|mean d| >= min_effect``; direction comes
  from each scorer's ``higher_is_better`` (lower LPIPS is better).

Bad input is never a verdict: duplicate or empty ids, empty per-sample tables, non-finite scores,
partially overlapping ids (unless ``allow_partial``) and a gated scorer missing from either run raise
``UserError`` (exit 2), naming the file and the first offending id or scorer. Comparisons across
datasets, scorer weights or protocols are refused.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from unified_bench.errors import InputError, UserError
from unified_bench.results import OVERALL, RESULTS_FILE, Results, read_results
from unified_bench.scorers.registry import INFORMATIONAL_SCORERS
from unified_bench.stats import (
    DEFAULT_POWER,
    DEFAULT_RESAMPLES,
    bootstrap_mean_ci,
    holm_adjust,
    minimum_detectable_effect,
    paired_test_p_value,
    recommended_sample_size,
    sign_flip_p_value,
    smallest_n_reaching,
    smallest_p_value,
)

__all__ = [
    "CompareReport",
    "CompareSettings",
    "Comparison",
    "ComparisonRefused",
    "ScorerComparison",
    "compare_paths",
    "compare_results",
    "holm_adjust",
    "recommend_sample_sizes",
    "sign_flip_p_value",
    "to_markdown",
]

Verdict = Literal["better", "worse", "tied"]
Role = Literal["gate", "secondary"]
FailOn = Literal["regression", "any", "never"]
FAIL_ON_CHOICES: tuple[str, ...] = ("regression", "any", "never")
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_EFFECT = 0.005
DEFAULT_GATE: tuple[str, ...] = (OVERALL,)
EXIT_PASS, EXIT_FAIL, EXIT_NO_VERDICT = 0, 1, 2


class ComparisonRefused(UserError):
    """The two results cannot be compared (different images, scorer weights or protocol)."""


@dataclass(frozen=True)
class ScorerComparison:
    """One row: a scorer (or ``overall``) compared over the paired samples."""

    scorer: str
    higher_is_better: bool
    role: Role
    n: int
    baseline_mean: float
    candidate_mean: float
    difference: float  # mean(candidate - baseline), in the scorer's units
    ci_low: float
    ci_high: float
    test: str  # see unified_bench.stats.choose_paired_test
    p_value: float
    p_adjusted: float  # Holm within the row's family (gated rows, or secondary rows)
    sd_difference: float  # spread of the paired differences (ddof=1)
    mde: float | None  # gated rows: smallest mean difference found with 80% power (inf: never)
    verdict: Verdict


@dataclass(frozen=True)
class Comparison:
    """A candidate against the baseline: gated rows first, then secondary rows."""

    baseline: str
    candidate: str
    baseline_model: str | None
    candidate_model: str | None
    n_paired: int
    n_unpaired: int  # ids in only one run, dropped (only ever non-zero with allow_partial)
    rows: list[ScorerComparison]
    skipped: list[str] = field(default_factory=list)  # secondary scorers present in only one run
    warnings: list[str] = field(default_factory=list)  # power: one line each
    gate_can_fail: bool = True  # False: no gated row can reach alpha at its n

    @property
    def regressed(self) -> bool:
        return any(row.verdict == "worse" for row in self.rows if row.role == "gate")

    @property
    def changed(self) -> bool:
        return any(row.verdict != "tied" for row in self.rows)


@dataclass(frozen=True)
class CompareSettings:
    alpha: float = DEFAULT_ALPHA
    min_effect: float = DEFAULT_MIN_EFFECT
    confidence: float = 0.95
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    correction: Literal["holm", "none"] = "holm"
    gate: tuple[str, ...] = DEFAULT_GATE  # the pre-declared primary endpoint(s)
    allow_partial: bool = False  # compare the shared ids when the id sets differ

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise UserError(f"--alpha {self.alpha}: must be between 0 and 1 (e.g. 0.05).")
        if not self.min_effect >= 0.0:
            raise UserError(f"--min-effect {self.min_effect}: must be >= 0 (in the scorer's units).")
        if not 0.0 < self.confidence < 1.0:
            raise UserError(f"confidence {self.confidence}: must be between 0 and 1.")
        if self.n_resamples < 100:
            raise UserError(
                f"n_resamples {self.n_resamples}: use at least 100 (default {DEFAULT_RESAMPLES})."
            )
        if not self.gate:
            raise UserError("--gate: name at least one scorer to gate on (default: overall).")
        object.__setattr__(self, "gate", tuple(dict.fromkeys(self.gate)))

    @property
    def row_alpha(self) -> float:
        """The level one gated row must reach alone: the first Holm step over the gated rows."""
        return self.alpha / len(self.gate) if self.correction == "holm" else self.alpha


@dataclass(frozen=True)
class CompareReport:
    """Every candidate against the baseline, plus the settings that produced the verdicts."""

    settings: CompareSettings
    comparisons: list[Comparison]

    @property
    def regressed(self) -> bool:
        return any(c.regressed for c in self.comparisons)

    @property
    def gate_can_fail(self) -> bool:
        return all(c.gate_can_fail for c in self.comparisons)

    def exit_code(self, fail_on: FailOn = "regression") -> int:
        """0 pass, 1 the gate fails, 2 no verdict (the gate cannot reach alpha at this n).

        The gate fails on a gated regression (``regression``) or any significant change in any row
        (``any``); ``never`` always passes. Bad input raises ``UserError`` before this is asked.
        """
        if fail_on not in FAIL_ON_CHOICES:
            raise UserError(f"--fail-on {fail_on}: use one of {', '.join(FAIL_ON_CHOICES)}.")
        if fail_on == "never":
            return EXIT_PASS
        if not self.gate_can_fail:
            return EXIT_NO_VERDICT
        if fail_on == "regression":
            return EXIT_FAIL if self.regressed else EXIT_PASS
        return EXIT_FAIL if any(c.changed for c in self.comparisons) else EXIT_PASS

    def headline(self, fail_on: FailOn = "regression") -> str:
        """The verdict in one line: what the gate decided and why."""
        gate = ", ".join(self.settings.gate)
        code = self.exit_code(fail_on)
        if not self.gate_can_fail and fail_on != "never":
            n = min(row.n for c in self.comparisons for row in c.rows if row.role == "gate")
            return (
                f"⚠️ no verdict: the gate ({gate}) cannot fail at n = {n} "
                f"(alpha {self.settings.alpha:g}); exit {code}"
            )
        if self.regressed:
            return f"❌ significant regression on the gate ({gate}); exit {code}"
        if code == EXIT_FAIL:
            return f"❌ significant change (--fail-on any); exit {code}"
        return f"✅ no significant regression on the gate ({gate}); exit {code}"

    def to_json(self, fail_on: FailOn = "regression") -> dict[str, Any]:
        return _json_safe(self._to_json(fail_on))

    def _to_json(self, fail_on: FailOn) -> dict[str, Any]:
        return {
            "verdict": self.headline(fail_on),
            "exit_code": self.exit_code(fail_on),
            "settings": asdict(self.settings),
            "regressed": self.regressed,
            "comparisons": [
                {**asdict(c), "regressed": c.regressed, "changed": c.changed} for c in self.comparisons
            ],
        }


def _json_safe(value: Any) -> Any:
    """Infinity (an MDE that cannot be reached) becomes null: JSON has no infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def _verdict(
    difference: float, p_adjusted: float, higher_is_better: bool, settings: CompareSettings
) -> Verdict:
    if p_adjusted >= settings.alpha or abs(difference) < settings.min_effect:
        return "tied"
    improved = difference > 0 if higher_is_better else difference < 0
    return "better" if improved else "worse"


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
        ComparisonRefused: different dataset fingerprints, protocols, or scorer fingerprints.
    """
    base_label, cand_label = labels
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
        skipped = sorted((_available(baseline) | _available(candidate)) - both)
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


# -- rendering -----------------------------------------------------------------------------------
_VERDICT_MARK = {"better": "🟢 better", "worse": "🔴 worse", "tied": "⚪ tied"}


def format_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_difference(row: ScorerComparison) -> str:
    return f"{row.difference:+.4f} [{row.ci_low:+.4f}, {row.ci_high:+.4f}]"


def format_mde(row: ScorerComparison) -> str:
    if row.mde is None:
        return "—"
    return f"{row.mde:.4f}" if math.isfinite(row.mde) else "∞ (cannot fail)"


def scorer_label(row: ScorerComparison) -> str:
    return row.scorer if row.higher_is_better else f"{row.scorer} (lower is better)"


def p_label(settings: CompareSettings) -> str:
    return "p (Holm)" if settings.correction == "holm" else "p"


def to_markdown(report: CompareReport, fail_on: FailOn = "regression") -> str:
    """A summary for a pull-request comment or ``$GITHUB_STEP_SUMMARY``; its first line is the verdict."""
    settings = report.settings
    lines = [f"## unified-bench compare: {report.headline(fail_on)}", ""]
    for comparison in report.comparisons:
        models = ""
        if comparison.baseline_model or comparison.candidate_model:
            models = f" ({comparison.baseline_model} → {comparison.candidate_model})"
        lines += [f"> ⚠️ {warning}" for warning in comparison.warnings]
        if comparison.warnings:
            lines.append("")
        lines += [
            f"**Baseline** `{comparison.baseline}` vs **candidate** `{comparison.candidate}`{models}, "
            f"{comparison.n_paired} paired samples",
            "",
            f"| role | scorer | baseline | candidate | Δ mean [95% CI] | {p_label(settings)} | test | "
            "MDE (80%) | verdict |",
            "|---|---|---:|---:|---:|---:|---|---:|---|",
        ]
        for row in comparison.rows:
            name = f"**{scorer_label(row)}**" if row.role == "gate" else scorer_label(row)
            lines.append(
                f"| {row.role} | {name} | {row.baseline_mean:.4f} | {row.candidate_mean:.4f} | "
                f"{format_difference(row)} | {format_p(row.p_adjusted)} | {row.test} | {format_mde(row)} | "
                f"{_VERDICT_MARK[row.verdict]} |"
            )
        if comparison.skipped:
            lines += ["", f"> Not compared (in one run only): {', '.join(comparison.skipped)}."]
        lines.append("")
    lines.append(f"<sub>{method_note(settings)} Made by `unified-bench compare`.</sub>")
    return "\n".join(lines) + "\n"


def method_note(settings: CompareSettings) -> str:
    """How the numbers were made, in one paragraph (markdown footer, table caption)."""
    correction = "Holm-adjusted within" if settings.correction == "holm" else "unadjusted, for"
    return (
        f"Paired by sample id; Δ = candidate − baseline with a {settings.confidence:.0%} paired bootstrap "
        f"interval ({settings.n_resamples} resamples, seed {settings.seed}). "
        f"Gate: {', '.join(settings.gate)}; p is {correction} the gated rows and, separately, the "
        "secondary rows. Test by n: exact sign-flip "
        "(n ≤ 16), paired t (n ≥ 17). A row is better/worse when p < "
        f"{settings.alpha:g} and |Δ| ≥ {settings.min_effect:g}; only gated rows fail the job (secondary "
        "rows too with --fail-on any). MDE: the change a gated row finds with 80% power."
    )
