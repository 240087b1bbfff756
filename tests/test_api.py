"""The Python API: the README's notebook example runs, the functions return what the CLI writes,
docstring examples run, and ``import unified_bench`` stays cheap."""

from __future__ import annotations

import doctest
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import unified_bench
from unified_bench.results import read_results

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_api_example() -> str:
    section = README.read_text("utf-8").split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_api_example(), "README.md#python-api", "exec"), {})
    printed = capsys.readouterr().out
    assert re.search(r"ssim \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] over 6 images", printed), printed
    assert "regressed: " in printed
    assert (tmp_path / "runs" / "tiny" / "report.html").is_file()
    psnr = json.loads((tmp_path / "psnr.json").read_text())["scorers"]["psnr"]
    assert len(psnr["per_sample"]) == 6 and 0 < psnr["mean"] < 100  # other seed: similar, not equal


@pytest.mark.slow
def test_run_returns_the_results_the_cli_writes(tmp_path, cli):
    returned = unified_bench.run("uae-tiny", "samples", tmp_path / "api", limit=2, scorers=["ssim", "psnr"])
    assert returned == read_results(tmp_path / "api")
    result = cli(
        "run", "-m", "uae-tiny", "--dataset", "samples", "--limit", "2", "-o", tmp_path / "cli",
        "--scorer", "ssim", "--scorer", "psnr",
    )  # fmt: skip
    assert result.code == 0, result.err
    from_cli = read_results(tmp_path / "cli")
    assert {n: s.per_sample for n, s in from_cli.scorers.items()} == {
        n: s.per_sample for n, s in returned.scorers.items()
    }


@pytest.mark.parametrize(
    "module", ["unified_bench.api", "unified_bench.preflight", "unified_bench.errors", "unified_bench.quiet"]
)
def test_docstring_examples_run(module):
    import importlib

    outcome = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert outcome.failed == 0
    assert outcome.attempted > 0


def test_the_api_is_listed_and_import_stays_cheap():
    assert {"run", "score", "compare_runs", "write_report", "read_results", "Results"} <= set(
        unified_bench.__all__
    )
    assert callable(unified_bench.compare_runs) and callable(unified_bench.run)
    code = "import sys, unified_bench; assert 'torch' not in sys.modules and 'numpy' not in sys.modules"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert (Path(unified_bench.__file__).parent / "py.typed").is_file()
