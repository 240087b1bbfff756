"""``unified-bench report``: parse, call ``unified_bench.report.build_report``, print the path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from unified_bench.cli import output as out

if TYPE_CHECKING:
    from rich.table import Table

    from unified_bench.results import Results


REPORT_EXAMPLES = """
[bold]Examples[/]\n
  unified-bench report runs/uae                    # runs/uae/report.html\n
  unified-bench report runs/base runs/ckpt-2000    # side by side: runs/ckpt-2000/report-vs-base.html\n
  unified-bench report runs/base runs/ckpt-2000 --gate clip
"""


def report(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="A run folder (or its results.json); or two, RUN_A RUN_B: B side by side with A.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="HTML file. Default: RUN/report.html, or RUN_B/report-vs-RUN_A.html."
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="Where the reference images are, if not found automatically (never downloaded)."),
    ] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            "-g",
            help="Two runs: the scorer whose verdict leads the page (repeat). Default: overall, else the "
            "first scorer both runs have.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """One self-contained HTML page for a run, or for two runs of the same images side by side."""
    from unified_bench.errors import UserError

    if len(runs) > 2:
        raise UserError(f"report: give one run folder, or two to compare (got {len(runs)}).")
    if len(runs) == 2:
        from unified_bench.report.compare_page import build_comparison_report

        path = build_comparison_report(runs[0], runs[1], output, dataset=dataset, gate=gate)
    else:
        if gate:
            raise UserError("report --gate: only with two runs (RUN_A RUN_B), where a gate decides.")
        from unified_bench.report import build_report

        path = build_report(runs[0], output, dataset=dataset)
    out.note(f"Report: {path}")


def repeats_table(results: Results) -> Table:
    """Per scorer: mean, bootstrap interval and the across-seed spread of a ``--repeats`` run."""
    from rich.table import Table

    repeats = results.repeats
    table = Table(
        title=f"across {repeats['k']} seeds ({', '.join(map(str, repeats['seeds']))})", title_justify="left"
    )
    for column in ("scorer", "mean", "95% CI", "seed means", "seed sd"):
        table.add_column(column, justify="left" if column == "scorer" else "right")
    spreads = dict(repeats["scorers"])
    if repeats.get("overall") and results.overall is not None:
        spreads["overall"] = repeats["overall"]
    for name, spread in spreads.items():
        summary = results.overall if name == "overall" else results.scorers[name]
        table.add_row(
            name,
            f"{summary.mean:.4f}",
            f"[{summary.ci_low:.4f}, {summary.ci_high:.4f}]",
            " ".join(f"{m:.4f}" for m in spread["means"]),
            f"±{spread['std']:.4f}",
        )
    return table
