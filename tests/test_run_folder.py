"""The run folder cannot be corrupted silently: one writer at a time, readers that never leave it,
files others can read, no leftovers of a killed run, and one line instead of every traceback.

Each case drives the real CLI. Fast runs use the `precomputed` adapter and the weightless scorers;
the concurrency test races two real processes on uae-tiny.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from tests._errors import assert_one_line_error
from tests._precomputed import outputs_folder
from tests._synthetic import base_scores, make_results
from tests._tiny_scorers import tiny_specs
from tests.conftest import subprocess_env
from unified_bench.cli.app import main
from unified_bench.errors import InputError
from unified_bench.results import read_results, write_results
from unified_bench.seeds import sample_seed

__all__ = ["tiny_specs"]  # a pytest fixture, used by name


def _run_args(source: Path, output: Path | str, *extra: object) -> list[str]:
    return [
        "run", "--model", "precomputed", "--adapter-arg", f"dir={source}", "--dataset", "samples",
        "--limit", "3", "--output", str(output), "--scorer", "ssim", "--scorer", "psnr", "--device", "cpu",
        *map(str, extra),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return outputs_folder(tmp_path_factory.mktemp("outputs") / "source")


@pytest.fixture(scope="module")
def finished_once(source, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("finished") / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(_run_args(source, output))
    assert exit_info.value.code == 0
    return output


@pytest.fixture
def finished(finished_once, tmp_path) -> Path:
    """A private copy of a finished run, for a test to damage."""
    return Path(shutil.copytree(finished_once, tmp_path / "run"))


def _python(*args: str, **kwargs) -> subprocess.Popen:
    env = subprocess_env(Path(os.environ["UNIFIED_BENCH_CACHE"]))
    return subprocess.Popen([sys.executable, *args], env=env, **kwargs)


# A run in another process that stops once it holds the lock and has started writing (its round
# trip begins), says so on stdout, and goes on when a line arrives on stdin: the second writer is
# tried while the first certainly holds the folder, however loaded the machine is.
_HELD_RUN = """
import sys
from pathlib import Path
from unified_bench.evaluate import RunRequest, ScoringOptions, execute_run

class HoldAtRoundTrip:
    def stage(self, name, total):
        if name == "round trip":
            print("writing", flush=True)
            sys.stdin.readline()
    def advance(self, name, amount): ...
    def note(self, text): ...

