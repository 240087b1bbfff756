"""Conventions users bring from lm-eval / lmms-eval and XDG: each one, as a user types it."""

from __future__ import annotations

from pathlib import Path

from unified_bench.cli.app import _pairs
from unified_bench.paths import cache_dir


def test_adapter_args_take_comma_separated_pairs_as_model_args_does():
    assert _pairs(["k=1,k2=2", "model=/m"], "-a") == {"k": "1", "k2": "2", "model": "/m"}
    # A comma inside a value stays in the value unless a new KEY= follows it.
    assert _pairs(["prompt=a, b and c,steps=4"], "-a") == {"prompt": "a, b and c", "steps": "4"}


def test_a_malformed_pair_names_both_spellings(cli, tmp_path):
    result = cli("run", "-m", "uae-tiny", "--dataset", "samples", "-a", "oops,k=1", "-o", tmp_path / "r")
    assert result.code == 2 and "KEY=VALUE,KEY2=VALUE2" in result.err and not (tmp_path / "r").exists()


def test_the_cache_follows_xdg_cache_home_unless_unified_bench_cache_is_set(monkeypatch, tmp_path):
    monkeypatch.delenv("UNIFIED_BENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("models") == tmp_path / "xdg" / "unified-bench" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == Path(tmp_path / "home" / ".cache" / "unified-bench")
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "own"


def test_run_config_file_gives_the_options_and_command_line_flags_win(cli, tmp_path):
    from unified_bench.results import read_results

    config = tmp_path / "run.yaml"
    config.write_text(
        "model: uae-tiny\ndataset: samples\nlimit: 1\nseed: 5\nscorer: [psnr]\n"
        f"output: {tmp_path / 'from-file'}\nbatch-size: 2\n"
    )
    result = cli("run", "--config", config, "--seed", "2", "-o", tmp_path / "from-flag")
    assert result.code == 0, result.err
    assert not (tmp_path / "from-file").exists()
    results = read_results(tmp_path / "from-flag")
    assert results.provenance["seeds"]["run_seed"] == 2 and list(results.scorers) == ["psnr"]
    assert len(results.samples["ids"]) == 1 and results.provenance["batch_size"] == 2


def test_run_config_file_json_with_an_unknown_key_is_one_line_and_runs_nothing(cli, tmp_path):
    config = tmp_path / "run.json"
    config.write_text('{"model": "uae-tiny", "batchsize": 2, "output": "%s"}' % (tmp_path / "r"))
    result = cli("run", "--config", config)
    assert result.code == 2 and "unknown option 'batchsize'" in result.err and "batch_size" in result.err
    assert "Traceback" not in result.err and not (tmp_path / "r").exists()
