"""From the demo to a second run, offline: the tiny scorer set; every hint the CLI prints runs verbatim."""

from __future__ import annotations

import os
import re
import shlex

from unified_bench.results import read_results
from unified_bench.scorers.sets import resolve_scorers, tiny_scorer_specs

HINT = re.compile(r"^[A-Z][^:]*: (unified-bench .+)$")


def _hints(stderr: str) -> list[str]:
    """The ``Label: unified-bench ...`` lines printed, minus the real run (a GPU and downloads)."""
    commands = [match.group(1) for line in stderr.splitlines() if (match := HINT.match(line.strip()))]
    return [command for command in commands if "--model uae " not in command + " "]


def test_scorer_set_tiny_is_the_demo_set_and_scorer_entries_replace_their_name(session_cache):
    tiny = tiny_scorer_specs()
    assert resolve_scorers(None, "tiny") == tiny
    assert {spec.split("=")[0] for spec in tiny} >= {"clip", "dinov2", "ssim", "psnr"}
    replaced = resolve_scorers(["psnr", "clip=/elsewhere"], "tiny")
    assert "clip=/elsewhere" in replaced and len(replaced) == len(tiny)
    assert resolve_scorers(None, "paper") == ("clip", "dinov2", "dinov3", "longclip")
    assert resolve_scorers(None, "all") is None and resolve_scorers(["ssim"], None) == ("ssim",)


def test_an_unknown_scorer_set_is_one_line_exit_2(cli, tmp_path):
    result = cli(
        "run", "--model", "uae-tiny", "--dataset", "samples", "--scorer-set", "tinny", "-o", tmp_path / "r"
    )
    assert result.code == 2 and "--scorer-set 'tinny'" in result.err and "tiny, paper, all" in result.err
    assert "Traceback" not in result.err and not (tmp_path / "r").exists()


def test_demo_hints_run_verbatim_offline(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    demo = cli("demo", "--seed", "3", "--limit", "2", "--output", "first")
    assert demo.code == 0, demo.err
    first = read_results(tmp_path / "first")
    assert len(first.samples["ids"]) == 2 and first.provenance["seeds"]["run_seed"] == 3
    assert "Results: first/results.json" in demo.err
    hints = _hints(demo.err)
    assert len(hints) == 2 and "needs --limit 6 or more" in demo.err, demo.err
    for command in hints:
        result = cli(*shlex.split(command)[1:])
        assert result.code == 0, f"{command}\n{result.err}"
    second = read_results(tmp_path / "first-seed4")
    assert second.provenance["seeds"]["run_seed"] == 4 and sorted(second.scorers) == sorted(first.scorers)
    assert os.path.isfile(tmp_path / "first-seed4" / "report-vs-first.html")