source, output = sys.argv[1:]
request = RunRequest(
    model="precomputed", dataset="samples", output=Path(output), limit=3, seed=0,
    adapter_args={"dir": source}, scoring=ScoringOptions(scorers=("ssim",), device="cpu"),
)
execute_run(request, HoldAtRoundTrip())
"""


# -- one writer per run folder ------------------------------------------------------------------------
def test_two_concurrent_runs_on_one_folder_one_is_refused(tmp_path, source, cli):
    output = tmp_path / "race"
    pipe = subprocess.PIPE
    first = _python(
        "-c", _HELD_RUN, str(source), str(output), stdin=pipe, stdout=pipe, stderr=pipe, text=True
    )
    try:
        assert first.stdout.readline().strip() == "writing", first.stderr.read()

        second = cli(*_run_args(source, output, "--seed", "1"))
        assert second.code == 1
        assert_one_line_error(second, f"process {first.pid}", "is writing this run folder")

        _, err = first.communicate("go\n", timeout=120)
    finally:
        first.kill()
        first.wait()
    assert first.returncode == 0, err
    results = read_results(output)
    assert results.provenance["seeds"]["run_seed"] == 0
    lines = [json.loads(line) for line in (output / "captions.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    assert [r["seed"] for r in lines] == [sample_seed(0, r["id"], "caption") for r in lines]
    assert json.loads((output / "run.json").read_text())["seed"] == 0


@pytest.fixture
def held(tmp_path):
    """Another process holding the writer lock of ``tmp_path / 'held'`` until the test ends."""
    folder = tmp_path / "held"
    holder = _python(
        "-c",
        "import sys, time\nfrom unified_bench.store import exclusive_writer\n"
        f"with exclusive_writer({str(folder)!r}):\n    print('held', flush=True)\n    time.sleep(600)\n",
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    yield folder, holder.pid
    holder.kill()
    holder.wait()


def test_run_into_a_folder_another_process_writes_is_refused(held, source, cli):
    folder, pid = held
    result = cli(*_run_args(source, folder))
    assert_one_line_error(result, f"process {pid}", "choose another --output")
    assert result.code == 1
    assert not (folder / "run.json").exists()


def test_merge_into_a_folder_another_process_writes_is_refused(held, finished, cli):
    folder, pid = held
    result = cli("merge", finished, "--output", folder)
    assert_one_line_error(result, f"process {pid}")
    assert not (folder / "results.json").exists()


def test_score_into_a_folder_another_process_writes_is_refused(held, finished, cli):
    folder, pid = held
    result = cli("score", finished / "images", finished / "images", "--scorer", "psnr", "--output",
                 folder / "results.json")  # fmt: skip
    assert_one_line_error(result, f"process {pid}")
    assert not (folder / "results.json").exists()


def test_the_lock_goes_away_with_a_killed_writer(tmp_path, source, cli):
    folder = tmp_path / "killed"
    holder = _python(
        "-c",
        "import time\nfrom unified_bench.store import exclusive_writer\n"
        f"with exclusive_writer({str(folder)!r}):\n    print('held', flush=True)\n    time.sleep(600)\n",
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    result = cli(*_run_args(source, folder))
    assert result.code == 0, result.err


def test_a_symlinked_lock_file_leaves_its_target_alone(finished, source, tmp_path, cli):
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's notes\n")
    (finished / ".lock").unlink()
    (finished / ".lock").symlink_to(precious)  # as a run folder shared by tar or git can carry
    result = cli(*_run_args(source, finished))
    assert result.code == 0, result.err
    assert precious.read_text() == "the user's notes\n"


def test_deleting_the_lock_file_during_a_run_lets_no_second_writer_in(held, source, cli):
    folder, _ = held
    (folder / ".lock").unlink()
    result = cli(*_run_args(source, folder))
    assert result.code == 1
    assert_one_line_error(result, "another unified-bench process", "is writing this run folder")
    assert sorted(p.name for p in folder.iterdir()) == []


# -- a refused command writes nothing -------------------------------------------------------------------
def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` (and ``root``) with its mtime and size: what a refusal must not change."""
    if not root.exists():
        return {}
    paths = [root, *sorted(root.rglob("*"))]
    return {str(p.relative_to(root)): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in paths}


@pytest.mark.parametrize(
    "extra",
    [
        ("--adapter-arg", "nosuchkey=1"),
        ("--scorer", "dinov2=/no/such/weights"),
        ("--seed", "7"),  # another configuration than the run there (into a new folder: accepted)
        ("--rescore", "clip"),  # not a scorer of this run
    ],
    ids=["adapter-arg", "scorer-weights", "other-config", "rescore-name"],
)
def test_a_refused_run_leaves_the_file_system_as_it_was(finished, source, tmp_path, cli, extra):
    outputs = [finished] if "--seed" in extra else [finished, tmp_path / "new-run"]
    for output in outputs:
        before, parent_before = _tree(output), _tree(output.parent)
        result = cli(*_run_args(source, output, *extra))
        assert result.code != 0
        assert "Traceback" not in result.err
        assert _tree(output) == before
        assert _tree(output.parent) == parent_before


def test_the_corrected_command_runs_after_a_refused_one(source, tmp_path, cli):
    output = tmp_path / "X"
    assert cli(*_run_args(source, output, "--adapter-arg", "nosuchkey=1")).code != 0
    assert not output.exists()
    result = cli(*_run_args(source, output))
    assert result.code == 0, result.err


# -- --output is empty, absent or a run folder --------------------------------------------------------
def test_run_into_a_folder_of_scored_reconstructions_is_refused(finished, tmp_path, source, cli):
    recons = tmp_path / "recons"
    shutil.copytree(finished / "images", recons)
    refs = shutil.copytree(finished / "images", tmp_path / "refs")
    assert cli("score", recons, refs, "--scorer", "psnr").code == 0  # recons/results.json
    before = _tree(recons)
    result = cli(*_run_args(source, recons))
    assert_one_line_error(result, f"--output {recons}", "not a unified-bench run folder", "results.json")
    assert _tree(recons) == before


