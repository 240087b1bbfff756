"""Bad input gets one clear line and a non-zero exit, never a traceback, and destroys nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests._errors import assert_one_line_error
from unified_bench.store import RunSpec, RunStore


def _images(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (16, 16), (40 * i, 100, 200)).save(folder / f"img{i}.png")
    return folder


def test_help_answers_without_importing_torch():
    code = (
        "import sys; from unified_bench.cli.app import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help'"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "run" in completed.stdout and "score" in completed.stdout


def test_unknown_adapter_lists_the_known_ones(cli, tmp_path):
    result = cli("run", "--model", "nope", "--dataset", _images(tmp_path / "d"), "--output", tmp_path / "o")
    assert_one_line_error(result, "Unknown adapter 'nope'", "uae", "uae-tiny")


def test_unknown_scorer_lists_the_known_ones(cli, tmp_path):
    refs = _images(tmp_path / "refs")
    result = cli("score", refs, refs, "--scorer", "nope")
    assert_one_line_error(result, "Unknown scorer 'nope'", "clip", "dinov2")


@pytest.mark.parametrize(
    "make_dataset, fragment",
    [
        (lambda p: p / "missing", "missing"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "empty"),
    ],
)
def test_missing_or_empty_dataset_folder(cli, tmp_path, make_dataset, fragment):
    dataset = make_dataset(tmp_path)
    result = cli("run", "--model", "uae-tiny", "--dataset", dataset, "--output", tmp_path / "o")
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "o" / "captions.jsonl").exists()


def test_unreadable_image_names_the_file(cli, tmp_path):
    folder = _images(tmp_path / "d")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = cli("run", "--model", "uae-tiny", "--dataset", folder, "--output", tmp_path / "o")
    assert_one_line_error(result, "broken.png")


def test_malformed_manifest_line_names_file_and_line(cli, tmp_path):
    _images(tmp_path)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"id": "a", "image": "img0.png"}\n{"id": "b", "image": \n')
    result = cli("run", "--model", "uae-tiny", "--dataset", manifest, "--output", tmp_path / "o")
    assert_one_line_error(result, "m.jsonl:2")


@pytest.mark.parametrize("bad_id", ["../escape", "/etc/passwd", "a/b"])
def test_manifest_id_escaping_the_output_folder_is_refused(cli, tmp_path, bad_id):
    _images(tmp_path)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": bad_id, "image": "img0.png"}) + "\n")
    result = cli("run", "--model", "uae-tiny", "--dataset", manifest, "--output", tmp_path / "o")
    assert_one_line_error(result, "m.jsonl:1")


def test_output_holding_another_run_is_refused_and_left_intact(cli, tmp_path):
    output = tmp_path / "o"
    spec = RunSpec(
        model="uae",
        adapter_args={},
        protocol="text",
        seed=9,
        size=None,
        dtype=None,
        dataset_name="x",
        dataset_fingerprint="sha256:" + "2" * 64,
    )
    RunStore(output).open(spec)
    (output / "captions.jsonl").write_text('{"id": "a", "index": 0, "caption": "keep me", "seed": 1}\n')
    before = (output / "run.json").read_text()
    result = cli("run", "--model", "uae-tiny", "--dataset", _images(tmp_path / "d"), "--output", output)
    assert_one_line_error(result, "different configuration", "--overwrite")
    assert (output / "run.json").read_text() == before
    assert "keep me" in (output / "captions.jsonl").read_text()


def test_results_of_another_schema_version_are_refused(cli, tmp_path):
    run = tmp_path / "shard"
    spec = RunSpec(
        model="uae",
        adapter_args={},
        protocol="text",
        seed=0,
        size=None,
        dtype=None,
        dataset_name="x",
        dataset_fingerprint="sha256:" + "2" * 64,
    )
    RunStore(run).open(spec)
    (run / "results.json").write_text(json.dumps({"kind": "unified-bench/results", "schema_version": 0}))
    result = cli("merge", run, "--output", tmp_path / "merged")
    assert_one_line_error(result, "schema version 0")


@pytest.mark.parametrize(
    "flag, value, fragment",
    [
        ("--size", "big", "--size"),
        ("--shard", "3/2", "--shard"),
        ("--adapter-arg", "novalue", "KEY=VALUE"),
        ("--adapter-arg", "no_such_setting=1", "no_such_setting"),
        ("--batch-size", "0", "--batch-size"),
    ],
)
def test_bad_flags_are_one_line_errors(cli, tmp_path, flag, value, fragment):
    result = cli(
        "run",
        "--model",
        "uae-tiny",
        "--dataset",
        _images(tmp_path / "d"),
        "--output",
        tmp_path / "o",
        "--scorer",
        "ssim",
        flag,
        value,
    )
    assert_one_line_error(result, fragment)


def test_score_reports_unmatched_references_and_fails_unless_allowed(cli, tmp_path):
    refs = _images(tmp_path / "refs", 3)
    gens = tmp_path / "gens"
    gens.mkdir()
    for name in ("img0.png", "recon_img1.png"):
        Image.new("RGB", (16, 16), "white").save(gens / name)
    args = ("score", gens, refs, "--scorer", "ssim", "--scorer", "psnr")
    result = cli(*args)
    assert_one_line_error(result, "1 of 3 references", "img2", "--allow-missing")
    results = json.loads((gens / "results.json").read_text())
    assert results["samples"]["missing"] == ["img2"]
    assert set(results["scorers"]["ssim"]["per_sample"]) == {"img0", "img1"}
    assert cli(*args, "--allow-missing").code == 0


# -- usage mistakes: one line, the usage, exit 2 -----------------------------------------------------
USAGE_MISTAKES = [
    pytest.param(["run"], "Missing option '--model'", id="run-without-model"),
    pytest.param(["run", "-m", "uae-tiny", "--no-such-flag"], "--no-such-flag", id="unknown-option"),
    pytest.param(["compare", "a", "b", "--format", "html"], "'html' is not one of", id="bad-choice"),
    pytest.param(["adapters", "show"], "No such command 'show'", id="unknown-subcommand"),
    pytest.param(["frobnicate"], "No such command 'frobnicate'", id="unknown-command"),
    pytest.param(["train", "uae"], "Missing option '--stage'", id="train-without-stage"),
    pytest.param(["report"], "Missing argument", id="report-without-run"),
    pytest.param(["score", "only-one-folder"], "Missing argument", id="score-one-folder"),
]


@pytest.mark.parametrize("args, fragment", USAGE_MISTAKES)
def test_usage_mistakes_are_one_line_plus_usage_and_exit_2(cli, args, fragment):
    result = cli(*args)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err + result.out
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("Error: ") and fragment in lines[0], result.err
    assert sum(line.startswith("Error:") for line in lines) == 1
    assert lines[1].startswith("Usage: unified-bench"), result.err
    assert "-h' for help" in lines[-1]


def _command_paths(command, prefix=()):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*prefix, name))


def test_dash_h_works_everywhere_without_python_type_names(cli):
    from unified_bench.cli.app import build_command

    paths = list(_command_paths(build_command()))
    assert {("run",), ("train", "uae"), ("leaderboard",)} <= set(paths)
    for path in paths:
        result = cli(*path, "-h")
        assert result.code == 0, (path, result.err)
        assert "Usage" in result.out, path
        for python_name in ("<str>", "<int>", "<bool>", "list[", "<Path>", "<path>"):
            assert python_name not in result.out, (path, python_name)


def test_version_and_bare_command(cli):
    from unified_bench import __version__

    version = cli("--version")
    assert version.code == 0 and version.out.strip() == f"unified-bench {__version__}"
    bare = cli()
    assert bare.code == 0 and "Usage" in bare.out and "run" in bare.out and "UNIFIED_BENCH_CACHE" in bare.out
    assert "Traceback" not in bare.err


@pytest.mark.parametrize(
    "args, suggestion",
    [
        (["run", "-m", "uae-tinyy", "--dataset", "samples"], "Did you mean 'uae-tiny'?"),
        (["run", "-m", "janus_pro", "--dataset", "samples"], "Did you mean 'janus-pro'?"),
        (["run", "-m", "uae-tiny", "--dataset", "unibenh"], "Did you mean 'unibench'?"),
        (["score", ".", ".", "--scorer", "lpipz"], "Did you mean 'lpips'?"),
    ],
)
def test_misspelt_names_get_a_suggestion(cli, tmp_path, args, suggestion):
    result = cli(*[str(tmp_path) if a == "." else a for a in args], "--output", tmp_path / "o")
    assert_one_line_error(result, suggestion)
