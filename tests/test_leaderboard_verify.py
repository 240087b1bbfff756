"""Verifiable submissions end to end, offline: the demo run (uae-tiny, tiny scorers) submitted with its
outputs, re-scored by ``leaderboard verify``; and the leaderboard's out-of-the-box messages."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests._demo import demo_run
from tests._synthetic import make_results
from tests.test_leaderboard import REPO_LEADERBOARD, _forge
from unified_bench.leaderboard import LeaderboardDir, OfficialRegistry
from unified_bench.results import PAPER_SCORERS, read_results, write_results

HF_URL = "https://huggingface.co/datasets/demo-org/uae-tiny-outputs/resolve/main/outputs.zip"


def _board(root: Path, registry: OfficialRegistry | None) -> LeaderboardDir:
    shutil.copytree(REPO_LEADERBOARD / "schema", root / "schema")
    (root / "submissions").mkdir()
    if registry is not None:
        (root / "official-fingerprints.json").write_text(json.dumps(registry.to_json()))
    return LeaderboardDir(root)


@pytest.fixture
def demo(session_cache, tmp_path) -> tuple[Path, LeaderboardDir]:
    """The demo run and a leaderboard whose official values are that run's (images, ids, weights)."""
    run_dir = demo_run(session_cache)
    registry = OfficialRegistry.of_run(read_results(run_dir), notice="Demo leaderboard: random weights.")
    return run_dir, _board(tmp_path / "leaderboard", registry)


def _tiny_scorers() -> list[str]:
    from unified_bench.scorers.tiny import ensure_tiny_scorer_weights

    weights = ensure_tiny_scorer_weights()
    return [arg for name in PAPER_SCORERS for arg in ("--scorer", f"{name}={weights[name]}")]


def _submit_with_outputs(cli, run_dir: Path, board: LeaderboardDir, archive: Path) -> dict:
    result = cli(
        "submit", run_dir, "--name", "uae-tiny-demo", "--url", "https://example.org/uae-tiny",
        "--outputs", archive, "--outputs-url", HF_URL, "--leaderboard-dir", board.root,
    )  # fmt: skip
    assert result.code == 0, result.err
    return json.loads(board.submission_path("uae-tiny-demo").read_text())


def _verify(cli, board: LeaderboardDir, archive: Path):
    return cli(
        "leaderboard", "verify", "uae-tiny-demo", "--outputs", archive, "--dataset", "samples",
        *_tiny_scorers(), "--leaderboard-dir", board.root,
    )  # fmt: skip


def test_an_honest_archive_verifies_and_the_site_marks_the_entry_verified(cli, demo, tmp_path):
    run_dir, board = demo
    archive = tmp_path / "outputs.zip"
    obj = _submit_with_outputs(cli, run_dir, board, archive)
    assert obj["outputs"] == {
        "location": HF_URL,
        "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "bytes": archive.stat().st_size,
    }
    ids = obj["results"]["samples"]["ids"]
    with zipfile.ZipFile(archive) as packed:
        assert sorted(packed.namelist()) == sorted(["captions.jsonl", *(f"images/{i}.png" for i in ids)])
        assert packed.read(f"images/{ids[0]}.png") == (run_dir / "images" / f"{ids[0]}.png").read_bytes()

    result = _verify(cli, board, archive)
    assert result.code == 0, result.err
    assert f"{len(ids) * len(PAPER_SCORERS)} per-sample scores reproduced" in result.err
    record = json.loads(board.verification_path("uae-tiny-demo").read_text())
    assert record["outputs_sha256"] == obj["outputs"]["sha256"] and record["max_difference"] <= 1e-4

    validated = cli("leaderboard", "validate", "--leaderboard-dir", board.root)
    assert validated.code == 0 and "1 submission(s) valid (1 verified)" in validated.err
    assert (
        cli("leaderboard", "build", "--output", tmp_path / "site", "--leaderboard-dir", board.root).code == 0
    )
    page = (tmp_path / "site" / "index.html").read_text()
    assert "class='badge verified'" in page and "class='badge self-reported'" not in page
    assert "(1 verified, 0 self-reported)" in page
    rows = list(csv.DictReader((tmp_path / "site" / "leaderboard.csv").open()))
    assert rows[0]["status"] == "verified"

    # Editing the verified submission afterwards voids its verification.
    obj["metadata"]["org"] = "someone else"
    board.submission_path("uae-tiny-demo").write_text(json.dumps(obj))
    stale = cli("leaderboard", "validate", "--leaderboard-dir", board.root)
    assert stale.code == 1 and "verified another version of this submission" in stale.err


