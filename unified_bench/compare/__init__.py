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

The package, by concern: ``types`` (settings, rows, report, exit codes), ``checks`` (what is
compared, bad input), ``gate`` (the comparison and its verdicts), ``sizing`` (``--recommend-n``),
``render`` (markdown and table cells).
"""

from __future__ import annotations

from unified_bench.compare.checks import check_comparable
from unified_bench.compare.gate import _verdict, compare_paths, compare_results  # noqa: F401 (_verdict: its tests)
from unified_bench.compare.render import (
    format_difference,
    format_mde,
    format_p,
    method_note,
    p_label,
    scorer_label,
    to_markdown,
)
from unified_bench.compare.sizing import SampleSizeAdvice, recommend_sample_sizes
from unified_bench.compare.types import (
    DEFAULT_ALPHA,
    DEFAULT_GATE,
    DEFAULT_MIN_EFFECT,
    EXIT_FAIL,
    EXIT_NO_VERDICT,
    EXIT_PASS,
    FAIL_ON_CHOICES,
    CompareReport,
    CompareSettings,
    Comparison,
    ComparisonRefused,
    FailOn,
    Role,
    ScorerComparison,
    Verdict,
)
from unified_bench.stats import holm_adjust, sign_flip_p_value

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_GATE",
    "DEFAULT_MIN_EFFECT",
    "EXIT_FAIL",
    "EXIT_NO_VERDICT",
    "EXIT_PASS",
    "FAIL_ON_CHOICES",
    "CompareReport",
    "CompareSettings",
    "Comparison",
    "ComparisonRefused",
    "FailOn",
    "Role",
    "SampleSizeAdvice",
    "ScorerComparison",
    "Verdict",
    "check_comparable",
    "compare_paths",
    "compare_results",
    "format_difference",
    "format_mde",
    "format_p",
    "holm_adjust",
    "method_note",
    "p_label",
    "recommend_sample_sizes",
    "scorer_label",
    "sign_flip_p_value",
    "to_markdown",
]
