"""Paired comparison of two results files: is the candidate better, worse, or tied with the baseline?

Both runs score the same images, so scores are paired by sample id and the unit of analysis is the
per-sample difference ``d = candidate - baseline``. For each scorer (and ``overall``):

* the mean difference and its seeded percentile bootstrap interval (resampling samples, i.e. pairs);
* a two-sided paired sign-flip permutation test of ``mean(d) = 0`` (exact for small n);
* Holm-adjusted p-values across the rows of one comparison, so looking at eight scorers does not
  turn noise into a regression eight times as often;
* a verdict: ``better``/``worse`` when the adjusted p-value is below ``alpha`` and the mean
  difference is at least ``min_effect`` (in the scorer's own units), else ``tied``. Direction comes
  from each scorer's ``higher_is_better`` (lower LPIPS is better).

Runs made with ``--repeats`` store per-sample means over their seeds, so comparing them uses every
repeat. Comparisons across datasets, scorer weights or protocols are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from unified_bench.errors import UserError
from unified_bench.results import Results, read_results
from unified_bench.scorers.registry import INFORMATIONAL_SCORERS
from unified_bench.stats import bootstrap_mean_ci

OVERALL = "overall"
Verdict = Literal["better", "worse", "tied"]
FailOn = Literal["regression", "any", "never"]
FAIL_ON_CHOICES: tuple[str, ...] = ("regression", "any", "never")
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_EFFECT = 0.005
DEFAULT_RESAMPLES = 10_000
EXACT_PERMUTATION_MAX_N = 16  # 2**16 sign patterns: enumerate them instead of sampling


class ComparisonRefused(UserError):
    """The two results cannot be compared (different images, scorer weights or protocol)."""


@dataclass(frozen=True)
class ScorerComparison:
    """One row: a scorer (or ``overall``) compared over the paired samples."""

    scorer: str
    higher_is_better: bool
    n: int
    baseline_mean: float
    candidate_mean: float
    difference: float  # mean(candidate - baseline), in the scorer's units
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    verdict: Verdict


@dataclass(frozen=True)
class Comparison:
    """A candidate against the baseline, one row per scorer; ``overall`` first."""

    baseline: str
    candidate: str
    baseline_model: str | None
    candidate_model: str | None
    n_paired: int
    n_unpaired: int  # ids in only one of the two runs (not compared)
    rows: list[ScorerComparison]
    skipped: list[str] = field(default_factory=list)  # scorers present in only one run

    @property
    def regressed(self) -> bool:
        return any(row.verdict == "worse" for row in self.rows)

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

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise UserError(f"--alpha {self.alpha}: must be between 0 and 1 (e.g. 0.05).")
        if self.min_effect < 0.0:
            raise UserError(f"--min-effect {self.min_effect}: must be >= 0 (in the scorer's units).")
        if not 0.0 < self.confidence < 1.0:
            raise UserError(f"confidence {self.confidence}: must be between 0 and 1.")
        if self.n_resamples < 100:
            raise UserError(
                f"n_resamples {self.n_resamples}: use at least 100 (default {DEFAULT_RESAMPLES})."
            )


@dataclass(frozen=True)
class CompareReport:
    """Every candidate against the baseline, plus the settings that produced the verdicts."""

    settings: CompareSettings
    comparisons: list[Comparison]

    @property
    def regressed(self) -> bool:
        return any(c.regressed for c in self.comparisons)

    def exit_code(self, fail_on: FailOn = "regression") -> int:
        """0 = pass, 1 = the gate fails: a regression (``regression``), any change (``any``), never."""
        if fail_on not in FAIL_ON_CHOICES:
            raise UserError(f"--fail-on {fail_on}: use one of {', '.join(FAIL_ON_CHOICES)}.")
        if fail_on == "regression":
            return int(self.regressed)
        if fail_on == "any":
            return int(any(c.changed for c in self.comparisons))
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": asdict(self.settings),
            "regressed": self.regressed,
            "comparisons": [
                {**asdict(c), "regressed": c.regressed, "changed": c.changed} for c in self.comparisons
            ],
        }


# -- statistics ----------------------------------------------------------------------------------
def sign_flip_p_value(
    differences: Sequence[float], *, seed: int, n_resamples: int = DEFAULT_RESAMPLES
) -> float:
    """Two-sided paired permutation test of ``mean(d) = 0`` by flipping the sign of each difference.

    Under the null each pair's difference is as likely positive as negative. Exact enumeration for
    ``n <= 16``; otherwise ``n_resamples`` seeded random sign patterns and the ``(1 + hits) / (1 + R)``
    estimate, which never reports ``p = 0``.

    >>> sign_flip_p_value([0.0, 0.0, 0.0], seed=0)
    1.0
    >>> sign_flip_p_value([0.1] * 20, seed=0) < 0.001
    True
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.size == 0:
        raise ValueError("the permutation test needs a non-empty 1-D sequence")
    observed = abs(d.mean())
    tolerance = 1e-12 * max(1.0, float(np.abs(d).max()))
    if observed <= tolerance:
        return 1.0
    if d.size <= EXACT_PERMUTATION_MAX_N:
        patterns = ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1) * 2 - 1
        stats = np.abs(patterns @ d) / d.size
        return float(np.mean(stats >= observed - tolerance))
    rng = np.random.Generator(np.random.PCG64(seed))
    hits = 0
    chunk = max(1, 2_000_000 // d.size)
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        signs = rng.integers(0, 2, size=(rows, d.size), dtype=np.int8) * 2 - 1
        hits += int(np.count_nonzero(np.abs(signs @ d) / d.size >= observed - tolerance))
    return (1 + hits) / (1 + n_resamples)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error control, any dependence between tests).

    >>> holm_adjust([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = round(running, 12)
    return adjusted


def _verdict(
    difference: float, p_adjusted: float, higher_is_better: bool, settings: CompareSettings
) -> Verdict:
    if p_adjusted >= settings.alpha or abs(difference) < settings.min_effect:
        return "tied"
    improved = difference > 0 if higher_is_better else difference < 0
    return "better" if improved else "worse"


# -- pairing and checks --------------------------------------------------------------------------
def _per_sample(results: Results, scorer: str) -> dict[str, float] | None:
    if scorer == OVERALL:
        return results.overall.per_sample if results.overall is not None else None
    summary = results.scorers.get(scorer)
    return summary.per_sample if summary is not None else None


def _higher_is_better(results: Results, scorer: str) -> bool:
    return True if scorer == OVERALL else results.scorers[scorer].higher_is_better


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


def _select_scorers(
    baseline: Results, candidate: Results, requested: Sequence[str] | None, labels: tuple[str, str]
) -> tuple[list[str], list[str]]:
    """(scorers to compare with ``overall`` first, scorers skipped because only one run has them)."""

    def available(results: Results) -> set[str]:
        return set(results.scorers) | ({OVERALL} if results.overall is not None else set())

    both = available(baseline) & available(candidate)
    if requested:
        for name in requested:
            if name not in both:
                where = labels[0] if name not in available(baseline) else labels[1]
                common = ", ".join(sorted(both)) or "(none)"
                raise ComparisonRefused(f"--scorer {name}: not in {where}; scorers in both: {common}.")
        chosen = list(dict.fromkeys(requested))
        skipped: list[str] = []
    else:
        informational = both & set(INFORMATIONAL_SCORERS)
        chosen = sorted(both - informational, key=lambda s: (s != OVERALL, s))
        skipped = sorted((available(baseline) | available(candidate)) - both)
        skipped += [f"{name} (informational: no better direction)" for name in sorted(informational)]
        if OVERALL in both and baseline.overall.components != candidate.overall.components:
            chosen.remove(OVERALL)  # averages of different scorers: not comparable, say so
            skipped.append("overall (averages different scorers)")
    if not chosen:
        raise ComparisonRefused(f"{labels[0]} and {labels[1]} have no scorer in common.")
    return chosen, skipped


def compare_results(
    baseline: Results,
    candidate: Results,
    *,
    scorers: Sequence[str] | None = None,
    settings: CompareSettings | None = None,
    labels: tuple[str, str] = ("baseline", "candidate"),
) -> Comparison:
    """Compare ``candidate`` with ``baseline`` scorer by scorer over the samples both scored.

    Args:
        scorers: names to compare (``overall`` allowed); default every scorer both runs have.
        settings: alpha, min effect, bootstrap size and seed, multiple-testing correction.
        labels: how the two runs are named in messages and reports.

    Raises:
        ComparisonRefused: different datasets, protocols or scorer weights; no sample or scorer in common.
    """
    settings = settings or CompareSettings()
    chosen, skipped = _select_scorers(baseline, candidate, scorers, labels)
    check_comparable(baseline, candidate, chosen, labels)
    base_ids, cand_ids = set(baseline.samples["ids"]), set(candidate.samples["ids"])
    paired_ids = [i for i in baseline.samples["ids"] if i in cand_ids]
    if not paired_ids:
        raise ComparisonRefused(f"{labels[0]} and {labels[1]} share no sample id; nothing to pair.")

    raw: list[tuple[str, bool, list[float], list[float]]] = []
    for scorer in chosen:
        base_scores, cand_scores = _per_sample(baseline, scorer) or {}, _per_sample(candidate, scorer) or {}
        ids = [i for i in paired_ids if i in base_scores and i in cand_scores]
        if not ids:
            skipped.append(scorer)
            continue
        raw.append(
            (
                scorer,
                _higher_is_better(baseline, scorer),
                [base_scores[i] for i in ids],
                [cand_scores[i] for i in ids],
            )
        )
    p_values, intervals = [], []
    for _, _, base_values, cand_values in raw:
        differences = np.asarray(cand_values) - np.asarray(base_values)
        p_values.append(sign_flip_p_value(differences, seed=settings.seed, n_resamples=settings.n_resamples))
        intervals.append(
            bootstrap_mean_ci(
                differences,
                seed=settings.seed,
                n_resamples=settings.n_resamples,
                confidence=settings.confidence,
            )
        )
    adjusted = holm_adjust(p_values) if settings.correction == "holm" else list(p_values)
    rows = []
    for (scorer, higher, base_values, cand_values), p, p_adj, (low, high) in zip(
        raw, p_values, adjusted, intervals, strict=True
    ):
        difference = float(np.mean(np.asarray(cand_values) - np.asarray(base_values)))
        rows.append(
            ScorerComparison(
                scorer=scorer,
                higher_is_better=higher,
                n=len(base_values),
                baseline_mean=float(np.mean(base_values)),
                candidate_mean=float(np.mean(cand_values)),
                difference=difference,
                ci_low=low,
                ci_high=high,
                p_value=p,
                p_adjusted=p_adj,
                verdict=_verdict(difference, p_adj, higher, settings),
            )
        )
    return Comparison(
        baseline=labels[0],
        candidate=labels[1],
        baseline_model=(baseline.model or {}).get("name"),
        candidate_model=(candidate.model or {}).get("name"),
        n_paired=len(paired_ids),
        n_unpaired=len(base_ids ^ cand_ids),
        rows=rows,
        skipped=skipped,
    )


def compare_paths(
    baseline: str | Path,
    candidates: Sequence[str | Path],
    *,
    scorers: Sequence[str] | None = None,
    settings: CompareSettings | None = None,
) -> CompareReport:
    """``unified-bench compare``: read each results file (or run dir) and compare every candidate.

    Raises:
        InputError / SchemaVersionError: a file that is not a readable results file.
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


# -- rendering -----------------------------------------------------------------------------------
_VERDICT_MARK = {"better": "🟢 better", "worse": "🔴 worse", "tied": "⚪ tied"}


def format_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_difference(row: ScorerComparison) -> str:
    return f"{row.difference:+.4f} [{row.ci_low:+.4f}, {row.ci_high:+.4f}]"


def scorer_label(row: ScorerComparison) -> str:
    return row.scorer if row.higher_is_better else f"{row.scorer} (lower is better)"


def to_markdown(report: CompareReport, fail_on: FailOn = "regression") -> str:
    """A summary for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""
    failed = report.exit_code(fail_on) == 1
    headline = {
        True: "❌ significant regression" if report.regressed else "❌ significant change",
        False: "✅ no significant regression",
    }[failed]
    settings = report.settings
    lines = [f"## unified-bench compare: {headline}", ""]
    for comparison in report.comparisons:
        models = ""
        if comparison.baseline_model or comparison.candidate_model:
            models = f" ({comparison.baseline_model} → {comparison.candidate_model})"
        lines += [
            f"**Baseline** `{comparison.baseline}` vs **candidate** `{comparison.candidate}`{models}, "
            f"{comparison.n_paired} paired samples",
            "",
            "| scorer | baseline | candidate | Δ mean [95% CI] | p (adj.) | verdict |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for row in comparison.rows:
            name = f"**{row.scorer}**" if row.scorer == OVERALL else scorer_label(row)
            lines.append(
                f"| {name} | {row.baseline_mean:.4f} | {row.candidate_mean:.4f} | {format_difference(row)} | "
                f"{format_p(row.p_adjusted)} | {_VERDICT_MARK[row.verdict]} |"
            )
        notes = []
        if comparison.n_unpaired:
            notes.append(f"{comparison.n_unpaired} sample ids appear in only one run and were not compared")
        if comparison.skipped:
            notes.append(f"not compared (in one run only): {', '.join(comparison.skipped)}")
        if notes:
            lines += ["", "> " + "; ".join(notes) + "."]
        lines.append("")
    confidence = f"{settings.confidence:.0%}"
    correction = "Holm-adjusted " if settings.correction == "holm" else ""
    lines.append(
        f"<sub>Paired by sample id. Δ = candidate − baseline with a {confidence} paired bootstrap interval "
        f"({settings.n_resamples} resamples, seed {settings.seed}); {correction}two-sided sign-flip "
        f"permutation test; better/worse needs p < {settings.alpha:g} and |Δ| ≥ {settings.min_effect:g}. "
        "Made by `unified-bench compare`.</sub>"
    )
    return "\n".join(lines) + "\n"
