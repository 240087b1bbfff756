"""One output sink: data to stdout, messages and progress to stderr, errors as one line."""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from unified_bench.results import Results

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Verbosity:
    """Set once per command from ``--quiet`` / ``--verbose``."""

    quiet: bool = False
    verbose: bool = False
    log: Console | None = None  # --log-file: a plain-text copy of every message and progress line


verbosity = Verbosity()


def configure(*, quiet: bool = False, verbose: bool = False, log_file: Path | None = None) -> None:
    """``--quiet``: results and errors only; ``--verbose``: third-party bars and warnings too;
    ``--log-file``: messages, progress lines and errors appended to that file as well."""
    from unified_bench.errors import UserError

    if quiet and verbose:
        raise UserError("--quiet and --verbose contradict each other; pass one of them.")
    verbosity.quiet, verbosity.verbose, verbosity.log = quiet, verbose, None
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            stream = log_file.open("a", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"--log-file {log_file}: cannot write it ({exc.strerror or exc}).") from None
        verbosity.log = Console(file=stream, width=200, no_color=True, highlight=False, soft_wrap=True)


def _log(text: str) -> None:
    if verbosity.log is not None:
        verbosity.log.print(text, markup=False, highlight=False)
        verbosity.log.file.flush()


def error(message: str) -> None:
    from rich.markup import escape

    # The message is plain text: a path like "runs/a[/]b" must print as it is, not as markup.
    stderr.print(f"[bold red]Error:[/] {escape(message)}", markup=True, highlight=False)
    _log(f"Error: {message}")


def hint(message: str) -> None:
    stderr.print(f"[dim]{message}[/]")
    _log(message)


def note(message: str) -> None:
    if not verbosity.quiet:
        stderr.print(message, markup=False)  # plain text: paths may contain "[...]"
    _log(message)


# Test hook (docs/testing.md): with UNIFIED_BENCH_TEST_PAUSE=STAGE, the first progress of that stage
# says "paused at STAGE" and waits for a signal, so a test interrupts a run at a known point.
PAUSE_VARIABLE = "UNIFIED_BENCH_TEST_PAUSE"


def _pause_point(stage: str, console: Console) -> None:
    if os.environ.get(PAUSE_VARIABLE) != stage:
        return
    del os.environ[PAUSE_VARIABLE]  # once
    console.print(f"paused at {stage}", markup=False)
    while True:  # only a signal whose handler raises (Ctrl-C) or kills ends it
        signal.pause()


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
            _pause_point(name, self._progress.console)

    def note(self, text: str) -> None:
        self._progress.console.print(text, markup=False)  # library notes are plain text


# What one unit of each stage is, for the plain progress lines.
STAGE_UNITS = {"round trip": "samples", "scoring": "scores", "train": "steps"}


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class PlainHooks:
    """Progress for logs (SLURM, nohup, CI): a line per stage, then "N/M samples, rate, ETA" every
    ``every_s`` seconds or ``every_fraction`` of the stage, whichever comes first. No control codes."""

    def __init__(
        self, console: Console, *, every_s: float = 30.0, every_fraction: float = 0.05, clock: Any = None
    ) -> None:
        self._console = console
        self._every_s, self._every_fraction = every_s, every_fraction
        self._clock = clock or time.monotonic
        self._stages: dict[str, dict[str, float]] = {}

    def _line(self, text: str) -> None:
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)

    def stage(self, name: str, total: int) -> None:
        now = self._clock()
        self._stages[name] = {"total": total, "done": 0, "start": now, "last": now, "last_done": 0}
        self._line(f"{name}: {total} {STAGE_UNITS.get(name, 'items')}")

    def advance(self, name: str, amount: int) -> None:
        state = self._stages.get(name)
        if state is None:
            return
        state["done"] += amount
        now, done, total = self._clock(), state["done"], state["total"]
        step = max(1.0, total * self._every_fraction)
        finished = done >= total
        if not finished and now - state["last"] < self._every_s and done - state["last_done"] < step:
            return
        state["last"], state["last_done"] = now, done
        elapsed = now - state["start"]
        rate = done / elapsed if elapsed > 0 else 0.0
        unit = STAGE_UNITS.get(name, "items")
        if finished:
            self._line(f"{name}: {done}/{total} {unit} done in {_duration(elapsed)} ({rate:.2f}/s)")
            return
        eta = _duration((total - done) / rate) if rate > 0 else "?"
        self._line(f"{name}: {done}/{total} {unit}, {rate:.2f}/s, ETA {eta}")

    def note(self, text: str) -> None:
        self._line(text)


class SilentHooks:
    """``--quiet``: no progress and no notes."""

    def stage(self, name: str, total: int) -> None: ...
    def advance(self, name: str, amount: int) -> None: ...
    def note(self, text: str) -> None: ...


@contextmanager
def progress_hooks() -> Iterator[RichHooks | PlainHooks | SilentHooks]:
    """Hooks for the library's progress: rich bars in a terminal, plain lines in a log, nothing if
    ``--quiet``; third-party bars and warnings are silenced for the duration unless ``--verbose``."""
    from unified_bench.quiet import third_party_silenced

    with third_party_silenced(not verbosity.verbose):
        if verbosity.quiet:
            yield _logged(SilentHooks())
        elif not stderr.is_terminal:
            yield _logged(PlainHooks(stderr))
        else:
            with _rich_progress() as progress:
                yield _logged(RichHooks(progress))