def test_one_changed_per_sample_score_fails_verification(cli, demo, tmp_path):
    run_dir, board = demo
    archive = tmp_path / "outputs.zip"
    obj = _submit_with_outputs(cli, run_dir, board, archive)
    clip = obj["results"]["scorers"]["clip"]["per_sample"]
    target = obj["results"]["samples"]["ids"][3]
    _forge(obj, per_sample={"clip": {**clip, target: clip[target] + 0.002}})  # aggregates recomputed
    board.submission_path("uae-tiny-demo").write_text(json.dumps(obj))
    assert cli("leaderboard", "validate", "--leaderboard-dir", board.root).code == 0  # self-consistent

    result = _verify(cli, board, archive)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: uae-tiny-demo: 1 of ")
    assert f"clip {target}: submitted {clip[target] + 0.002:.6f}, re-scored {clip[target]:.6f}" in lines[0]
    assert not board.verification_path("uae-tiny-demo").exists()


def test_another_archive_than_the_submitted_one_is_refused(cli, demo, tmp_path):
    run_dir, board = demo
    archive = tmp_path / "outputs.zip"
    _submit_with_outputs(cli, run_dir, board, archive)
    again = tmp_path / "again.zip"
    from unified_bench.leaderboard.outputs import pack_outputs

    pack_outputs(run_dir, read_results(run_dir), again)
    assert again.read_bytes() == archive.read_bytes()  # the same run packs to the same bytes
    with zipfile.ZipFile(again, "a") as packed:
        packed.writestr("extra.txt", "x")
    result = _verify(cli, board, again)
    assert result.code == 1 and "is not the submitted outputs'" in result.err


def test_a_submission_without_outputs_cannot_be_verified(cli, demo, tmp_path):
    run_dir, board = demo
    assert (
        cli(
            "submit", run_dir, "--name", "plain", "--url", "https://e.org", "--leaderboard-dir", board.root
        ).code
        == 0
    )
    result = cli("leaderboard", "verify", "plain", "--leaderboard-dir", board.root)
    assert result.code == 1 and "records no outputs archive" in result.err and "--outputs FILE" in result.err


