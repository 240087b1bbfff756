"""`unified-bench merge`: shards written anywhere join into the unsharded run; any inconsistent set is
refused in one line before anything is written.

Runs use the `precomputed` adapter (stored captions and images) and the weightless scorers, so each
run takes a fraction of a second while going through the same CLI, store and scoring code.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests._errors import assert_one_line_error
from tests._precomputed import IDS, outputs_folder
from unified_bench.cli.app import main
from unified_bench.results import read_results, write_results

LIMIT = 7  # odd: the two shards differ in size


def _main(*args: object) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    assert exit_info.value.code == 0


def _run(source: Path, output: Path, *extra: object, limit: int = LIMIT) -> None:
    _main(
        "run", "--model", "precomputed", "--adapter-arg", f"dir={source}", "--dataset", "samples",
        "--limit", limit, "--output", output, "--scorer", "ssim", "--scorer", "psnr", "--device", "cpu",
        *extra,
    )  # fmt: skip


def _state(run_dir: Path) -> tuple[dict, dict, dict]:
    """(captions by id, image bytes by id, per-sample scores by scorer)."""
    captions = {}
    for line in (run_dir / "captions.jsonl").read_text().splitlines():
        record = json.loads(line)
        captions[record["id"]] = (record["index"], record["caption"])
    images = {p.stem: p.read_bytes() for p in sorted((run_dir / "images").glob("*.png"))}
    results = read_results(run_dir)
    return captions, images, {name: s.per_sample for name, s in results.scorers.items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """An unsharded run and its two shards, each shard written to its own --output (a job array)."""
    root = tmp_path_factory.mktemp("merge")
    source = outputs_folder(root / "source")
    _run(source, root / "whole")
    _run(source, root / "task0", "--shard", "0/2")
    _run(source, root / "task1", "--shard", "1/2")
    _run(source, root / "task1-seed1", "--shard", "1/2", "--seed", "1")
    _run(source, root / "task1-limit5", "--shard", "1/2", limit=5)
    return {
        "source": source,
        "whole": root / "whole",
        "task0": root / "task0",
        "task1": root / "task1",
        "task1-seed1": root / "task1-seed1",
        "task1-limit5": root / "task1-limit5",
    }


@pytest.fixture
def shard1(runs, tmp_path) -> Path:
    """A private copy of shard 1's --output folder, for tests that damage it."""
    copy = tmp_path / "task1"
    shutil.copytree(runs["task1"], copy)
    return copy


def _shard_dir(task: Path) -> Path:
    (shard,) = task.glob("shard-*")
    return shard


def test_two_distinct_output_folders_merge_to_the_unsharded_run(runs, tmp_path, cli):
    result = cli("merge", runs["task0"], runs["task1"], "--output", tmp_path / "merged")
    assert result.code == 0, result.err
    assert _state(tmp_path / "merged") == _state(runs["whole"])
    merged, whole = read_results(tmp_path / "merged"), read_results(runs["whole"])
    assert merged.scorers == whole.scorers
    assert merged.samples["ids"] == whole.samples["ids"] == IDS[:LIMIT]
    assert merged.samples["missing"] == []
    assert merged.dataset["shard"] is None and merged.dataset["n_selected"] == LIMIT


def test_shard_folders_and_output_folders_can_be_mixed(runs, tmp_path, cli):
    result = cli("merge", _shard_dir(runs["task1"]), runs["task0"], "--output", tmp_path / "merged")
    assert result.code == 0, result.err
    assert _state(tmp_path / "merged") == _state(runs["whole"])


def test_merging_again_into_the_same_output_gives_the_same_run(runs, tmp_path, cli):
    for _ in range(2):
        result = cli("merge", runs["task0"], runs["task1"], "--output", tmp_path / "merged")
        assert result.code == 0, result.err
    assert _state(tmp_path / "merged") == _state(runs["whole"])
    assert not (tmp_path / "merged" / ".merge-staging").exists()


def test_the_shards_output_folder_can_receive_the_merge_again_and_again(runs, tmp_path, cli):
    """``merge OUTPUT --output OUTPUT``: the shards inside win over the merged run beside them."""
    output = tmp_path / "sharded"
    shutil.copytree(runs["task0"], output)
    shutil.copytree(_shard_dir(runs["task1"]), output / _shard_dir(runs["task1"]).name)
    for _ in range(2):
        result = cli("merge", output, "--output", output)
        assert result.code == 0, result.err
    assert _state(output) == _state(runs["whole"])


