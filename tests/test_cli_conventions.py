"""Conventions users bring from lm-eval / lmms-eval and XDG: each one, as a user types it."""

from __future__ import annotations

from pathlib import Path

import pytest

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


NAME_ERRORS = {
    "adapter": (["run", "--model", "uea", "--dataset", "samples"], "Did you mean 'uae'?"),
    "dataset": (["run", "--model", "uae-tiny", "--dataset", "sampels"], "Did you mean 'samples'?"),
    "scorer": (["run", "--model", "uae-tiny", "--dataset", "samples", "-s", "clp"], "Did you mean 'clip'?"),
    "scorer set": (["score", "G", "R", "--scorer-set", "papr"], "tiny, paper, all"),
}


def test_misspelt_names_are_refused_before_torch_is_imported(tmp_path):
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    probe = (
        "import sys, json\nfrom unified_bench.cli.app import main\n"
        "try:\n    main(json.loads(sys.argv[1]))\nexcept SystemExit as e:\n    code = e.code\n"
        "print('torch' in sys.modules, code)"
    )
    import json

    for kind, (args, words) in NAME_ERRORS.items():
        done = subprocess.run(
            [sys.executable, "-c", probe, json.dumps([*args, "-o", str(tmp_path / kind)])],
            capture_output=True,
            text=True,
            env=subprocess_env(tmp_path / "cache"),
            timeout=120,
        )
        assert done.stdout.split() == ["False", "2"], f"{kind}: {done.stdout} {done.stderr}"
        assert words in done.stderr and not (tmp_path / kind).exists()


def test_the_python_api_turns_third_party_bars_off_for_the_call_and_back_on_after(tmp_path, session_cache):
    import transformers
    from PIL import Image

    import unified_bench

    for folder in (tmp_path / "g", tmp_path / "r"):
        folder.mkdir()
        Image.new("RGB", (32, 32), (90, 20, 200)).save(folder / "a.png")
    hf_logging = transformers.utils.logging
    seen = []

    class Watch:  # the switch every transformers bar reads, observed while the call runs
        def stage(self, name, total):
            seen.append(hf_logging.is_progress_bar_enabled())

        def advance(self, name, amount): ...
        def note(self, text): ...

    hf_logging.enable_progress_bar()
    unified_bench.score(
        tmp_path / "g", tmp_path / "r", scorers=["psnr"], output=tmp_path / "o.json", hooks=Watch()
    )
    assert seen and not any(seen)
    assert hf_logging.is_progress_bar_enabled()  # the caller's setting is back
    unified_bench.score(
        tmp_path / "g",
        tmp_path / "r",
        scorers=["psnr"],
        output=tmp_path / "v.json",
        hooks=Watch(),
        verbose=True,
    )
    assert seen[-1] is True


def test_log_file_gets_the_progress_lines_messages_and_errors_as_plain_text(cli, tmp_path):
    from PIL import Image

    refs, gens, log = tmp_path / "r", tmp_path / "g", tmp_path / "logs" / "bench.log"
    for folder in (refs, gens):
        folder.mkdir()
        Image.new("RGB", (16, 16), (10, 200, 30)).save(folder / "a.png")
    assert cli("score", gens, refs, "-s", "psnr", "-o", tmp_path / "o.json", "--log-file", log).code == 0
    text = log.read_text()
    assert "scoring: 1/1 scores done" in text and f"Results: {tmp_path / 'o.json'}" in text
    assert "\x1b[" not in text and "\r" not in text
    assert cli("score", tmp_path / "none", refs, "-s", "psnr", "--log-file", log).code == 2
    assert log.read_text().startswith(text) and "Error: generated folder" in log.read_text(), (
        log.read_text()
    )  # appended


class _MemoryBound:
    """A real-shaped adapter whose device holds at most ``fits`` images per call: above that it raises
    torch's own ``OutOfMemoryError``, as a GPU does. Its outputs depend on each sample's seed only."""

    def __init__(self, fits: int) -> None:
        self.fits, self.calls = fits, []

    def _check(self, n: int) -> None:
        import torch

        self.calls.append(n)
        if n > self.fits:
            raise torch.OutOfMemoryError(f"CUDA out of memory: {n} images")

    def caption(self, images, *, seeds):
        self._check(len(images))
        return [f"caption {seed}" for seed in seeds]

    def generate(self, prompts, *, seeds, size=None):
        from PIL import Image

        self._check(len(prompts))
        return [Image.new("RGB", (8, 8), (seed % 256, 0, 0)) for seed in seeds]

    def info(self):
        return {}


def _round_trip(tmp_path, name, batch_size, auto, fits):
    from unified_bench.datasets import load_dataset
    from unified_bench.roundtrip import run_round_trip
    from unified_bench.store import RunSpec, RunStore

    dataset = load_dataset("samples")
    store = RunStore(tmp_path / name)
    store.open(RunSpec("fake", {}, "text", 0, None, None, dataset.name, dataset.fingerprint))
    adapter, notes = _MemoryBound(fits), []
    used = run_round_trip(
        adapter,
        list(enumerate(dataset.samples))[:5],
        store,
        run_seed=0,
        batch_size=batch_size,
        halve_on_oom=auto,
        on_note=notes.append,
    )
    return used, adapter.calls, notes, {k: r.caption for k, r in store.captions().items()}


def test_batch_size_auto_halves_on_out_of_memory_and_gives_the_same_outputs(tmp_path):
    import torch

    from unified_bench.evaluate import AUTO_BATCH_CPU, resolve_batch_size

    assert resolve_batch_size("auto", "cpu") == (AUTO_BATCH_CPU, True)
    assert resolve_batch_size("auto", "cuda:1")[1] and resolve_batch_size("8", None) == (8, False)
    used, calls, notes, captions = _round_trip(tmp_path, "auto", 8, True, fits=2)
    assert used == 2 and max(c for c in calls[-3:]) <= 2 and calls[0] == 5
    assert notes == [
        "out of memory: --batch-size auto goes on with batches of 4",
        "out of memory: --batch-size auto goes on with batches of 2",
    ]
    assert captions == _round_trip(tmp_path, "one", 1, False, fits=1)[3]  # as batch size 1
    with pytest.raises(torch.OutOfMemoryError):  # a fixed --batch-size is never changed behind one's back
        _round_trip(tmp_path, "fixed", 8, False, fits=2)


def test_batch_size_words_other_than_auto_are_one_line(cli, tmp_path):
    result = cli("run", "-m", "uae-tiny", "--dataset", "samples", "--batch-size", "big", "-o", tmp_path / "r")
    assert result.code == 2 and "--batch-size 'big': not a whole number (or auto)" in result.err