def test_run_into_a_folder_of_other_files_is_refused_and_an_empty_one_is_used(tmp_path, source, cli):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert_one_line_error(cli(*_run_args(source, mine)), "not a unified-bench run folder", "notes.txt")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(*_run_args(source, empty)).code == 0


# -- reruns add scores, never drop them --------------------------------------------------------------
def _rerun(source: Path, output: Path, *scorers: str, extra: tuple[str, ...] = ()) -> list[str]:
    """``run`` of the ``finished`` configuration with only ``scorers``."""
    args = _run_args(source, output, *extra)
    for name in ("ssim", "psnr"):
        args.remove(name)
        args.remove("--scorer")
    return [*args, *(item for name in scorers for item in ("--scorer", name))]


def _with_fingerprint(path: Path, scorer: str, fingerprint: str) -> None:
    """Rewrite ``path`` as if ``scorer`` had been scored by another model (other weights)."""
    results = read_results(path)
    scorers = {**results.scorers, scorer: replace(results.scorers[scorer], fingerprint=fingerprint)}
    write_results(path, replace(results, scorers=scorers))


def test_a_rerun_with_another_scorer_adds_it_and_keeps_the_others(finished, source, cli):
    before = read_results(finished)
    assert cli("report", finished).code == 0
    result = cli(*_rerun(source, finished, "caption_words"))
    assert result.code == 0, result.err
    after = read_results(finished)
    assert sorted(after.scorers) == ["caption_words", "psnr", "ssim"]
    for name in ("ssim", "psnr"):
        assert after.scorers[name].per_sample == before.scorers[name].per_sample
        assert after.scorers[name].fingerprint == before.scorers[name].fingerprint
    captions = {line["id"]: line["caption"] for line in map(json.loads, (finished / "captions.jsonl").open())}
    assert after.scorers["caption_words"].per_sample == {i: len(c.split()) for i, c in captions.items()}
    message = " ".join(result.err.split())
    assert "all 3 samples done; scoring caption_words (new); ssim, psnr kept" in message
    assert "caption_words" in (finished / "report.html").read_text()  # the report follows the results


def test_a_scorer_whose_fingerprint_changed_is_refused_unless_rescored(finished, source, cli):
    _with_fingerprint(finished / "results.json", "ssim", "ssim:other-weights")
    stored = (finished / "results.json").read_bytes()
    psnr = read_results(finished).scorers["psnr"]
    refused = cli(*_rerun(source, finished, "ssim"))
    assert_one_line_error(refused, "ssim was scored as ssim:other-weights", "--rescore ssim")
    assert (finished / "results.json").read_bytes() == stored

    result = cli(*_rerun(source, finished, "ssim", extra=("--rescore", "ssim")))
    assert result.code == 0, result.err
    after = read_results(finished)
    assert after.scorers["ssim"].fingerprint.startswith("ssim:skimage-")
    assert after.scorers["psnr"] == psnr
    assert "scoring ssim (rescored); psnr kept" in " ".join(result.err.split())


def test_score_into_an_existing_results_file_adds_scores_too(finished, tmp_path, cli):
    target = tmp_path / "scores.json"
    images, refs = finished / "images", shutil.copytree(finished / "images", tmp_path / "refs")
    assert cli("score", images, refs, "--scorer", "psnr", "--output", target).code == 0
    psnr = read_results(target).scorers["psnr"]
    result = cli("score", images, refs, "--scorer", "ssim", "--output", target)
    assert result.code == 0, result.err
    after = read_results(target)
    assert sorted(after.scorers) == ["psnr", "ssim"]
    assert after.scorers["psnr"] == psnr


def test_a_resumed_run_says_what_was_kept_and_the_bar_counts_every_sample(finished, source):
    from unified_bench.evaluate import RunRequest, ScoringOptions, execute_run

    (finished / "images" / f"{_first_id(finished)}.png").unlink()

    class Recorded:
        def __init__(self) -> None:
            self.events: list[tuple[str, object, object]] = []

        def stage(self, name: str, total: int) -> None:
            self.events.append(("stage", name, total))

        def advance(self, name: str, amount: int) -> None:
            self.events.append(("advance", name, amount))

        def note(self, text: str) -> None:
            self.events.append(("note", text, None))

    hooks = Recorded()
    request = RunRequest(
        model="precomputed", dataset="samples", output=finished, limit=3, adapter_args={"dir": str(source)},
        scoring=ScoringOptions(scorers=("ssim", "psnr"), device="cpu"),
    )  # fmt: skip
    execute_run(request, hooks)
    assert ("note", "2 of 3 samples already done; 1 to go", None) in hooks.events
    trip = [(kind, value) for kind, name, value in hooks.events if name == "round trip"]
    assert trip == [("stage", 3), ("advance", 2), ("advance", 1)]