def _refused(cli, tmp_path, *parts: Path, fragments: tuple[str, ...]) -> None:
    output = tmp_path / "merged"
    result = cli("merge", *parts, "--output", output)
    assert_one_line_error(result, *fragments)
    assert not output.exists(), "a refused merge must not create its output"


def test_shards_of_different_configurations_are_refused(runs, tmp_path, cli):
    _refused(
        cli, tmp_path, runs["task0"], runs["task1-seed1"], fragments=("different configurations", "seed")
    )


def test_shards_run_with_different_limits_are_refused(runs, tmp_path, cli):
    _refused(cli, tmp_path, runs["task0"], runs["task1-limit5"], fragments=("--limit", "5 vs 7"))


def test_an_incomplete_set_is_refused(runs, tmp_path, cli):
    _refused(cli, tmp_path, runs["task0"], fragments=("incomplete", "1/2 missing"))


def test_a_shard_given_twice_is_refused(runs, tmp_path, cli):
    _refused(
        cli, tmp_path, runs["task0"], _shard_dir(runs["task0"]), runs["task1"], fragments=("given twice",)
    )


def test_the_same_shard_from_two_folders_overlaps(runs, tmp_path, cli):
    copy = tmp_path / "task0-again"
    shutil.copytree(runs["task0"], copy)
    _refused(
        cli, tmp_path, runs["task0"], copy, runs["task1"], fragments=("shard 0/2 is given twice", "overlap")
    )


def test_two_whole_runs_overlap(runs, tmp_path, cli):
    copy = tmp_path / "whole-again"
    shutil.copytree(runs["whole"], copy)
    _refused(cli, tmp_path, runs["whole"], copy, fragments=("overlap",))


def test_a_folder_without_runs_is_refused(runs, tmp_path, cli):
    (tmp_path / "empty").mkdir()
    _refused(cli, tmp_path, runs["task0"], tmp_path / "empty", fragments=("empty", "no shard-* run folders"))


def test_a_shard_missing_an_image_is_refused(runs, shard1, tmp_path, cli):
    (_shard_dir(shard1) / "images" / f"{IDS[1]}.png").unlink()
    _refused(cli, tmp_path, runs["task0"], shard1, fragments=(f"{IDS[1]} has no image", "rerun that shard"))


def test_a_shard_killed_between_caption_and_image_is_refused(runs, shard1, tmp_path, cli):
    """The issue's case: shard 1 rerun with --limit 8 and killed after captioning sample #7."""
    record = {"id": IDS[7], "index": 7, "caption": "half done", "seed": 1}
    with open(_shard_dir(shard1) / "captions.jsonl", "a") as handle:
        handle.write(json.dumps(record) + "\n")
    _refused(cli, tmp_path, runs["task0"], shard1, fragments=(f"{IDS[7]} (#7) is not in this shard",))


def test_a_shard_without_results_is_refused(runs, shard1, tmp_path, cli):
    (_shard_dir(shard1) / "results.json").unlink()
    _refused(cli, tmp_path, runs["task0"], shard1, fragments=("unfinished", "no results.json"))


def test_a_refused_merge_leaves_an_earlier_merge_intact(runs, tmp_path, cli):
    output = tmp_path / "merged"
    assert cli("merge", runs["task0"], runs["task1"], "--output", output).code == 0
    before = _state(output)
    result = cli("merge", runs["task0"], runs["task1-seed1"], "--output", output)
    assert_one_line_error(result, "different configurations")
    assert _state(output) == before


# -- merge checks what it joins --------------------------------------------------------------------------
def _edit_json(path: Path, edit) -> None:
    obj = json.loads(path.read_text())
    edit(obj)
    path.write_text(json.dumps(obj, indent=2))


def _both_orders(cli, tmp_path, first: Path, second: Path, *fragments: str) -> None:
    for parts in ((first, second), (second, first)):
        _refused(cli, tmp_path, *parts, fragments=fragments)


