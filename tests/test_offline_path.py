"""From the demo to a second run, offline: the tiny scorer set; every hint the CLI prints runs verbatim."""

from __future__ import annotations

from pathlib import Path

from unified_bench.demo import next_steps
from unified_bench.scorers.sets import resolve_scorers, tiny_scorer_specs


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


def test_demo_next_steps_leave_out_a_compare_that_could_never_gate():
    # The full path (demo, then each printed step, verbatim) runs in test_readme_recipes.py.
    full = next_steps(Path("runs/demo"), 0)
    assert full[0].endswith("--scorer-set tiny --seed 1 --output runs/demo-seed1")
    assert "unified-bench compare runs/demo runs/demo-seed1" in full[1]
    small = next_steps(Path("runs/demo"), 2, limit=2)
    assert "--seed 3 --limit 2 --output runs/demo-seed3" in small[0]
    assert "unified-bench compare" not in small[1] and "--limit 6 or more" in small[1]
    assert small[2].endswith("unified-bench report runs/demo runs/demo-seed3")


def test_the_score_hint_after_tiny_training_uses_the_tiny_scorers():
    from unified_bench.cli.train_cmd import score_hint
    from unified_bench_adapters.uae.train.config import load_config

    tiny = score_hint(load_config("u4g", "tiny-u4g"), Path("/t/final"), Path("/t"))
    assert "--model uae --adapter-arg checkpoint=/t/final" in tiny and "--scorer-set tiny" in tiny
    sft = score_hint(load_config("sft", "tiny-sft"), Path("/t/final"), Path("/t"))
    assert "--dataset samples --scorer-set tiny" in sft  # no eval_dataset: the offline photos
    real = score_hint(load_config("u4g", "u4g"), Path("/t/final"), Path("/t"))
    assert "--scorer-set" not in real
