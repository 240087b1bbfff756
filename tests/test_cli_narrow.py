"""Tables at 80 columns: compact or stacked in a narrow terminal, full width in files and pipes; full help."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tests._synthetic import base_scores, make_results
from unified_bench.cli import output as out
from unified_bench.results import write_results

NARROW = 80


@pytest.fixture
def terminal(monkeypatch):
    """stdout as an 80-column terminal (``tty=True``) or as a pipe (``tty=False``); returns its text."""

    def attach(tty: bool) -> io.StringIO:
        buffer = io.StringIO()
        console = Console(file=buffer, width=NARROW, force_terminal=tty, highlight=False, soft_wrap=True)
        monkeypatch.setattr(out, "stdout", console)
        return buffer

    return attach


def _visible(text: str) -> list[str]:
    from rich.text import Text

    return [Text.from_ansi(line).plain for line in text.splitlines()]


def _runs(tmp_path):
    scorers = ("clip", "dinov2", "dinov3", "longclip", "lpips", "psnr", "ssim", "caption_words")
    base = base_scores(12, 0, scorers)
    write_results(tmp_path / "a.json", make_results(base))
    write_results(tmp_path / "b.json", make_results({k: v + 0.01 for k, v in base.items()}))
    return tmp_path / "a.json", tmp_path / "b.json"


def test_compare_fits_an_80_column_terminal_and_keeps_every_column_in_a_pipe(cli, terminal, tmp_path):
    a, b = _runs(tmp_path)
    screen = terminal(tty=True)
    assert cli("compare", a, b).code in (0, 1)
    lines = _visible(screen.getvalue())
    assert max(map(len, lines)) <= NARROW and not any("…" in line for line in lines)
    assert any(line.lstrip("│ ").startswith("overall") and "better" in line for line in lines)
    assert (
        not any("MDE (80%)" in line and "│" in line for line in lines)
        and "in a wider terminal" in screen.getvalue()
    )
    piped = terminal(tty=False)
    assert cli("compare", a, b).code in (0, 1)
    assert "MDE (80%)" in piped.getvalue() and max(map(len, piped.getvalue().splitlines())) > NARROW


def test_a_results_table_fits_80_columns_with_every_scorer_and_its_interval(terminal, tmp_path):
    from unified_bench.results import read_results

    results = read_results(_runs(tmp_path)[0])
    screen = terminal(tty=True)
    out.print_results(results, "a run")
    lines = _visible(screen.getvalue())
    assert max(map(len, lines)) <= NARROW and not any("…" in line for line in lines)
    for name in results.scorers:
        row = next(line for line in lines if line.lstrip("│ ").startswith(name))
        assert f"{results.scorers[name].ci_low:.4f}" in row
    piped = terminal(tty=False)
    out.print_results(results, "a run")
    assert "std" in piped.getvalue() and "mean of clip+dinov2+dinov3+longclip" in piped.getvalue()


def test_adapters_list_is_stacked_at_80_columns(cli, terminal):
    screen = terminal(tty=True)
    assert cli("adapters", "list").code == 0
    table = screen.getvalue().split("\n\n")[0]  # then each preset's setup commands, kept whole to copy
    lines = _visible(table)
    assert max(map(len, lines)) <= NARROW
    assert any(line.startswith("uae-tiny") for line in lines)  # each adapter's name starts its block
    assert any(line.strip().startswith("description") for line in lines)


def test_run_help_shows_the_whole_dataset_syntax_at_80_columns(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("run", "--help")
    assert "@SPLIT" in result.out and "hf:OWNER/NAME:CONFIG@SPLIT" in result.out
    assert "CONFIG…" not in result.out
