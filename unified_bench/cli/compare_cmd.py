"""``unified-bench compare``: parse, call ``unified_bench.compare``, print the verdict first, exit 0/1/2."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from unified_bench.cli import output as out

if TYPE_CHECKING:
    from rich.table import Table

    from unified_bench.compare import CompareSettings, Comparison


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


class FailOn(str, Enum):
    regression = "regression"
    any = "any"
    never = "never"


class Correction(str, Enum):
    holm = "holm"
    none = "none"


COMPARE_EXAMPLES = """
[bold]Examples[/]\n
  unified-bench compare baselines/main.json runs/candidate\n
  unified-bench compare runs/base runs/ckpt-1000 runs/ckpt-2000 --gate overall --gate clip\n
  unified-bench compare base.json cand.json --format markdown >> "$GITHUB_STEP_SUMMARY"\n
  unified-bench compare baselines/main.json --recommend-n 0.01\n
[bold]Exit codes[/]: 0 no significant regression on the gate, 1 significant regression on the gate
(see --fail-on), 2 no verdict: bad input, runs that cannot be compared, or a gate that cannot reach
--alpha at this number of samples. See docs/ci-gating.md.
"""

_STYLE = {"better": "green", "worse": "bold red", "tied": "dim"}


# Left out of the compact layout (terminals narrower than the full table): the full one is in files and pipes.
_WIDE_ONLY = ("baseline", "candidate", "test", "MDE (80%)")


def comparison_table(comparison: Comparison, settings: CompareSettings, *, compact: bool = False) -> Table:
    from rich.table import Table

    from unified_bench.compare import format_difference, format_mde, format_p, p_label, scorer_label

    title = f"{comparison.candidate} vs {comparison.baseline} ({comparison.n_paired} paired samples)"
    table = Table(title=title, title_justify="left")
    columns = (
        ("scorer", "left"),
        ("baseline", "right"),
        ("candidate", "right"),
        ("Δ mean [95% CI]", "right"),
        (p_label(settings), "right"),
        ("test", "left"),
        ("MDE (80%)", "right"),
        ("verdict", "left"),
    )
    keep = [not (compact and name in _WIDE_ONLY) for name, _ in columns]
    for (column, justify), kept in zip(columns, keep, strict=True):
        if kept:
            table.add_column(column, justify=justify)
    if compact:
        table.caption = f"{', '.join(_WIDE_ONLY)}: in a wider terminal, or piped to a file"
        table.caption_justify = "left"
    gated = sum(row.role == "gate" for row in comparison.rows)
    for index, row in enumerate(comparison.rows):
        cells = (
            f"{scorer_label(row)} [bold](gate)[/]" if row.role == "gate" else scorer_label(row),
            f"{row.baseline_mean:.4f}",
            f"{row.candidate_mean:.4f}",
            format_difference(row),
            format_p(row.p_adjusted),
            row.test,
            format_mde(row),
            f"[{_STYLE[row.verdict]}]{row.verdict}[/]",
        )
        table.add_row(
            *(c for c, kept in zip(cells, keep, strict=True) if kept), end_section=index == gated - 1
        )
    return table


def compare(
    baseline: Annotated[Path, typer.Argument(help="Baseline: a results.json or a run folder.")],
    candidates: Annotated[
        list[Path] | None,
        typer.Argument(help="One or more candidates, each compared with the baseline.", show_default=False),
    ] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            "-g",
            help="Scorer that decides the exit code (repeat; Holm across gated rows). Default: overall.",
            show_default=False,
        ),
    ] = None,
    scorer: Annotated[
        list[str] | None,
        typer.Option(
            "--scorer",
            "-s",
            help="Secondary rows to show (repeat; 'overall' allowed). Default: every scorer in both runs.",
            show_default=False,
        ),
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level of the gate.")] = 0.05,
    min_effect: Annotated[
        float, typer.Option(help="Smallest mean difference that counts, in the scorer's units.")
    ] = 0.005,
    format: Annotated[
        Format, typer.Option("--format", "-f", help="table, markdown (PR comment) or json.")
    ] = (Format.table),
    fail_on: Annotated[
        FailOn,
        typer.Option(
            help="Exit 1 on a significant regression of a gated row, on any significant change of any "
            "row, or never."
        ),
    ] = FailOn.regression,
    correction: Annotated[
        Correction, typer.Option(help="Multiple-testing correction within the gated and the secondary rows.")
    ] = Correction.holm,
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial", help="Compare the shared sample ids when the runs' ids differ (says how many)."
        ),
    ] = False,
    recommend_n: Annotated[
        float | None,
        typer.Option(
            "--recommend-n",
            metavar="EFFECT",
            help="Print the --limit each gated row needs for 80% power to detect EFFECT, then exit 0.",
            show_default=False,
        ),
    ] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples of the interval.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
) -> None:
    """Gate a candidate on a pre-declared scorer (paired test by n); exit 1 on a regression."""
    from unified_bench.compare import (
        DEFAULT_GATE,
        CompareSettings,
        compare_paths,
        recommend_sample_sizes,
        to_markdown,
    )
    from unified_bench.errors import UserError

    settings = CompareSettings(
        alpha=alpha,
        min_effect=min_effect,
        n_resamples=resamples,
        seed=seed,
        correction=correction.value,
        gate=tuple(gate or DEFAULT_GATE),
        allow_partial=allow_partial,
    )
    if recommend_n is not None:
        for advice in recommend_sample_sizes(baseline, candidates or [], recommend_n, settings=settings):
            typer.echo(advice.line(settings.row_alpha))
        raise typer.Exit(0)
    if not candidates:
        raise UserError("compare: give a candidate after the baseline (or --recommend-n EFFECT).")
    report = compare_paths(baseline, candidates, scorers=scorer, settings=settings)
    code = report.exit_code(fail_on.value)
    if format is Format.json:
        typer.echo(json.dumps(report.to_json(fail_on.value), indent=2))
    elif format is Format.markdown:
        typer.echo(to_markdown(report, fail_on.value), nl=False)
    else:
        typer.echo(report.headline(fail_on.value))
        for comparison in report.comparisons:
            out.print_table(
                comparison_table(comparison, settings),
                narrow=lambda c=comparison: comparison_table(c, settings, compact=True),
            )
            if comparison.skipped:
                out.note(f"Not compared: {', '.join(comparison.skipped)}.")
    for comparison in report.comparisons:
        for warning in comparison.warnings:
            out.note(f"Warning: {warning}")
    raise typer.Exit(code)
