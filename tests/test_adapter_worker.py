"""``--model worker``: protocol v1 end to end, against real worker processes (tests/_protocol_worker.py
and tests/_uae_tiny_worker.py), as a user runs them: through the CLI, one subprocess per worker."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests._protocol_worker import expected_caption, expected_colour

TESTS = Path(__file__).resolve().parent
FAKE_WORKER = TESTS / "_protocol_worker.py"
SCORERS = ("--scorer", "ssim", "--scorer", "psnr")


def _dataset(folder: Path, ids: tuple[str, ...] = ("red", "green", "blue")) -> Path:
    folder.mkdir(parents=True)
    for number, sample_id in enumerate(ids):
        Image.new("RGB", (24, 16), (40 * number, 200 - 30 * number, 90)).save(folder / f"{sample_id}.png")
    return folder


def _command(*flags: object, script: Path = FAKE_WORKER) -> str:
    return shlex.join([sys.executable, str(script), *map(str, flags)])


def _run(cli, data: Path, output: Path, command: str, *extra: str):
    return cli(
        "run", "--model", "worker", "--adapter-arg", f"command={command}", "--dataset", data,
        "--output", output, "--batch-size", "1", *SCORERS, *extra,
    )  # fmt: skip


def _captions(output: Path) -> dict[str, dict]:
    lines = (output / "captions.jsonl").read_text("utf-8").splitlines()
    return {record["id"]: record for record in map(json.loads, lines)}


def _png(image_path: Path) -> bytes:
    """The PNG the harness hands the worker: the reference's pixels, encoded by PIL on its own."""
    buffer = io.BytesIO()
    Image.open(image_path).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _assert_one_line(text: str, *needles: str) -> None:
    """One ``Error:`` line, the last thing printed (progress notes may come before it), no traceback."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert "Traceback" not in text, text
    assert [line for line in lines if line.startswith("Error:")] == lines[-1:], text
    for needle in needles:
        assert needle in lines[-1], lines[-1]


def _requests(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines() if path.exists() else []


def test_a_worker_that_prints_junk_to_stdout_still_serves_every_sample(tmp_path, cli):
    data = _dataset(tmp_path / "data")
    log = tmp_path / "worker.log"
    result = _run(cli, data, tmp_path / "run", _command("--junk"), "--adapter-arg", f"log={log}")
    assert result.code == 0, result.err
    captions = _captions(tmp_path / "run")
    for sample_id, record in captions.items():
        assert record["caption"] == expected_caption(_png(data / f"{sample_id}.png"), record["seed"])
        image = Image.open(tmp_path / "run" / "images" / f"{sample_id}.png")
        assert image.getpixel((0, 0)) == expected_colour(
            record["caption"], _generate_seed(tmp_path, sample_id)
        )
    assert set(captions) == {"red", "green", "blue"}
    logged = log.read_text("utf-8")
    assert (
        "[stdout] {not json" in logged and '[stdout] {"no_id": 1}' in logged and "[stdout] [1, 2]" in logged
    )
    info = json.loads((tmp_path / "run" / "adapter.json").read_text("utf-8"))
    assert info["worker"] == {"model": "protocol test worker", "flags": ["--junk"]}


def _generate_seed(tmp_path: Path, sample_id: str) -> int:
    from unified_bench.seeds import sample_seed

    return sample_seed(0, sample_id, "generate")


def test_a_worker_that_dies_mid_run_stops_with_one_line_and_the_rerun_resumes(tmp_path, cli):
    data = _dataset(tmp_path / "data")
    requests, marker = tmp_path / "requests.txt", tmp_path / "died"
    command = _command("--die-once", marker, "--on", "generate", "--requests", requests)
    first = _run(cli, data, tmp_path / "run", command, "--adapter-arg", "restarts=0")
    assert first.code != 0
    _assert_one_line(first.err, "exited with code 3", "simulated crash in the model", "rerun")
    assert list(_captions(tmp_path / "run")) == ["blue"]  # dataset order: blue, green, red
    assert not list((tmp_path / "run" / "images").glob("*.png"))

    requests.unlink()
    second = _run(cli, data, tmp_path / "run", command, "--adapter-arg", "restarts=0")
    assert second.code == 0, second.err
    # The finished caption was kept: only the two other samples were captioned again.
    assert _requests(requests) == ["generate 1", "caption 1", "generate 1", "caption 1", "generate 1"]
    assert sorted(p.stem for p in (tmp_path / "run" / "images").glob("*.png")) == ["blue", "green", "red"]


def test_a_worker_that_dies_is_restarted_and_the_request_sent_again(tmp_path, cli):
    data = _dataset(tmp_path / "data")
    log = tmp_path / "worker.log"
    command = _command("--die-once", tmp_path / "died", "--on", "generate")
    result = _run(cli, data, tmp_path / "run", command, "--adapter-arg", f"log={log}")
    assert result.code == 0, result.err
    assert len(list((tmp_path / "run" / "images").glob("*.png"))) == 3
    assert "worker exited (3); restarting it" in log.read_text("utf-8")


def test_a_hanging_worker_is_stopped_after_the_timeout_and_a_longer_timeout_resumes(tmp_path, cli):
    data = _dataset(tmp_path / "data")
    pid_file, requests = tmp_path / "pid", tmp_path / "requests.txt"
    hanging = _command(
        "--hang-once", tmp_path / "hung", "--on", "generate", "--pid", pid_file, "--requests", requests
    )
    result = _run(cli, data, tmp_path / "run", hanging, "--adapter-arg", "timeout=0.5")
    assert result.code != 0
    _assert_one_line(result.err, "no answer to generate within 0.5 s", "timeout=SECONDS", "rerun")
    with pytest.raises(ProcessLookupError):  # the worker was killed (and reaped), not left behind
        os.kill(int(pid_file.read_text()), 0)
    # A timeout cannot change outputs, so it is not part of the run: the longer one resumes.
    resumed = _run(cli, data, tmp_path / "run", hanging, "--adapter-arg", "timeout=60")
    assert resumed.code == 0, resumed.err
    # The first caption was kept; the generate that hung is asked again, then the other two samples.
    assert _requests(requests) == ["caption 1", "generate 1", "generate 1", *["caption 1", "generate 1"] * 2]


@pytest.mark.parametrize(
    ("kind", "code", "needles"),
    [
        ("user", 2, ("worker caption: simulated user failure",)),
        ("oom", 3, ("worker caption: out of memory (simulated oom failure)", "smaller --batch-size")),
        ("internal", 2, ("worker caption: internal error: RuntimeError: tensor shapes disagree", "log:")),
    ],
)
def test_an_error_of_each_kind_is_one_line_without_traceback(tmp_path, cli, kind, code, needles):
    log = tmp_path / "worker.log"
    command = _command("--fail", kind)
    result = _run(cli, _dataset(tmp_path / "data"), tmp_path / "run", command, "--adapter-arg", f"log={log}")
    assert result.code == code
    _assert_one_line(result.err, *needles)
    assert "second line" not in result.err
    if kind == "internal":  # the worker's traceback is in the log, not on the user's screen
        assert "Traceback" in log.read_text("utf-8")


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (("--speaks", "2"), "worker hello: this worker speaks protocol 2, the harness asked for 1"),
        (("--claims", "2"), "speaks protocol 2, this unified-bench speaks 1"),
    ],
)
def test_a_protocol_version_mismatch_is_refused_in_one_line(tmp_path, cli, flags, needle):
    result = _run(cli, _dataset(tmp_path / "data"), tmp_path / "run", _command(*flags))
    assert result.code != 0
    _assert_one_line(result.err, needle)
    assert not (tmp_path / "run" / "captions.jsonl").exists()


def test_paths_with_spaces_and_unicode_and_non_ascii_text(tmp_path, cli):
    """Sample ids are ASCII by the harness's rule (they become file names); everything else may not be:
    the worker's path, the dataset's folder, and the captions (``len(prompt)`` colours the image, so a
    caption mangled on its way back as a prompt shows)."""
    folder = tmp_path / "wörker dir"
    folder.mkdir()
    script = folder / "my worker.py"
    # The copy finds worker_protocol.py next to itself (its folder is on sys.path), not in the repo.
    repo_path_line = 'sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapters" / "workers"))'
    script.write_text(FAKE_WORKER.read_text("utf-8").replace(repo_path_line, ""), "utf-8")
    (folder / "worker_protocol.py").write_bytes(
        (TESTS.parent / "adapters" / "workers" / "worker_protocol.py").read_bytes()
    )
    ids = ("cafe-1", "Nihon_go", "naive.2")
    data = _dataset(tmp_path / "dätä set", ids)
    result = _run(cli, data, tmp_path / "rün", _command(script=script))
    assert result.code == 0, result.err
    captions = _captions(tmp_path / "rün")
    assert set(captions) == set(ids)
    for sample_id in ids:
        record = captions[sample_id]
        assert record["caption"] == expected_caption(_png(data / f"{sample_id}.png"), record["seed"])
        drawn = Image.open(tmp_path / "rün" / "images" / f"{sample_id}.png").getpixel((0, 0))
        assert drawn == expected_colour(record["caption"], _generate_seed(tmp_path, sample_id))


def test_the_template_runs_as_shipped(tmp_path, cli):
    printed = cli("worker-template")
    assert printed.code == 0
    worker = tmp_path / "my_worker.py"
    worker.write_text(printed.out, "utf-8")
    assert "def caption(" in printed.out and "def generate(" in printed.out
    result = _run(
        cli, _dataset(tmp_path / "data"), tmp_path / "run", _command(script=worker), "--size", "20x12"
    )
    assert result.code == 0, result.err
    assert "worker template as shipped: captions and images are placeholders" in result.err
    assert {r["caption"] for r in _captions(tmp_path / "run").values()} == {"a placeholder caption"}
    image = Image.open(tmp_path / "run" / "images" / "red.png")
    assert image.size == (20, 12) and image.getpixel((3, 3)) == (128, 128, 128)


def test_a_command_line_is_not_a_path_but_its_program_must_exist(tmp_path, cli):
    data = _dataset(tmp_path / "data")
    # Absolute program followed by arguments: accepted (the old preflight said "no such file").
    fine = _run(cli, data, tmp_path / "ok", f"{sys.executable} {FAKE_WORKER}")
    assert fine.code == 0, fine.err
    missing = _run(cli, data, tmp_path / "missing", "/no/such/env/bin/python -m my_worker")
    _assert_one_line(missing.err, "command: /no/such/env/bin/python: no such file")
    unknown = _run(cli, data, tmp_path / "unknown", "no-such-program-here --weights x")
    _assert_one_line(unknown.err, "no-such-program-here: no such program on PATH")
    assert not (tmp_path / "missing" / "captions.jsonl").exists()


@pytest.mark.slow
def test_uae_tiny_through_the_protocol_equals_uae_tiny_in_process(tmp_path, cli):
    data = _dataset(tmp_path / "data", ("a", "b"))
    direct = cli("run", "--model", "uae-tiny", "--dataset", data, "--output", tmp_path / "direct", *SCORERS)
    assert direct.code == 0, direct.err
    served = _run(cli, data, tmp_path / "served", _command(script=TESTS / "_uae_tiny_worker.py"))
    assert served.code == 0, served.err
    assert (tmp_path / "served" / "captions.jsonl").read_bytes() == (
        tmp_path / "direct" / "captions.jsonl"
    ).read_bytes()
    for sample_id in ("a", "b"):
        direct_png = (tmp_path / "direct" / "images" / f"{sample_id}.png").read_bytes()
        served_png = (tmp_path / "served" / "images" / f"{sample_id}.png").read_bytes()
        assert hashlib.sha256(served_png).digest() == hashlib.sha256(direct_png).digest()
    info = json.loads((tmp_path / "served" / "adapter.json").read_text("utf-8"))
    assert info["worker"]["served"] == "uae-tiny"


def test_the_worker_sees_the_protocol_variable_and_no_shell(tmp_path):
    """The command is split like a shell but not run by one: ``$HOME`` stays literal."""
    script = tmp_path / "env_worker.py"
    script.write_text(
        "import json, os, sys\n"
        "json.dump({'protocol_env': os.environ.get('UNIFIED_BENCH_WORKER_PROTOCOL'), 'argv': sys.argv[1:]},"
        " open(sys.argv[1], 'w'))\n",
        "utf-8",
    )
    from unified_bench_adapters.worker.process import WorkerError, WorkerProcess

    report = tmp_path / "seen.json"
    argv = shlex.split(f"{sys.executable} {script} {report} '$HOME' 'two words'")
    process = WorkerProcess(argv, timeout=30, restarts=0, log=tmp_path / "log")
    with pytest.raises(WorkerError, match="exited with code 0"):
        process.start()
    assert json.loads(report.read_text()) == {
        "protocol_env": "1",
        "argv": [str(report), "$HOME", "two words"],
    }


@pytest.mark.parametrize(
    ("preset", "marker"),
    [
        ("bagel", "inferencer.py"),
        ("omnigen2", "pipeline_omnigen2.py"),
        ("mmada", "modeling_mmada.py"),
        ("show-o2", "modeling_showo2_qwen2_5.py"),
        ("blip3o", "lumina_nextdit2d.py"),
        ("uniworld", "modeling_univa_qwen2p5vl.py"),
    ],
)
def test_a_preset_starts_its_worker_and_a_wrong_checkout_is_one_line(tmp_path, cli, preset, marker):
    """The preset's command really starts adapters/workers/PRESET.py; the worker refuses a folder
    that is not the official checkout before importing anything heavy, through the protocol."""
    (tmp_path / "not-a-checkout").mkdir()
    (tmp_path / "weights").mkdir()
    result = cli(
        "run", "--model", preset, "--adapter-arg", f"python={sys.executable}",
        "--adapter-arg", f"repo={tmp_path / 'not-a-checkout'}",
        "--adapter-arg", f"weights={tmp_path / 'weights'}",
        "--dataset", _dataset(tmp_path / "data"), "--output", tmp_path / "run", *SCORERS,
    )  # fmt: skip
    assert result.code == 2
    _assert_one_line(result.err, "worker hello: --repo", "not a checkout of https://github.com/", marker)


def test_a_preset_sends_the_benchmark_caption_instruction_and_sampling():
    from unified_bench.prompts import CAPTION_MAX_NEW_TOKENS, CAPTION_PROMPT, CAPTION_TEMPERATURE
    from unified_bench_adapters.worker.presets import PresetConfig, preset_command

    argv = preset_command("bagel", PresetConfig(python="/envs/b/bin/python", repo="/src/B", weights="/m/B",
                                                worker_args="--num-timesteps 30"))  # fmt: skip
    assert argv[0] == "/envs/b/bin/python" and Path(argv[1]).name == "bagel.py" and Path(argv[1]).is_file()
    flags = dict(zip(argv[2:-2:2], argv[3:-2:2], strict=True))
    assert flags == {
        "--repo": "/src/B", "--weights": "/m/B", "--caption-prompt": CAPTION_PROMPT,
        "--caption-temperature": str(CAPTION_TEMPERATURE),
        "--caption-max-tokens": str(CAPTION_MAX_NEW_TOKENS),
    }  # fmt: skip
    assert argv[-2:] == ["--num-timesteps", "30"]


def test_the_minimal_worker_in_the_protocol_doc_works(tmp_path, cli):
    """docs/worker-protocol.md is enough to write a worker: its 30-line example, run as written."""
    doc = (TESTS.parent / "docs" / "worker-protocol.md").read_text("utf-8")
    example = doc.split("## A worker in 30 lines", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "doc_worker.py"
    script.write_text(example, "utf-8")
    result = _run(
        cli, _dataset(tmp_path / "data"), tmp_path / "run", _command(script=script), "--size", "8x6"
    )
    assert result.code == 0, result.err
    assert {r["caption"] for r in _captions(tmp_path / "run").values()} == {"an image of 24 pixels wide"}
    assert Image.open(tmp_path / "run" / "images" / "red.png").size == (8, 6)


def test_adapters_list_names_every_worker_preset_with_its_repository_and_checked_commit(cli):
    result = cli("adapters", "list")
    assert result.code == 0
    text = " ".join(result.out.split())
    for name, repository, commit in (
        ("bagel", "https://github.com/ByteDance-Seed/Bagel", "056b5fd"),
        ("omnigen2", "https://github.com/VectorSpaceLab/OmniGen2", "0f72fa9"),
        ("mmada", "https://github.com/Gen-Verse/MMaDA", "3cdb870"),
        ("show-o2", "https://github.com/showlab/Show-o", "45a5a2d"),
        ("blip3o", "https://github.com/JiuhaiChen/BLIP3o", "4689ec3"),
        ("uniworld", "https://github.com/PKU-YuanGroup/UniWorld-V1", "8403e86"),
    ):
        assert f"git clone {repository}" in text or f"git clone -b main {repository}" in text, name
        assert f"run: unified-bench run --model {name} " in text and f"commit {commit}" in text, name
