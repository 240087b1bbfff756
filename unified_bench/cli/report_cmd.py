"""``unified-bench report``: parse, call ``unified_bench.report.build_report``, print the path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from unified_bench.cli import output as out

if TYPE_CHECKING:
    from rich.table import Table

    from unified_bench.results import Results


def report(
    run_dir: Annotated[Path, typer.Argument(help="Run folder (or its results.json).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="HTML file. Default: RUN_DIR/report.html.")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="Where the reference images are, if not found automatically (never downloaded)."),
    ] = None,
) -> None:
    """One self-contained HTML page for a run: intervals, distributions, every sample, sortable."""
    from unified_bench.report import build_report

    path = build_report(run_dir, output, dataset=dataset)
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
