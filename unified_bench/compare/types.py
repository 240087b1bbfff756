"""What a comparison is made of: its settings, one row per scorer, a candidate's rows, the report.

Also the exit codes of ``unified-bench compare`` and ``ComparisonRefused``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from unified_bench.errors import UserError
from unified_bench.results import OVERALL
from unified_bench.stats import DEFAULT_RESAMPLES

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
