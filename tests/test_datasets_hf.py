"""Hugging Face datasets as a source (``hf:``): built and saved by the test, loaded offline.

The test writes a real ``datasets.Dataset`` (an Image column, reference captions, ids) as parquet
files and with ``save_to_disk``, then loads both through ``load_dataset("hf:...")``, the code path
``unified-bench run --dataset hf:...`` takes, with streaming on and off. Expected values come from
the PNG bytes the test wrote, not from the loader.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import subprocess_env
from unified_bench.datasets import DatasetOptions, load_dataset
from unified_bench.datasets.folder import load_folder
from unified_bench.datasets.huggingface import parse_hf_spec
from unified_bench.errors import InputError

datasets = pytest.importorskip("datasets")  # the [hf] extra; CI installs it

IDS = ["cat", "dog", "owl", "fox", "elk"]


def png(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), (40 * index, 200 - 30 * index, 7 * index)).save(buffer, format="PNG")
    return buffer.getvalue()


def build_rows() -> datasets.Dataset:
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "photo": datasets.Image(),
            "sentences": datasets.List(datasets.Value("string")),
            "label": datasets.Value("int64"),
        }
    )
    rows = {
        "id": IDS,
        "photo": [{"bytes": png(i), "path": f"{name}.png"} for i, name in enumerate(IDS)],
        "sentences": [[f"a {name}", f"one {name} alone"] for name in IDS],
        "label": list(range(len(IDS))),
    }
    return datasets.Dataset.from_dict(rows, features=features)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """The same rows as a parquet dataset folder (one ``train`` split) and a ``save_to_disk`` folder."""
    root = tmp_path_factory.mktemp("hf")
    table = build_rows()
    parquet = root / "pets"
    (parquet / "data").mkdir(parents=True)
    table.to_parquet(str(parquet / "data" / "train-00000-of-00001.parquet"))
    on_disk = root / "pets-on-disk"
    datasets.DatasetDict({"test": table}).save_to_disk(str(on_disk))
    return {"parquet": parquet, "disk": on_disk}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("form", ["parquet", "disk"])
def test_hf_dataset_gives_ids_bytes_and_captions_from_the_columns(saved, form, streaming):
    spec = f"hf:{saved[form]}" + ("@test" if form == "disk" else "")
    dataset = load_dataset(spec, options=DatasetOptions(caption_column="sentences", streaming=streaming))
    assert [sample.id for sample in dataset.samples] == IDS
    for index, sample in enumerate(dataset.samples):
        assert sample.image_sha256 == hashlib.sha256(png(index)).hexdigest()
        assert sample.captions == (f"a {IDS[index]}", f"one {IDS[index]} alone")
    # decoded per sample, in any order (a stream goes back to its start to re-read an earlier row)
    for index in (3, 1, 4):
        pixel = dataset.samples[index].load_image().getpixel((0, 0))
        assert pixel == (40 * index, 200 - 30 * index, 7 * index)
    assert dataset.card["image_column"] == "photo" and dataset.card["streaming"] is streaming


def test_fingerprint_equals_a_folder_of_the_same_files(saved, tmp_path):
    for index, name in enumerate(IDS):
        (tmp_path / f"{name}.png").write_bytes(png(index))
    hub = load_dataset(f"hf:{saved['parquet']}", options=DatasetOptions(caption_column=""))
    assert hub.fingerprint == load_folder(tmp_path).fingerprint
    assert all(sample.captions is None for sample in hub.samples)


def test_image_and_caption_columns_are_guessed(saved):
    dataset = load_dataset(f"hf:{saved['parquet']}")  # one Image column; 'sentences' is a caption name
    assert dataset.card["image_column"] == "photo" and dataset.card["caption_column"] == "sentences"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (DatasetOptions(image_column="picture"), "--image-column picture"),
        (DatasetOptions(image_column="label"), "holds int64, not images"),
        (DatasetOptions(caption_column="label"), "--caption-column label"),
    ],
)
def test_a_wrong_column_is_one_line_listing_the_columns(saved, options, expected):
    with pytest.raises(InputError) as error:
        load_dataset(f"hf:{saved['parquet']}", options=options)
    message = str(error.value)
    assert "\n" not in message and expected in message
    assert (
        "photo (Image)" in message and "sentences (list of string)" in message and "label (int64)" in message
    )


def test_a_missing_split_names_the_splits_there_are(saved):
    with pytest.raises(InputError, match=r"no split 'validation'; splits: test"):
        load_dataset(f"hf:{saved['disk']}@validation")


def test_spec_parsing():
    assert parse_hf_spec("hf:owner/name") == parse_hf_spec("hf:owner/name")
    assert (
        parse_hf_spec("hf:owner/name:cfg@test").config,
        parse_hf_spec("hf:owner/name:cfg@test").split,
    ) == (
        "cfg",
        "test",
    )
    assert parse_hf_spec("hf:owner/name@train").config is None
    assert parse_hf_spec("hf:/data/sets/x:y").config == "y"


def test_a_run_on_an_hf_dataset_offline_scores_the_selected_rows(saved, tmp_path, isolated_cache):
    """The CLI in a fresh process with HF_DATASETS_OFFLINE=1: run --dataset hf:... --limit 3."""
    outputs = tmp_path / "outputs"
    (outputs / "images").mkdir(parents=True)
    for index, name in enumerate(IDS[:3]):
        Image.open(io.BytesIO(png(index))).save(outputs / "images" / f"{name}.png")
    (outputs / "captions.jsonl").write_text(
        "".join(f'{{"id": "{name}", "caption": "a {name}"}}\n' for name in IDS[:3])
    )
    command = [
        sys.executable,
        "-m",
        "unified_bench",
        "run",
        "--model",
        "precomputed",
        "--adapter-arg",
        f"dir={outputs}",
        "--dataset",
        f"hf:{saved['parquet']}",
        "--streaming",
        "--limit",
        "3",
        "--scorer",
        "psnr",
        "--scorer",
        "bleu4",
        "--output",
        str(tmp_path / "run"),
    ]
    env = {**subprocess_env(isolated_cache), "HF_DATASETS_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    from unified_bench.results import read_results

    results = read_results(tmp_path / "run")
    assert results.samples["ids"] == IDS[:3]
    assert all(value == 100.0 for value in results.scorers["psnr"].per_sample.values())  # identical pixels
    assert results.scorers["bleu4"].per_sample["cat"] > 0.0  # 'a cat' is one of its reference captions
    assert results.dataset["card"]["hf_dataset"] == str(saved["parquet"])


def test_hf_options_on_another_source_are_refused(tmp_path):
    (tmp_path / "a.png").write_bytes(png(0))
    with pytest.raises(InputError, match="apply to hf: image datasets only"):
        load_dataset(str(tmp_path), options=DatasetOptions(image_column="photo"))
    assert len(load_dataset(str(tmp_path), options=DatasetOptions())) == 1
