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
from PIL import Image

from tests._demo import demo_run
from tests._leaderboard import REPO_LEADERBOARD, forge
from tests._synthetic import make_results
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
    rescored = record["rescored"][""]
    assert set(rescored) == set(PAPER_SCORERS) and set(rescored["clip"]) == set(ids)
    assert (
        max(
            abs(rescored[n][i] - obj["results"]["scorers"][n]["per_sample"][i]) for n in rescored for i in ids
        )
        <= 1e-4
    )
    canonical = json.dumps(record["rescored"], sort_keys=True, separators=(",", ":")).encode()
    assert record["rescored_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert record["scorers"] == {n: s["fingerprint"] for n, s in obj["results"]["scorers"].items()}
    assert record["unified_bench_version"] and record["verified_at"] >= obj["metadata"]["submitted_at"]

    validated = cli("leaderboard", "validate", "--leaderboard-dir", board.root)
    assert validated.code == 0 and "1 submission(s) valid (1 verified)" in validated.err
    assert (
        cli("leaderboard", "build", "--output", tmp_path / "site", "--leaderboard-dir", board.root).code == 0
    )
    page = (tmp_path / "site" / "index.html").read_text()
    assert "class='badge verified'" in page and "class='badge self-reported'" not in page
    assert "class='badge suspect'" not in page  # the tiny model's captions differ per image
    assert "data-status='verified'" in page and '<select id="status-filter">' in page
    assert "(1 verified, 0 self-reported)" in page
    rows = list(csv.DictReader((tmp_path / "site" / "leaderboard.csv").open()))
    assert rows[0]["status"] == "verified"

    # Editing the verified submission afterwards voids its verification.
    obj["metadata"]["org"] = "someone else"
    board.submission_path("uae-tiny-demo").write_text(json.dumps(obj))
    stale = cli("leaderboard", "validate", "--leaderboard-dir", board.root)
    assert stale.code == 1 and "verified another version of this submission" in stale.err


def test_a_complete_looking_forged_verification_record_is_refused(cli, demo, tmp_path):
    run_dir, board = demo
    obj = _submit_with_outputs(cli, run_dir, board, tmp_path / "outputs.zip")
    sha = hashlib.sha256(board.submission_path("uae-tiny-demo").read_bytes()).hexdigest()
    board.verified.mkdir()
    record = board.verification_path("uae-tiny-demo")
    # Every field filled in as verify writes them, but scores copied from the submission with one made up:
    # the digest matches (a forger can compute it), the scores must still reproduce the submission.
    ids = obj["results"]["samples"]["ids"]
    rescored = {"": {n: dict(s["per_sample"]) for n, s in obj["results"]["scorers"].items()}}
    rescored[""]["clip"][ids[0]] += 0.01
    forged = {
        "schema_version": 2, "kind": "unified-bench/verification", "name": "uae-tiny-demo",
        "submission_sha256": sha, "outputs_sha256": obj["outputs"]["sha256"],
        "dataset_fingerprint": obj["results"]["dataset"]["fingerprint"],
        "scorers": {n: s["fingerprint"] for n, s in obj["results"]["scorers"].items()},
        "compared": len(ids) * len(PAPER_SCORERS), "rescored": rescored,
        "rescored_sha256": hashlib.sha256(
            json.dumps(rescored, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest(),
        "verified_at": obj["metadata"]["submitted_at"], "unified_bench_version": "0.1.0",
    }  # fmt: skip
    record.write_text(json.dumps(forged))
    result = cli("leaderboard", "validate", "--leaderboard-dir", board.root)
    assert (
        result.code == 1
        and f"do not reproduce this submission (1 of {forged['compared']}: clip" in result.err
    )
    forged["rescored"][""]["clip"][ids[0]] -= 0.01  # now the digest no longer matches the scores
    record.write_text(json.dumps(forged))
    result = cli("leaderboard", "validate", "--leaderboard-dir", board.root)
    assert result.code == 1 and "do not match their digest" in result.err


def test_verify_ignores_a_poisoned_embedding_cache(cli, demo, tmp_path, monkeypatch):
    """Every cached reference embedding replaced by another unit vector of the right width: it changes
    an ordinary scoring, and verify, which computes every embedding itself, still reproduces the scores."""
    from unified_bench.datasets import load_dataset
    from unified_bench.images import sha256_bytes
    from unified_bench.scorers import build_scorers
    from unified_bench.scorers.cache import EmbeddingCache
    from unified_bench.scoring import ScoringItem, score_items

    run_dir, board = demo
    archive = tmp_path / "outputs.zip"
    obj = _submit_with_outputs(cli, run_dir, board, archive)
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path / "private-cache"))  # the default cache, empty
    scorers = build_scorers([arg for arg in _tiny_scorers() if arg != "--scorer"])
    items = [
        ScoringItem(
            id=s.id,
            reference=s.load_image,
            reference_sha256=s.image_sha256,
            reconstruction=Image.open(run_dir / "images" / f"{s.id}.png").convert("RGB"),
            reconstruction_sha256=sha256_bytes((run_dir / "images" / f"{s.id}.png").read_bytes()),
        )
        for s in load_dataset("samples").samples
    ]
    score_items(items, scorers, cache=EmbeddingCache())  # an ordinary run fills the cache
    entries = sorted((tmp_path / "private-cache" / "embeddings").rglob("*.npy"))
    assert len(entries) == len(items) * len(PAPER_SCORERS)
    rng = np.random.default_rng(0)
    for entry in entries:
        row = np.load(entry)
        wrong = rng.normal(size=row.shape).astype(np.float32)
        np.save(entry, wrong / np.linalg.norm(wrong))
    poisoned = score_items(items, scorers, cache=EmbeddingCache())
    claimed = obj["results"]["scorers"]["clip"]["per_sample"]
    assert max(abs(poisoned["clip"][i] - claimed[i]) for i in claimed) > 0.01  # the poison works

    result = _verify(cli, board, archive)
    assert result.code == 0, result.err
    record = json.loads(board.verification_path("uae-tiny-demo").read_text())
    assert record["max_difference"] <= 1e-4


def test_one_changed_per_sample_score_fails_verification(cli, demo, tmp_path):
    run_dir, board = demo
    archive = tmp_path / "outputs.zip"
    obj = _submit_with_outputs(cli, run_dir, board, archive)
    clip = obj["results"]["scorers"]["clip"]["per_sample"]
    target = obj["results"]["samples"]["ids"][3]
    forge(obj, per_sample={"clip": {**clip, target: clip[target] + 0.002}})  # aggregates recomputed
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


def _noisy_references_run(tmp_path: Path, *, caption: str = "anything", noise: int = 40) -> Path:
    """The issue's forgery: the samples' own images with ±40 uniform noise and one caption for all, run
    through ``--model precomputed`` and scored like the demo (same tiny scorers and bootstrap)."""
    from unified_bench.datasets import load_dataset
    from unified_bench.evaluate import RunRequest, ScoringOptions, execute_run
    from unified_bench.scorers.sets import tiny_scorer_specs

    made = tmp_path / "made-elsewhere"
    (made / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    samples = load_dataset("samples").samples
    for sample in samples:
        pixels = np.asarray(sample.image.convert("RGB"), dtype=np.int16)
        noisy = np.clip(pixels + rng.integers(-noise, noise + 1, pixels.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(made / "images" / f"{sample.id}.png")
    (made / "captions.jsonl").write_text(
        "".join(json.dumps({"id": sample.id, "caption": caption}) + "\n" for sample in samples)
    )
    paper = tuple(spec for spec in tiny_scorer_specs() if spec.split("=")[0] in PAPER_SCORERS)
    run_dir = tmp_path / "runs" / "noisy-references"
    execute_run(
        RunRequest(
            model="precomputed",
            dataset="samples",
            output=run_dir,
            adapter_args={"dir": str(made)},
            scoring=ScoringOptions(paper),  # the demo's bootstrap: the default 10,000
        )
    )
    return run_dir


def test_noisy_references_passed_off_as_reconstructions_are_refused_and_marked_suspect(cli, demo, tmp_path):
    _, board = demo
    run_dir = _noisy_references_run(tmp_path)
    assert read_results(run_dir).overall.mean > 0.9  # what the forgery would rank with
    archive = tmp_path / "outputs.zip"
    refused = cli(
        "submit", run_dir, "--name", "forged", "--url", "https://e.org", "--outputs", archive,
        "--leaderboard-dir", board.root,
    )  # fmt: skip
    lines = refused.err.strip().splitlines()
    assert refused.code == 1 and "8 of 8 reconstructions are near-copies of their references" in lines[0]
    assert not archive.exists() and not board.submission_path("forged").exists()

    # Without outputs it is accepted as self-reported, and the site marks it suspect (one caption for all).
    plain = cli(
        "submit", run_dir, "--name", "forged", "--url", "https://e.org", "--leaderboard-dir", board.root
    )
    assert plain.code == 0, plain.err
    assert cli("leaderboard", "build", "-o", tmp_path / "site", "--leaderboard-dir", board.root).code == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert (
        "class='badge suspect'" in page
        and "8 of 8 samples have the same caption (&#x27;anything&#x27;)" in page
    )
    row = next(csv.DictReader((tmp_path / "site" / "leaderboard.csv").open()))
    assert row["status"] == "self-reported" and "8 of 8 samples have the same caption" in row["suspect"]

    # Packed by hand and attached to the submission: verify refuses it and records nothing.
    from unified_bench.leaderboard.outputs import pack_outputs

    obj = json.loads(board.submission_path("forged").read_text())
    obj["outputs"] = pack_outputs(run_dir, read_results(run_dir), archive).to_json()
    board.submission_path("forged").write_text(json.dumps(obj))
    result = cli(
        "leaderboard", "verify", "forged", "--outputs", archive, "--dataset", "samples", *_tiny_scorers(),
        "--leaderboard-dir", board.root,
    )  # fmt: skip
    lines = result.err.strip().splitlines()
    assert result.code == 1 and len(lines) == 1 and "near-copies of their references" in lines[0]
    assert not board.verification_path("forged").exists()


def test_exact_copies_of_the_references_are_refused_as_near_copies_not_as_out_of_range(cli, demo, tmp_path):
    """Float32 gives an exact copy a cosine of 1.0000000064: within rounding; the copy is the problem."""
    _, board = demo
    run_dir = _noisy_references_run(tmp_path, noise=0)
    result = cli(
        "submit", run_dir, "--name", "copies", "--url", "https://e.org", "--outputs", tmp_path / "o.zip",
        "--leaderboard-dir", board.root,
    )  # fmt: skip
    lines = result.err.strip().splitlines()
    assert result.code == 1 and "8 of 8 reconstructions are near-copies" in lines[0], result.err
    assert "outside its range" not in result.err


def _record_archive(board: LeaderboardDir, obj: dict, archive: Path) -> None:
    """Make the submission claim ``archive`` (its sha256 and size), as a forger editing both would."""
    obj["outputs"].update(
        sha256=hashlib.sha256(archive.read_bytes()).hexdigest(), bytes=archive.stat().st_size
    )
    board.submission_path(obj["name"]).write_text(json.dumps(obj))


def test_an_archive_missing_a_reconstruction_fails_verification(cli, demo, tmp_path):
    run_dir, board = demo
    archive = tmp_path / "outputs.zip"
    obj = _submit_with_outputs(cli, run_dir, board, archive)
    dropped = obj["results"]["samples"]["ids"][2]
    smaller = tmp_path / "smaller.zip"
    with zipfile.ZipFile(archive) as full, zipfile.ZipFile(smaller, "w") as packed:
        for info in full.infolist():
            if info.filename != f"images/{dropped}.png":
                packed.writestr(info, full.read(info))
    _record_archive(board, obj, smaller)
    result = _verify(cli, board, smaller)
    lines = result.err.strip().splitlines()
    assert result.code == 1 and len(lines) == 1
    assert f"{len(PAPER_SCORERS)} of " in lines[0] and f"{dropped}: no reconstruction or caption" in lines[0]
    assert not board.verification_path("uae-tiny-demo").exists()


def test_a_corrupt_archive_entry_is_one_line(cli, demo, tmp_path):
    """A flipped byte inside a stored PNG: the zip opens, the entry's CRC fails."""
    run_dir, board = demo
    archive = tmp_path / "outputs.zip"
    obj = _submit_with_outputs(cli, run_dir, board, archive)
    name = f"images/{obj['results']['samples']['ids'][0]}.png"
    with zipfile.ZipFile(archive) as packed:
        info = packed.getinfo(name)
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    _record_archive(board, obj, archive)
    result = _verify(cli, board, archive)
    lines = result.err.strip().splitlines()
    assert result.code != 0 and len(lines) == 1 and "Traceback" not in result.err
    assert f"{name} is corrupt" in lines[0]
    archive.write_bytes(bytes(data[: len(data) // 2]))  # truncated: no central directory left
    _record_archive(board, obj, archive)
    result = _verify(cli, board, archive)
    assert (
        result.code != 0 and len(result.err.strip().splitlines()) == 1 and "not a zip archive" in result.err
    )


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
        "--dataset", photos, "--leaderboard-dir", board.root,
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