def test_shards_drawn_with_other_generation_settings_are_refused(runs, shard1, tmp_path, cli):
    """Shard 1 as if drawn with 8 steps and guidance 10 where shard 0 used 4 and 5."""
    _edit_json(
        _shard_dir(shard1) / "adapter.json", lambda info: info["settings"].update(steps=8, guidance=10)
    )
    _both_orders(
        cli,
        tmp_path,
        runs["task0"],
        shard1,
        "different adapter settings",
        "settings.guidance, settings.steps",
    )


def test_shards_on_other_devices_still_merge(runs, shard1, tmp_path, cli):
    """Ranks each draw on their own GPU: where they ran is not how they drew."""
    _edit_json(_shard_dir(shard1) / "adapter.json", lambda info: info.update(device="cuda:1"))
    result = cli("merge", runs["task0"], shard1, "--output", tmp_path / "merged")
    assert result.code == 0, result.err


def _with_version(shard: Path, version: str) -> None:
    path = _shard_dir(shard) / "results.json"
    results = read_results(path)
    write_results(path, replace(results, provenance={**results.provenance, "unified_bench_version": version}))


def test_shards_of_another_unified_bench_version_need_allow_version_mix(runs, shard1, tmp_path, cli):
    _with_version(shard1, "0.0.1")
    _both_orders(
        cli,
        tmp_path,
        runs["task0"],
        shard1,
        "different unified-bench versions",
        "0.0.1",
        "--allow-version-mix",
    )
    output = tmp_path / "merged"
    result = cli("merge", runs["task0"], shard1, "--output", output, "--allow-version-mix")
    assert result.code == 0, result.err
    mix = read_results(output).provenance["version_mix"]
    assert sorted(mix.values(), key=str) == sorted(
        [read_results(_shard_dir(runs["task0"])).provenance["unified_bench_version"], "0.0.1"], key=str
    )


def test_a_caption_edited_after_scoring_is_refused(runs, shard1, tmp_path, cli):
    path = _shard_dir(shard1) / "captions.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["caption"] = "a caption that was never drawn"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    _both_orders(
        cli, tmp_path, runs["task0"], shard1, f"the caption of {lines[0]['id']}", "edited after scoring"
    )


@pytest.mark.parametrize(
    "damage", ["garbled adapter.json", "image replaced by a folder", "image a dangling link"]
)
def test_a_damaged_shard_is_named_with_its_file_in_either_order(runs, shard1, tmp_path, cli, damage):
    shard = _shard_dir(shard1)
    image = shard / "images" / f"{IDS[1]}.png"
    if damage == "garbled adapter.json":
        (shard / "adapter.json").write_text("{not json")
        fragments = (str(shard / "adapter.json"), "unreadable")
    elif damage == "image replaced by a folder":
        image.unlink()
        image.mkdir()
        fragments = (str(shard1), f"images/{IDS[1]}.png is not a file of this folder")
    else:
        image.unlink()
        image.symlink_to(tmp_path / "gone.png")
        fragments = (str(shard1), f"images/{IDS[1]}.png is not a file of this folder")
    _both_orders(cli, tmp_path, shard1, runs["task0"], *fragments)


def test_results_json_is_moved_in_only_after_everything_else(runs, tmp_path, cli, monkeypatch):
    """A merge that fails while moving the images in leaves no results.json describing them."""
    import unified_bench.merge as merge_module

    real_replace = os.replace

    def replace_failing_on_images(source, target):
        if Path(target).name == "images":
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real_replace(source, target)

    monkeypatch.setattr(merge_module.os, "replace", replace_failing_on_images)
    output = tmp_path / "merged"
    result = cli("merge", runs["task0"], runs["task1"], "--output", output)
    assert_one_line_error(result, "cannot write")
    assert not (output / "results.json").exists()
    assert not (output / ".merge-staging").exists()


def test_a_staging_folder_left_by_a_killed_merge_is_removed_first(runs, tmp_path, cli):
    output = tmp_path / "merged"
    staging = output / ".merge-staging"
    (staging / "images").mkdir(parents=True)
    (staging / "images" / "stray.png").write_bytes(b"from the killed merge")
    (staging / "results.json").write_text("{}")
    result = cli("merge", runs["task0"], runs["task1"], "--output", output)
    assert result.code == 0, result.err
    assert not staging.exists()
    assert _state(output) == _state(runs["whole"])
