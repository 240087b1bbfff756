"""The README's offline recipes ("compare two runs", "score a folder") run verbatim; the demo prints them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from unified_bench.results import read_results

README = Path(__file__).resolve().parents[1] / "README.md"


def _recipe(title: str) -> list[str]:
    """The commands of the README's bash block that starts with ``# TITLE``."""
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        lines = block.strip().splitlines()
        if lines[0].startswith(f"# {title}"):
            return [line for line in lines[1:] if line.strip() and not line.startswith("#")]
    raise AssertionError(f"README has no bash block starting '# {title}'")


def test_compare_two_runs_and_score_a_folder_run_verbatim_offline(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    compare_recipe, score_recipe = _recipe("compare two runs"), _recipe("score a folder")
    assert len(compare_recipe) == 4 and len(score_recipe) == 1
    demo = cli(*shlex.split(compare_recipe[0])[1:])
    assert demo.code == 0, demo.err
    printed = [line.split(": ", 1)[1] for line in demo.err.splitlines() if ": unified-bench " in line]
    assert printed[:3] == compare_recipe[1:], "the demo's next steps are the README's recipe"
    for command in compare_recipe[1:] + score_recipe:
        result = cli(*shlex.split(command)[1:])
        allowed = (0, 1) if " compare " in command else (0,)  # 1: compare found a regression
        assert result.code in allowed, f"{command}\n{result.err}"
    first, second = read_results(tmp_path / "runs/demo"), read_results(tmp_path / "runs/demo-seed1")
    assert len(first.samples["ids"]) == 6 and first.samples["ids"] == second.samples["ids"]
    assert first.provenance["seeds"]["run_seed"] == 0 and second.provenance["seeds"]["run_seed"] == 1
    assert (tmp_path / "runs/demo-seed1/report-vs-demo.html").is_file()
    scored = read_results(tmp_path / "runs/seed1-vs-seed0.json")
    image_scorers = {"clip", "dinov2", "dinov3", "longclip", "lpips", "psnr", "ssim"} & set(first.scorers)
    assert (
        set(scored.scorers) == image_scorers and scored.scorers["psnr"].n == 6
    )  # no captions: no caption metrics