def _first_id(run: Path) -> str:
    return json.loads((run / "captions.jsonl").read_text().splitlines()[0])["id"]


# -- files others read, leftovers of a killed run ---------------------------------------------------
def test_files_others_read_get_the_umask_mode(finished, cli):
    umask = os.umask(0o022)
    os.umask(umask)
    assert cli("report", finished).code == 0
    for name in (
        "results.json",
        "samples.csv",
        "run.json",
        "adapter.json",
        "report.html",
        "images/coffee.png",
    ):
        path = finished / name if name != "images/coffee.png" else next((finished / "images").glob("*.png"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, name


def test_stale_temp_files_of_a_killed_run_are_removed_on_resume(finished, source, cli):
    stale = [finished / ".results.json.k9x2ab_z.tmp", finished / "images" / ".coffee.png.q1w2e3r4.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    mine = finished / "notes.tmp"  # not a name our writes use: the user's, left alone
    mine.write_text("keep")
    result = cli(*_run_args(source, finished))
    assert result.code == 0, result.err
    assert not any(path.exists() for path in stale)
    assert mine.read_text() == "keep"


# -- one line instead of a traceback ------------------------------------------------------------------
def test_non_utf8_bytes_in_captions_jsonl(finished, source, cli):
    with open(finished / "captions.jsonl", "ab") as handle:
        handle.write(b'{"id": "x", "index": 9, "caption": "caf\xe9", "seed": 1}\n')
    assert_one_line_error(cli(*_run_args(source, finished)), "captions.jsonl:4", "not UTF-8")


@pytest.mark.parametrize(
    "content", ["[]", '"a run"', '{"model": "precomputed"}', "{not json", b"\xff\xfe{}", '{"size": "big"}']
)
def test_run_json_of_another_shape(finished, source, cli, content):
    path = finished / "run.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = cli(*_run_args(source, finished))
    assert_one_line_error(result, "run.json", "not a unified-bench run file", "--overwrite")
    assert path.read_bytes() == (content if isinstance(content, bytes) else content.encode())


@pytest.mark.parametrize("damage", ["missing", "garbage", "not an object"])
def test_a_finished_run_without_a_readable_adapter_json_is_still_rescored(finished, source, cli, damage):
    before = read_results(finished)
    (finished / "results.json").unlink()
    adapter_json = finished / "adapter.json"
    if damage == "missing":
        adapter_json.unlink()
    else:
        adapter_json.write_text("{garbage" if damage == "garbage" else "[1, 2]")
    result = cli(*_run_args(source, finished))
    assert result.code == 0, result.err
    assert "adapter.json: missing or unreadable" in result.err
    rescored = read_results(finished)
    assert {n: s.per_sample for n, s in rescored.scorers.items()} == {
        n: s.per_sample for n, s in before.scorers.items()
    }


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a too-large write fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_refused_write_in_the_output_is_one_line_and_leaves_no_partial_file(source, tmp_path):
    """The file system refuses the results (a file-size limit stands in for a full disk)."""
    output = tmp_path / "full"
    process = _python(
        "-m", "unified_bench", *_run_args(source, output),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_limit_file_size(4096),
    )  # fmt: skip
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1, err
    assert "Traceback" not in err and err.count("Error:") == 1
    assert "results.json: cannot write (File too large)" in " ".join(err.split())
    assert not (output / "results.json").exists()
    assert not list(output.glob(".*.tmp")), "the temporary file must be removed"


@pytest.mark.parametrize("blocked", ["embeddings", "the whole cache"])
def test_an_unwritable_cache_warns_once_and_scoring_goes_on(
    finished, tmp_path, tiny_specs, monkeypatch, cli, blocked
):
    cache = tmp_path / "cache"
    if blocked == "embeddings":
        cache.mkdir()
        (cache / "embeddings").write_text("")  # a file where the embedding cache's folder should be
    else:
        cache.write_text("")  # the cache root itself is a file
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(cache))
    generated = Path(shutil.copytree(finished / "images", tmp_path / "generated"))
    result = cli("score", generated, finished / "images", "--scorer", f"clip={tiny_specs['clip']}",
                 "--output", tmp_path / "scored" / "results.json")  # fmt: skip
    assert result.code == 0, result.err
    assert result.err.count("going on without the cache") == 1
    assert read_results(tmp_path / "scored" / "results.json").scorers["clip"].n == 3


def test_a_non_utf8_output_path(source, tmp_path):
    output = os.fsencode(tmp_path) + b"/caf\xe9"
    args = [output if arg == "OUT" else os.fsencode(arg) for arg in _run_args(source, "OUT")]
    env = subprocess_env(Path(os.environ["UNIFIED_BENCH_CACHE"]))
    completed = subprocess.run(
        [sys.executable, "-m", "unified_bench", *args], env=env, capture_output=True, timeout=300
    )
    err = completed.stderr.decode("utf-8", "replace")
    assert completed.returncode == 2, err
    assert "Traceback" not in err and err.count("Error:") == 1
    assert "caf\\xe9: the path is not valid UTF-8" in err
    assert not os.path.exists(output)


def test_paths_with_rich_markup_are_printed_as_they_are(source, tmp_path, cli):
    missing = tmp_path / "data[/]set[bold]"
    result = cli("run", "--model", "uae-tiny", "--dataset", missing, "--output", tmp_path / "o")
    assert_one_line_error(result, "data[/]set[bold]")
    output = tmp_path / "out[/]put"
    result = cli(*_run_args(source, output))
    assert result.code == 0, result.err
    assert "out[/]put/results.json" in result.err


# -- readers of results.json --------------------------------------------------------------------------
@pytest.fixture
def report_run(tmp_path) -> Path:
    """A run folder with synthetic results, and a private photo outside it that must never be read."""
    secret = tmp_path / "private"
    secret.mkdir()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(secret / "secret_photo.png")
    run = tmp_path / "outer" / "inner" / "run"
    (run / "images").mkdir(parents=True)
    ids = ["img000", "img001", "img002", "img003"]
    write_results(run / "results.json", make_results(base_scores(4, 1), ids=ids))
    return run


@pytest.mark.parametrize("link", ["an image", "the images folder", "results.json"])
def test_report_refuses_links_that_leave_the_run_folder(report_run, cli, link):
    secret = report_run.parents[2] / "private"
    for i in range(4):
        Image.new("RGB", (8, 8), (0, 40 * i, 0)).save(report_run / "images" / f"img00{i}.png")
    if link == "an image":
        (report_run / "images" / "img001.png").unlink()
        (report_run / "images" / "img001.png").symlink_to(secret / "secret_photo.png")
    elif link == "the images folder":
        shutil.rmtree(report_run / "images")
        shutil.copy(secret / "secret_photo.png", secret / "img001.png")
        (report_run / "images").symlink_to(secret)
    else:
        os.replace(report_run / "results.json", secret / "results.json")
        (report_run / "results.json").symlink_to(secret / "results.json")
    result = cli("report", report_run)
    assert_one_line_error(result, "outside the run folder", str(secret))
    assert not (report_run / "report.html").exists()


def test_a_link_inside_the_run_folder_is_read(report_run, cli):
    for i in range(4):
        Image.new("RGB", (8, 8), (0, 40 * i, 0)).save(report_run / "images" / f"img00{i}.png")
    (report_run / "images" / "img001.png").unlink()
    (report_run / "images" / "img001.png").symlink_to(report_run / "images" / "img002.png")
    assert cli("report", report_run).code == 0


def test_leaderboard_outputs_refuse_an_image_linked_out_of_the_run(finished, tmp_path, cli):
    from unified_bench.leaderboard.outputs import pack_outputs

    image = next((finished / "images").glob("*.png"))
    outside = tmp_path / "secret.png"
    shutil.copy(image, outside)
    image.unlink()
    image.symlink_to(outside)
    with pytest.raises(InputError, match="outside the run folder"):
        pack_outputs(finished, read_results(finished), tmp_path / "outputs.zip")
    assert not (tmp_path / "outputs.zip").exists()


def _tamper(run: Path, edit) -> None:
    obj = json.loads((run / "results.json").read_text())
    edit(obj)
    (run / "results.json").write_text(json.dumps(obj))


def _rename_id(obj, old: str, new: str) -> None:
    obj["samples"]["ids"] = [new if i == old else i for i in obj["samples"]["ids"]]
    for summary in [*obj["scorers"].values(), obj["overall"]]:
        summary["per_sample"][new] = summary["per_sample"].pop(old)


@pytest.mark.parametrize("bad_id", ["../../../private/secret_photo", "/etc/passwd", "a/../../b", ".."])
def test_report_refuses_ids_that_leave_the_run_folder(report_run, cli, bad_id):
    _tamper(report_run, lambda obj: _rename_id(obj, "img001", bad_id))
    result = cli("report", report_run)
    assert_one_line_error(result, "results.json", repr(bad_id), "not allowed")
    assert not (report_run / "report.html").exists()


def test_report_refuses_reconstructions_recorded_outside_the_run_folder(report_run, cli, tmp_path):
    def point_elsewhere(obj):
        obj["provenance"]["generated_dir"] = str(tmp_path / "private")
        obj["provenance"]["matched"] = {"img001": "secret_photo.png"}

    _tamper(report_run, point_elsewhere)
    result = cli("report", report_run)
    assert_one_line_error(result, "reconstructions are recorded in", "reads only the run's own folder")
    assert not (report_run / "report.html").exists()


@pytest.mark.parametrize(
    "name", ["../../../private/secret_photo.png", "/abs/secret_photo.png", "sub/../../secret_photo.png"]
)
def test_report_refuses_matched_names_that_are_paths(report_run, cli, name):
    def point_elsewhere(obj):
        obj["provenance"]["generated_dir"] = str(report_run)
        obj["provenance"]["matched"] = {"img001": name}

    _tamper(report_run, point_elsewhere)
    assert_one_line_error(cli("report", report_run), "matched file", "not a relative path inside the run")


def test_report_refuses_repeat_folders_outside_the_run(report_run, cli):
    def repeats(obj):
        obj["repeats"] = {
            "k": 2,
            "seeds": [0, 1],
            "runs": ["../../../private", "repeat-2"],
            "scorers": {},
            "overall": None,
        }

    _tamper(report_run, repeats)
    result = cli("report", report_run)
    assert result.code != 0 and "Traceback" not in result.err
    assert "../../../private" in result.err


def test_nan_in_results_json_is_one_line(report_run, cli):
    text = (report_run / "results.json").read_text()
    obj = json.loads(text)
    first = obj["samples"]["ids"][0]
    obj["scorers"]["clip"]["per_sample"][first] = float("nan")
    (report_run / "results.json").write_text(json.dumps(obj))  # Python writes NaN unquoted
    assert_one_line_error(cli("report", report_run), "nan at 'scorers' / 'clip' / 'per_sample' / 'img000'")


def test_a_scorer_name_with_a_dollar_sign_is_text_in_the_report(report_run, cli):
    results = read_results(report_run)
    name = "cost$_$"  # as mathtext, "_" without a subscript: a parse error
    renamed = {(name if old == "lpips" else old): s for old, s in results.scorers.items()}
    write_results(report_run / "results.json", replace(results, scorers=renamed))
    result = cli("report", report_run)
    assert result.code == 0, result.err
    assert name in (report_run / "report.html").read_text()


def test_a_scored_folder_with_subfolders_and_any_file_names_still_reports(tmp_path, cli):
    """`score` ids are labels (any file name, paths with --match all): only their files are checked."""
    references, generated = tmp_path / "refs", tmp_path / "gen"
    (generated / "sub").mkdir(parents=True)
    references.mkdir()
    for index, name in enumerate(["photo one", "b"]):
        Image.new("RGB", (16, 16), (90 * index, 40, 200)).save(references / f"{name}.png")
        Image.new("RGB", (16, 16), (90 * index, 60, 180)).save(generated / "sub" / f"{name}.png")
    assert cli("score", generated, references, "--scorer", "psnr", "--match", "all").code == 0
    assert "sub/photo one.png" in read_results(generated).samples["ids"]
    result = cli("report", generated)
    assert result.code == 0, result.err
    page = (generated / "report.html").read_text()
    assert "sub/photo one.png" in page and "no image" not in page
