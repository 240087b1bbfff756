"""``unified-bench compare``: parse, call ``unified_bench.compare.compare_paths``, print, exit 0/1."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from unified_bench.cli import output as out

if TYPE_CHECKING:
    from rich.table import Table

    from unified_bench.compare import Comparison


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
  unified-bench compare runs/base runs/ckpt-1000 runs/ckpt-2000 --scorer overall --scorer clip\n
  unified-bench compare base.json cand.json --format markdown >> "$GITHUB_STEP_SUMMARY"\n
[bold]Exit codes[/]: 0 no significant regression, 1 significant regression (see --fail-on),
2 the runs cannot be compared (other images, scorer weights or protocol) or bad input.
"""

_STYLE = {"better": "green", "worse": "bold red", "tied": "dim"}


def comparison_table(comparison: Comparison) -> Table:
    from rich.table import Table

    from unified_bench.compare import format_difference, format_p, scorer_label

    title = f"{comparison.candidate} vs {comparison.baseline} ({comparison.n_paired} paired samples)"
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("scorer", "left"),
        ("baseline", "right"),
        ("candidate", "right"),
        ("Δ mean [95% CI]", "right"),
        ("p (adj.)", "right"),
        ("verdict", "left"),
    ):
        table.add_column(column, justify=justify)
    for row in comparison.rows:
        table.add_row(
            scorer_label(row),
            f"{row.baseline_mean:.4f}",
            f"{row.candidate_mean:.4f}",
            format_difference(row),
            format_p(row.p_adjusted),
            f"[{_STYLE[row.verdict]}]{row.verdict}[/]",
        )
    return table


def compare(
    baseline: Annotated[Path, typer.Argument(help="Baseline: a results.json or a run folder.")],
    candidates: Annotated[
        list[Path], typer.Argument(help="One or more candidates, each compared with the baseline.")
    ],
    scorer: Annotated[
        list[str] | None,
        typer.Option(
            "--scorer",
            "-s",
            help="Compare only NAME (repeat; 'overall' allowed). Default: all.",
            show_default=False,
        ),
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level of the paired test.")] = 0.05,
    min_effect: Annotated[
        float, typer.Option(help="Smallest mean difference that counts, in the scorer's units.")
    ] = 0.005,
    format: Annotated[
        Format, typer.Option("--format", "-f", help="table, markdown (PR comment) or json.")
    ] = (Format.table),
    fail_on: Annotated[
        FailOn, typer.Option(help="Exit 1 on a significant regression, on any significant change, or never.")
    ] = FailOn.regression,
    correction: Annotated[
        Correction, typer.Option(help="Multiple-testing correction across the scorers of one comparison.")
    ] = Correction.holm,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples and permutation draws.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and the permutation test.")] = 0,
) -> None:
    """Compare runs sample by sample (paired bootstrap + permutation test); exit 1 on a regression."""
    from unified_bench.compare import CompareSettings, compare_paths, to_markdown

    settings = CompareSettings(
        alpha=alpha, min_effect=min_effect, n_resamples=resamples, seed=seed, correction=correction.value
    )
    report = compare_paths(baseline, candidates, scorers=scorer, settings=settings)
    code = report.exit_code(fail_on.value)
    if format is Format.json:
        typer.echo(json.dumps({**report.to_json(), "exit_code": code}, indent=2))
    elif format is Format.markdown:
        typer.echo(to_markdown(report, fail_on.value), nl=False)
    else:
        for comparison in report.comparisons:
            out.stdout.print(comparison_table(comparison))
            if comparison.n_unpaired:
                out.note(f"{comparison.n_unpaired} sample ids are in only one run and were not compared.")
            if comparison.skipped:
                out.note(f"Not compared (in one run only): {', '.join(comparison.skipped)}.")
        verdict = "significant regression" if report.regressed else "no significant regression"
        out.note(f"{verdict}; exit {code} (--fail-on {fail_on.value}).")
    raise typer.Exit(code)
