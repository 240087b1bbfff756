"""One output sink: data to stdout, messages and progress to stderr, errors as one line."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Iterator

    from unified_bench.results import Results

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    from rich.markup import escape

    # The message is plain text: a path like "runs/a[/]b" must print as it is, not as markup.
    stderr.print(f"[bold red]Error:[/] {escape(message)}", markup=True, highlight=False)


def hint(message: str) -> None:
    stderr.print(f"[dim]{message}[/]")


def note(message: str) -> None:
    stderr.print(message, markup=False)  # plain text: paths may contain "[...]"


class RichHooks:
    """Renders library progress (``unified_bench.evaluate.Hooks``) as rich progress bars on stderr."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._tasks: dict[str, Any] = {}

    def stage(self, name: str, total: int) -> None:
        self._tasks[name] = self._progress.add_task(name, total=total)

    def advance(self, name: str, amount: int) -> None:
        if name in self._tasks:
            self._progress.advance(self._tasks[name], amount)

    def note(self, text: str) -> None:
        self._progress.console.print(text, markup=False)  # library notes are plain text


@contextmanager
def progress_hooks() -> Iterator[RichHooks]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=False) as progress:
        yield RichHooks(progress)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def results_table(results: Results, title: str | None = None) -> Table:
    """Scorer | mean | 95% CI | std | n, paper scorers first, then overall."""
    from unified_bench.scorers.registry import INFORMATIONAL_SCORERS, PAPER_SCORERS

    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("scorer", "left"),
        ("mean", "right"),
        ("95% CI", "right"),
        ("std", "right"),
        ("n", "right"),
        ("", "left"),
    ):
        table.add_column(column, justify=justify)
    ordered = sorted(results.scorers.items(), key=lambda kv: (kv[0] not in PAPER_SCORERS, kv[0]))
    for name, summary in ordered:
        direction = "higher is better" if summary.higher_is_better else "lower is better"
        if name in INFORMATIONAL_SCORERS:
            direction = "informational"
        table.add_row(
            name,
            _fmt(summary.mean),
            f"[{_fmt(summary.ci_low)}, {_fmt(summary.ci_high)}]",
            _fmt(summary.std),
            str(summary.n),
            f"[dim]{direction}[/]",
        )
    if results.overall is not None:
        overall = results.overall
        label = "overall" if overall.complete else f"overall ({'+'.join(overall.components)} only)"
        table.add_row(
            f"[bold]{label}[/]",
            f"[bold]{_fmt(overall.mean)}[/]",
            f"[{_fmt(overall.ci_low)}, {_fmt(overall.ci_high)}]",
            "",
            str(overall.n),
            "[dim]mean of the paper's four scorers[/]",
        )
    truncated = (results.captions or {}).get("truncated")
    if truncated and truncated["n"]:
        cut = ", ".join(f"{name}: {n}" for name, n in truncated["by_encoder"].items() if n)
        count = f"{truncated['n']} of {truncated['of']}"
        table.caption = f"{count} captions were cut by the generator's text encoders ({cut})"
        table.caption_justify = "left"
    return table
