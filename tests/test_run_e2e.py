"""`unified-bench run` end to end on uae-tiny + tiny scorers: resume, batch and shard invariance.

These go through the exact code users run (CLI -> registry -> uae-tiny from_pretrained -> store ->
scorers -> results.json); only the weights are tiny and random.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._tiny_training import cache_env
from tests.conftest import subprocess_env
from unified_bench.results import read_results
from unified_bench.scorers.sets import tiny_scorer_specs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scorer_args(session_cache: Path) -> list[str]:
    with cache_env(session_cache):  # module-wide: the autouse per-test cache is not set up yet
        return [arg for spec in tiny_scorer_specs() for arg in ("--scorer", spec)]


def _run_args(output: Path, scorer_args: list[str], *extra: str) -> list[str]:
    return [
        "run",
        "--model",
        "uae-tiny",
        "--dataset",
        "samples",
        "--output",
        str(output),
        *scorer_args,
        *extra,
    ]


def _outputs(run_dir: Path) -> tuple[dict, dict, dict]:
    """(captions by id, image bytes by id, per-sample scores by scorer) of a finished run."""
    captions = {}
    for line in (run_dir / "captions.jsonl").read_text().splitlines():
        record = json.loads(line)
        captions[record["id"]] = record["caption"]
    images = {p.stem: p.read_bytes() for p in sorted((run_dir / "images").glob("*.png"))}
    results = read_results(run_dir)
    scores = {name: summary.per_sample for name, summary in results.scorers.items()}
    return captions, images, scores


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, session_cache: Path, scorer_args) -> Path:
    """One uninterrupted run at batch size 4: the yardstick the other runs must equal."""
    from unified_bench.cli.app import main

    output = tmp_path_factory.mktemp("runs") / "reference"
    with cache_env(session_cache), pytest.raises(SystemExit) as exit_info:
        main(_run_args(output, scorer_args, "--batch-size", "4"))
    assert exit_info.value.code == 0
    return output


def test_a_run_writes_captions_images_results_and_table(reference_run):
    captions, images, _ = _outputs(reference_run)
    assert len(captions) == len(images) >= 8
    assert all(isinstance(text, str) for text in captions.values())
    results = read_results(reference_run)
    assert results.protocol == "text"
    assert results.overall.complete and set(results.overall.components) == {
        "clip",
        "dinov2",
        "dinov3",
        "longclip",
    }
    assert results.model["name"] == "uae-tiny" and results.model["info"]
    assert results.dataset["fingerprint"].startswith("sha256:")
    assert results.provenance["packages"]["torch"]
    assert (reference_run / "samples.csv").read_text().startswith("id,caption")


def test_batch_size_one_gives_identical_captions_images_and_scores(tmp_path, reference_run, scorer_args, cli):
    result = cli(*_run_args(tmp_path / "bs1", scorer_args, "--batch-size", "1"))
    assert result.code == 0, result.err
    assert _outputs(tmp_path / "bs1") == _outputs(reference_run)


def test_two_shards_merged_equal_the_unsharded_run(tmp_path, reference_run, scorer_args, cli):
    for index in (0, 1):
        result = cli(
            *_run_args(tmp_path / "sharded", scorer_args, "--shard", f"{index}/2", "--batch-size", "3")
        )
        assert result.code == 0, result.err
    shards = sorted((tmp_path / "sharded").glob("shard-*"))
    assert len(shards) == 2
    merged = cli("merge", *shards, "--output", tmp_path / "merged")
    assert merged.code == 0, merged.err
    assert _outputs(tmp_path / "merged") == _outputs(reference_run)
    reference, combined = read_results(reference_run), read_results(tmp_path / "merged")
    assert combined.overall == reference.overall
    assert combined.scorers == reference.scorers


def test_a_run_killed_mid_way_resumes_to_the_same_result(tmp_path, reference_run, scorer_args, session_cache):
    output = tmp_path / "killed"
    command = [sys.executable, "-m", "unified_bench", *_run_args(output, scorer_args, "--batch-size", "1")]
    env = subprocess_env(session_cache)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    images = output / "images"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if images.is_dir() and len(list(images.glob("*.png"))) >= 2:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(images.glob("*.png")))
    assert 2 <= finished < 8, f"the kill should land mid-way (found {finished} images)"
    assert not (output / "results.json").exists()

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert _outputs(output) == _outputs(reference_run)
    lines = (output / "captions.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines)), "finished samples must not be captioned twice"


def test_rerunning_a_finished_run_redoes_nothing(tmp_path, reference_run, scorer_args, cli):
    before = {p.name: p.stat().st_mtime_ns for p in (reference_run / "images").iterdir()}
    result = cli(*_run_args(reference_run, scorer_args, "--batch-size", "4"))
    assert result.code == 0, result.err
    assert "Loading adapter" not in result.err
    assert {p.name: p.stat().st_mtime_ns for p in (reference_run / "images").iterdir()} == before