def test_a_repeats_run_is_packed_and_verified_seed_by_seed(cli, tmp_path):
    """``run --repeats 2`` of uae-tiny on two photos: each seed's outputs are packed and re-scored."""
    from unified_bench.datasets import load_dataset
    from unified_bench.evaluate import RunRequest, ScoringOptions
    from unified_bench.images import png_bytes
    from unified_bench.repeats import execute_repeats
    from unified_bench.scorers.sets import tiny_scorer_specs

    photos = tmp_path / "photos"
    photos.mkdir()
    for sample in load_dataset("samples").samples[:2]:
        (photos / f"{sample.id}.png").write_bytes(png_bytes(sample.image))
    paper = tuple(spec for spec in tiny_scorer_specs() if spec.split("=")[0] in PAPER_SCORERS)
    run_dir = tmp_path / "runs" / "two-seeds"
    request = RunRequest(
        model="uae-tiny", dataset=str(photos), output=run_dir, scoring=ScoringOptions(paper, n_resamples=200)
    )
    combined = execute_repeats(request, 2)
    board = _board(tmp_path / "leaderboard", OfficialRegistry.of_run(combined))
    archive = tmp_path / "outputs.zip"
    submitted = cli(
        "submit", run_dir, "--name", "two-seeds", "--url", "https://e.org", "--outputs", archive,
        "--leaderboard-dir", board.root,
    )  # fmt: skip
    assert submitted.code == 0, submitted.err
    with zipfile.ZipFile(archive) as packed:
        names = set(packed.namelist())
    ids = combined.samples["ids"]
    assert names == {
        f"{run}/{f}"
        for run in ("repeat-1", "repeat-2")
        for f in ["captions.jsonl", *(f"images/{i}.png" for i in ids)]
    }
    result = cli(
        "leaderboard", "verify", "two-seeds", "--dataset", photos, *_tiny_scorers(),
        "--leaderboard-dir", board.root,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert f"{2 * len(ids) * len(PAPER_SCORERS)} per-sample scores reproduced" in result.err


# -- out of the box -------------------------------------------------------------------------------
def _synthetic_run(tmp_path: Path, n: int = 100) -> Path:
    from tests._synthetic import base_scores

    run_dir = tmp_path / "runs" / "model"
    scores = {name: np.clip(values, -1, 1) for name, values in base_scores(n, 0).items()}
    write_results(run_dir / "results.json", make_results(scores, n_resamples=10_000))
    return run_dir


def test_submit_says_in_one_line_that_official_fingerprints_are_missing(cli, tmp_path):
    before = sorted((REPO_LEADERBOARD / "submissions").iterdir())
    result = cli(
        "submit", _synthetic_run(tmp_path), "--name", "m", "--url", "https://e.org",
        "--leaderboard-dir", REPO_LEADERBOARD,
    )  # fmt: skip
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "no official fingerprints recorded for dataset, clip, dinov2" in lines[0]
    assert "unified-bench leaderboard record-official RUN" in lines[0] and "--registry FILE" in lines[0]
    assert sorted((REPO_LEADERBOARD / "submissions").iterdir()) == before


def test_record_official_then_submit(cli, tmp_path):
    root = tmp_path / "leaderboard"
    board = _board(root, None)
    shutil.copy(REPO_LEADERBOARD / "official-fingerprints.json", board.registry)
    run_dir = _synthetic_run(tmp_path)
    result = cli("leaderboard", "record-official", run_dir, "--leaderboard-dir", root)
    assert result.code == 0, result.err
    recorded = json.loads(board.registry.read_text())
    results = read_results(run_dir)
    assert recorded["dataset"]["fingerprints"] == [results.dataset["fingerprint"]]
    assert recorded["dataset"]["ids"] == results.samples["ids"] and recorded["dataset"]["n_samples"] == 100
    assert recorded["scorers"]["clip"]["fingerprints"] == [results.scorers["clip"].fingerprint]
    assert recorded["about"].startswith("What a leaderboard submission must have been measured with")
    submitted = cli("submit", run_dir, "--name", "m", "--url", "https://e.org", "--leaderboard-dir", root)
    assert submitted.code == 0, submitted.err
    assert "Self-reported: pass --outputs FILE" in submitted.err
    assert cli("leaderboard", "build", "-o", tmp_path / "site", "--leaderboard-dir", root).code == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert "exactly their 100 ids" in page and "10,000 bootstrap resamples at 95%" in page


def test_a_private_leaderboard_uses_its_own_registry_file(cli, tmp_path):
    root = tmp_path / "private"
    _board(root, None)  # no official-fingerprints.json inside
    run_dir = _synthetic_run(tmp_path, n=24)
    registry_file = tmp_path / "our-registry.json"
    registry_file.write_text(json.dumps(OfficialRegistry.of_run(read_results(run_dir)).to_json()))
    without = cli("leaderboard", "validate", "--leaderboard-dir", root)
    assert without.code != 0 and "official-fingerprints.json missing" in without.err
    opts = ("--leaderboard-dir", root, "--registry", registry_file)
    assert cli("submit", run_dir, "--name", "ours", "--url", "https://e.org", *opts).code == 0
    assert cli("leaderboard", "validate", *opts).code == 0
    assert cli("leaderboard", "build", "-o", tmp_path / "site", *opts).code == 0
    assert "our-registry.json" in (tmp_path / "site" / "index.html").read_text()


def test_the_empty_shipped_board_says_what_it_checked(cli, tmp_path):
    result = cli("leaderboard", "build", "-o", tmp_path / "site", "--leaderboard-dir", REPO_LEADERBOARD)
    assert result.code == 0, result.err
    page = (tmp_path / "site" / "index.html").read_text()
    assert "No official fingerprints are recorded yet for dataset, clip, dinov2, dinov3, longclip" in page
    assert "official images and scorer weights" not in page and "bootstrap bootstrap" not in page
    assert "Means with 95% bootstrap intervals" in page
    validated = cli("leaderboard", "validate", "--leaderboard-dir", REPO_LEADERBOARD)
    assert validated.code == 0 and "no submission can be accepted" in validated.err