class _BothHooks:
    """The screen's hooks and the log file's plain lines."""

    def __init__(self, screen: Any, log: PlainHooks) -> None:
        self._screen, self._log = screen, log

    def stage(self, name: str, total: int) -> None:
        self._screen.stage(name, total)
        self._log.stage(name, total)

    def advance(self, name: str, amount: int) -> None:
        self._screen.advance(name, amount)
        self._log.advance(name, amount)

    def note(self, text: str) -> None:
        self._screen.note(text)
        self._log.note(text)


def _logged(hooks: Any) -> Any:
    return hooks if verbosity.log is None else _BothHooks(hooks, PlainHooks(verbosity.log))


@contextmanager
def _rich_progress() -> Iterator[Any]:
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
        yield progress


def print_table(table: Table, narrow: Callable[[], Any] | None = None) -> None:
    """Print ``table`` on stdout: at its natural width in files and pipes (never squeezed: squeezing
    truncates numbers), and in a terminal narrower than that, ``narrow()`` (a compact or stacked
    layout) when one is given."""
    from rich.measure import Measurement

    natural = Measurement.get(stdout, stdout.options.update_width(10_000), table).maximum
    if natural <= stdout.width:
        stdout.print(table, soft_wrap=False)  # a long title or caption wraps to the terminal
        return
    if stdout.is_terminal and narrow is not None:
        stdout.print(narrow(), soft_wrap=False)
        return
    wide = Console(
        file=stdout.file,
        width=natural,
        highlight=False,
        force_terminal=stdout.is_terminal,
        no_color=stdout.no_color,
    )
    wide.print(table)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def print_results(results: Results, title: str | None = None) -> None:
    """The results table; in a narrow terminal, its compact layout."""
    print_table(results_table(results, title), narrow=lambda: results_table(results, title, compact=True))


def results_table(results: Results, title: str | None = None, *, compact: bool = False) -> Table:
    """Scorer | mean | 95% CI | std | n | what it is, paper scorers first, then overall. ``compact``
    (narrow terminals): scorer | mean | 95% CI | n, the direction as an arrow after the name."""
    from unified_bench.scorers.registry import INFORMATIONAL_SCORERS, PAPER_SCORERS

    table = Table(title=title, title_justify="left")
    columns = [("scorer", "left"), ("mean", "right"), ("95% CI", "right"), ("std", "right"), ("n", "right")]
    if compact:
        del columns[3]
    for column, justify in columns + ([] if compact else [("", "left")]):
        table.add_column(column, justify=justify)

    def add(name: str, mean: str, ci: str, std: str, n: str, note: str, arrow: str) -> None:
        if compact:
            table.add_row(f"{name} {arrow}".rstrip(), mean, ci, n)
        else:
            table.add_row(name, mean, ci, std, n, f"[dim]{note}[/]")

    ordered = sorted(results.scorers.items(), key=lambda kv: (kv[0] not in PAPER_SCORERS, kv[0]))
    for name, summary in ordered:
        direction = "higher is better" if summary.higher_is_better else "lower is better"
        arrow = "↑" if summary.higher_is_better else "↓"
        if name in INFORMATIONAL_SCORERS:
            direction, arrow = "informational", "(info)"
        ci = f"[{_fmt(summary.ci_low)}, {_fmt(summary.ci_high)}]"
        add(name, _fmt(summary.mean), ci, _fmt(summary.std), str(summary.n), direction, arrow)
    if results.overall is not None:
        overall = results.overall
        label = "overall" if overall.complete else f"overall ({'+'.join(overall.components)} only)"
        ci = f"[{_fmt(overall.ci_low)}, {_fmt(overall.ci_high)}]"
        add(
            f"[bold]{label}[/]",
            f"[bold]{_fmt(overall.mean)}[/]",
            ci,
            _fmt(overall.std),
            str(overall.n),
            "t2i2t primary: longclip_t2t" if results.direction == "t2i2t" else overall.description,
            "↑",
        )
    notes = []
    truncated = (results.captions or {}).get("truncated")
    if truncated and truncated["n"]:
        cut = ", ".join(f"{name}: {n}" for name, n in truncated["by_encoder"].items() if n)
        count = f"{truncated['n']} of {truncated['of']}"
        notes.append(f"{count} captions were cut by the generator's text encoders ({cut})")
    if compact:
        notes.append("↑ higher is better, ↓ lower; std and notes: in a wider terminal, or piped to a file")
    if notes:
        table.caption = "\n".join(notes)
        table.caption_justify = "left"
    return table


def group_summary_table(summary: dict[str, Any]) -> Table:
    """A group task's summary: one row per member task (direction, dataset, overall and its CI)."""
    table = Table(title=f"task {summary['task']}", title_justify="left")
    for column in ("task", "direction", "dataset", "n", "overall", "95% CI"):
        table.add_column(column, justify="right" if column in ("n", "overall") else "left")
    for member in summary["members"]:
        overall = member.get("overall")
        table.add_row(
            member["task"],
            member["direction"],
            str(member["dataset"]),
            str(member["n"]),
            f"{overall['mean']:.4f}" if overall else "–",
            f"[{overall['ci_low']:.4f}, {overall['ci_high']:.4f}]" if overall else "",
        )
    return table
