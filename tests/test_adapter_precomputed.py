"""precomputed: captions and images made elsewhere, served by sample id and scored as a normal run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests._tiny_adapters import pixels, run_args
from unified_bench.adapter import AdapterArgError, AdapterOptions, capabilities
from unified_bench.datasets import load_dataset
from unified_bench.errors import InputError, MissingSamplesError
from unified_bench.registry import default_registry
from unified_bench.results import read_results
from unified_bench.store import RunStore

IDS = [sample.id for sample in load_dataset("samples").samples[:3]]


def _color(index: int) -> tuple[int, int, int]:
    return (40 * index + 10, 200 - 30 * index, 90)


def write_outputs(root, ids=IDS, *, caption_folder=False):
    """``root/images/ID.png`` (flat colours) and the captions as captions.jsonl or captions/ID.txt."""
    (root / "images").mkdir(parents=True)
    for index, sample_id in enumerate(ids):
        Image.new("RGB", (24, 16), _color(index)).save(root / "images" / f"{sample_id}.png")
    if caption_folder:
        (root / "captions").mkdir()
        for sample_id in ids:
            (root / "captions" / f"{sample_id}.txt").write_text(f"a photo called {sample_id}\n")
    else:
        lines = [json.dumps({"id": sample_id, "caption": f"a photo called {sample_id}"}) for sample_id in ids]
        (root / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return root


def build(**args):
    return default_registry().build("precomputed", AdapterOptions(args={k: str(v) for k, v in args.items()}))


def test_serves_captions_and_images_by_sample_id(tmp_path):
    adapter = build(dir=write_outputs(tmp_path / "out"))
    assert capabilities(adapter).takes_sample_ids
    blank = [Image.new("RGB", (4, 4))] * 2
    assert adapter.caption(blank, seeds=[0, 0], ids=IDS[1::-1]) == [f"a photo called {i}" for i in IDS[1::-1]]
    images = adapter.generate(["ignored"], seeds=[0], ids=[IDS[2]])
    assert images[0].size == (24, 16) and images[0].getpixel((0, 0)) == _color(2)


def test_two_folders_with_one_text_file_per_caption(tmp_path):
    root = write_outputs(tmp_path / "out", caption_folder=True)
    adapter = build(images=root / "images", captions=root / "captions")
    assert adapter.caption([Image.new("RGB", (4, 4))], seeds=[0], ids=[IDS[0]]) == [
        f"a photo called {IDS[0]}"
    ]


def test_missing_items_are_reported_by_id(tmp_path):
    adapter = build(dir=write_outputs(tmp_path / "out", ids=IDS[:1]))
    with pytest.raises(MissingSamplesError) as error:
        adapter.caption([Image.new("RGB", (4, 4))] * 3, seeds=[0] * 3, ids=IDS)
    assert f"2 samples have no caption in {tmp_path / 'out' / 'captions.jsonl'}: {IDS[1]}, {IDS[2]}" in str(
        error.value
    )
    with pytest.raises(MissingSamplesError, match=f"no image in .*: {IDS[2]}"):
        adapter.generate(["x"], seeds=[0], ids=[IDS[2]])


def test_settings_must_say_where_the_outputs_are(tmp_path):
    with pytest.raises(AdapterArgError, match="dir=FOLDER"):
        build()
    with pytest.raises(AdapterArgError, match="go together"):
        build(images=tmp_path)
    with pytest.raises(InputError, match="no captions at"):
        build(dir=tmp_path)


def test_a_malformed_caption_line_names_file_and_line(tmp_path):
    root = write_outputs(tmp_path / "out")
    (root / "captions.jsonl").write_text('{"id": "a", "caption": "ok"}\n{"id": 3}\n')
    with pytest.raises(InputError, match=r"captions.jsonl:2"):
        build(dir=root)


def test_info_fingerprints_the_content(tmp_path):
    first = build(dir=write_outputs(tmp_path / "a")).info()
    root = write_outputs(tmp_path / "b")
    Image.new("RGB", (24, 16), (0, 0, 0)).save(root / "images" / f"{IDS[0]}.png")
    second = build(dir=root).info()
    assert first["n_captions"] == first["n_images"] == 3
    assert first["content_sha256"] != second["content_sha256"]


def test_unified_bench_run_scores_the_stored_outputs(cli, tmp_path):
    root = write_outputs(tmp_path / "outputs")
    output = tmp_path / "run"
    result = cli(*run_args("precomputed", output, "--adapter-arg", f"dir={root}", "--batch-size", "2"))
    assert result.code == 0, result.err
    assert set(read_results(output).scorers) == {"ssim", "psnr"}
    captions = {sample_id: record.caption for sample_id, record in RunStore(output).captions().items()}
    assert captions == {sample_id: f"a photo called {sample_id}" for sample_id in IDS}
    for index, sample_id in enumerate(IDS):
        stored = pixels(Image.open(output / "images" / f"{sample_id}.png"))
        assert (stored == np.array(_color(index))).all()


def test_unified_bench_run_names_the_missing_ids(cli, tmp_path):
    root = write_outputs(tmp_path / "outputs", ids=IDS[:2])
    result = cli(*run_args("precomputed", tmp_path / "run", "--adapter-arg", f"dir={root}"))
    assert result.code == 1
    assert "1 samples have no caption" in result.err and IDS[2] in result.err


def test_changed_outputs_are_refused_as_a_different_run_and_redone_with_overwrite(cli, tmp_path):
    root = write_outputs(tmp_path / "outputs")
    output = tmp_path / "run"
    command = run_args("precomputed", output, "--adapter-arg", f"dir={root}")
    assert cli(*command).code == 0
    before = read_results(output)
    spec = json.loads((output / "run.json").read_text())
    assert spec["adapter_source"].startswith("sha256:")

    # Every image and caption replaced by another tool's second attempt.
    for index, sample_id in enumerate(IDS):
        Image.new("RGB", (24, 16), _color(index + 3)).save(root / "images" / f"{sample_id}.png")
    lines = [json.dumps({"id": sample_id, "caption": f"second try at {sample_id}"}) for sample_id in IDS]
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n")

    refused = cli(*command)
    assert refused.code != 0 and "Traceback" not in refused.err
    assert "stored outputs changed" in refused.err and "--overwrite" in refused.err
    assert read_results(output) == before, "a refused rerun must leave the old run as it was"

    redone = cli(*command, "--overwrite")
    assert redone.code == 0, redone.err
    captions = {sample_id: record.caption for sample_id, record in RunStore(output).captions().items()}
    assert captions == {sample_id: f"second try at {sample_id}" for sample_id in IDS}
    assert read_results(output).scorers["psnr"].per_sample != before.scorers["psnr"].per_sample


@pytest.mark.parametrize("change", ["rename an image", "edit one caption", "add an image"])
def test_the_source_fingerprint_follows_file_names_and_contents(tmp_path, change):
    from unified_bench_adapters.precomputed.adapter import source_fingerprint

    root = write_outputs(tmp_path / "outputs", caption_folder=True)
    options = AdapterOptions(args={"dir": str(root)})
    before = source_fingerprint(options)
    assert source_fingerprint(options) == before
    if change == "rename an image":
        (root / "images" / f"{IDS[0]}.png").rename(root / "images" / "renamed.png")
    elif change == "edit one caption":
        (root / "captions" / f"{IDS[1]}.txt").write_text("another caption\n")
    else:
        Image.new("RGB", (4, 4)).save(root / "images" / "extra.png")
    assert source_fingerprint(options) != before
