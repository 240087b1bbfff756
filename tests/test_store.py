"""The run store: resumable, refuses foreign runs, never destroys what it did not write."""

import json
import os

import pytest
from PIL import Image

from unified_bench.errors import InputError, RunConfigMismatch
from unified_bench.store import CaptionRecord, RunSpec, RunStore

SPEC = RunSpec(
    model="m",
    adapter_args={},
    protocol="text",
    seed=0,
    size=None,
    dtype=None,
    dataset_name="d",
    dataset_fingerprint="sha256:" + "1" * 64,
)


def test_captions_and_images_survive_reopening(tmp_path):
    store = RunStore(tmp_path / "run")
    store.open(SPEC)
    store.append_captions([CaptionRecord(id="a", index=0, caption="a cat", seed=1)])
    store.write_image("a", Image.new("RGB", (8, 8), "red"))
    again = RunStore(tmp_path / "run")
    again.open(SPEC)
    assert again.captions()["a"].caption == "a cat"
    assert again.has_image("a") and not again.has_image("b")


def test_a_run_of_another_configuration_is_refused_naming_what_differs(tmp_path):
    RunStore(tmp_path).open(SPEC)
    other = RunSpec(**{**SPEC.__dict__, "seed": 1})
    with pytest.raises(RunConfigMismatch, match="seed"):
        RunStore(tmp_path).open(other)


def test_overwrite_replaces_the_run_but_keeps_unrelated_files(tmp_path):
    store = RunStore(tmp_path)
    store.open(SPEC)
    store.append_captions([CaptionRecord(id="a", index=0, caption="x", seed=1)])
    store.write_image("a", Image.new("RGB", (8, 8)))
    (tmp_path / "notes.txt").write_text("mine")
    other = RunSpec(**{**SPEC.__dict__, "seed": 1})
    RunStore(tmp_path).open(other, overwrite=True)
    assert RunStore(tmp_path).read_spec() == other
    assert RunStore(tmp_path).captions() == {} and not store.has_image("a")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_caption_line_torn_by_a_crash_is_dropped_and_appending_continues(tmp_path):
    store = RunStore(tmp_path)
    store.open(SPEC)
    store.append_captions([CaptionRecord(id="a", index=0, caption="x", seed=1)])
    with open(tmp_path / "captions.jsonl", "a") as handle:
        handle.write('{"id": "b", "ind')
    store = RunStore(tmp_path)
    store.open(SPEC)
    store.append_captions([CaptionRecord(id="c", index=2, caption="z", seed=3)])
    assert sorted(store.captions()) == ["a", "c"]


def test_output_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(Exception, match="not a folder"):
        RunStore(target).open(SPEC)
    assert target.read_text() == "x"


def test_every_write_reaches_the_disk_before_the_run_goes_on(tmp_path, monkeypatch):
    """A crash (power loss) after a write returns must not lose it: the bytes are fsynced first.

    ``os.fsync`` is observed, not replaced: each call records which file (inode) it flushed and how
    large the file was then, and still syncs.
    """
    synced: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def observed_fsync(fd: int) -> None:
        status = os.fstat(fd)
        synced.append((status.st_ino, status.st_size))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", observed_fsync)
    store = RunStore(tmp_path / "run")
    store.open(SPEC)
    spec_file = (tmp_path / "run" / "run.json").stat()
    assert (spec_file.st_ino, spec_file.st_size) in synced

    for index, sample_id in enumerate(["a", "b"]):
        store.append_captions([CaptionRecord(id=sample_id, index=index, caption="a cat", seed=index)])
        captions = (tmp_path / "run" / "captions.jsonl").stat()
        assert synced[-1] == (captions.st_ino, captions.st_size)  # this batch's line included
        store.write_image(sample_id, Image.new("RGB", (8, 8), "red"))
        image = store.image_path(sample_id).stat()
        assert synced[-1] == (image.st_ino, image.st_size)  # the whole PNG, before its rename


def test_a_spec_with_a_size_is_read_back_equal(tmp_path):
    sized = RunSpec(**{**SPEC.__dict__, "size": (64, 32)})
    RunStore(tmp_path).open(sized)
    assert json.loads((tmp_path / "run.json").read_text())["size"] == [64, 32]
    assert RunStore(tmp_path).read_spec() == sized
    RunStore(tmp_path).open(sized)  # resuming the same sized run is not a mismatch


def test_the_mismatch_message_lists_every_differing_setting(tmp_path):
    RunStore(tmp_path).open(SPEC)
    other = RunSpec(**{**SPEC.__dict__, "seed": 1, "model": "n"})
    with pytest.raises(RunConfigMismatch) as error:
        RunStore(tmp_path).open(other)
    expected = "(model, seed differ); choose another --output or pass --overwrite to replace it."
    assert expected in str(error.value)


def test_an_unreadable_run_file_is_named_with_what_to_do(tmp_path):
    (tmp_path / "run.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"run\.json: not a unified-bench run file .*pass --overwrite"):
        RunStore(tmp_path).open(SPEC)


def test_caption_records_keep_their_index_and_seed_and_a_torn_tail_keeps_every_whole_line(tmp_path):
    store = RunStore(tmp_path)
    store.open(SPEC)
    records = [CaptionRecord(id="a", index=0, caption="x", seed=5), CaptionRecord("b", 1, "y", seed=6)]
    store.append_captions(records)
    with open(tmp_path / "captions.jsonl", "a") as handle:
        handle.write('{"id": "c", "ind')
    # read before any repair: the torn line is skipped
    assert RunStore(tmp_path).captions() == {record.id: record for record in records}
    RunStore(tmp_path).open(SPEC)
    assert (tmp_path / "captions.jsonl").read_text().count("\n") == 2


def test_a_malformed_caption_record_is_named(tmp_path):
    store = RunStore(tmp_path)
    store.open(SPEC)
    (tmp_path / "captions.jsonl").write_text('{"id": "a", "index": "zero", "caption": "x", "seed": 1}\n')
    with pytest.raises(InputError, match=r"malformed caption record .*remove that line to redo the sample"):
        store.captions()
