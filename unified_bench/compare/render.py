"""Rendering: the markdown summary for a pull request and the cells the CLI table shares with it."""

from __future__ import annotations

import math

from unified_bench.compare.types import CompareReport, CompareSettings, FailOn, ScorerComparison

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
            lines += ["", f"> Not compared: {', '.join(comparison.skipped)}."]
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
