"""``docci`` as an i2t2i dataset, through a tiny archive and descriptions file in DOCCI's real layout
that the test writes (file:// mirrors): images under ``images/`` named by ``image_file``."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile

import pytest
from PIL import Image

from unified_bench.datasets import load_dataset
from unified_bench.datasets.docci import ARCHIVE, IMAGES_URL_ENV, TRUST_FILE, docci_dir
from unified_bench.datasets.prompt_downloads import DOWNLOADED_SETS
from unified_bench.errors import InputError
from unified_bench.tasks import find_task

ROWS = [  # the texts are this test's, not DOCCI's
    {"example_id": "train_00002", "split": "train", "image_file": "train_00002.jpg", "description": "A dog."},
    {"example_id": "test_00001", "split": "test", "image_file": "test_00001.jpg", "description": "A cup."},
]


def _jpeg(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _mirror(tmp_path, monkeypatch, colours=("red", "blue")):
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    descriptions = mirror / DOWNLOADED_SETS["docci"].filename
    descriptions.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n")
    images = {"train_00002.jpg": _jpeg(colours[0]), "test_00001.jpg": _jpeg(colours[1])}
    archive = mirror / ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in images.items():
            _add(tar, f"images/{name}", data)
        _add(tar, "images/._test_00001.jpg", b"resource fork")  # junk: skipped
        _add(tar, "../escape.jpg", images["test_00001.jpg"])  # outside images/: never written
        link = tarfile.TarInfo("images/link.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    monkeypatch.setenv(DOWNLOADED_SETS["docci"].url_env, descriptions.as_uri())
    monkeypatch.setenv(IMAGES_URL_ENV, archive.as_uri())
    return archive, images


def test_docci_images_download_on_first_use_with_descriptions_as_captions(tmp_path, monkeypatch):
    archive, images = _mirror(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    dataset = load_dataset("docci", cache_root=cache)
    assert [s.id for s in dataset.samples] == ["test_00001", "train_00002"]  # test split first
    assert [s.captions for s in dataset.samples] == [("A cup.",), ("A dog.",)]
    for sample in dataset.samples:
        expected = hashlib.sha256(images[f"{sample.id}.jpg"]).hexdigest()
        assert sample.image_sha256 == expected
        assert hashlib.sha256(sample.location.read_bytes()).hexdigest() == expected
    assert sorted(p.name for p in (docci_dir(cache) / "images").iterdir()) == sorted(images)
    assert not (tmp_path / "escape.jpg").exists() and not (cache / "escape.jpg").exists()
    assert dataset.card["license"] == "CC BY 4.0" and "DOCCI" in dataset.card["citation"]
    assert dataset.card["images_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    # later uses read the cache, never the mirror
    monkeypatch.setenv(IMAGES_URL_ENV, (tmp_path / "gone").as_uri())
    assert load_dataset("docci", cache_root=cache).fingerprint == dataset.fingerprint


def test_a_changed_archive_is_refused_and_installs_nothing(tmp_path, monkeypatch):
    _mirror(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    load_dataset("docci", cache_root=cache)
    trusted = (cache / TRUST_FILE).read_text()
    shutil.rmtree(docci_dir(cache))
    _mirror(tmp_path, monkeypatch, colours=("green", "blue"))
    with pytest.raises(InputError, match="first download recorded"):
        load_dataset("docci", cache_root=cache)
    assert not docci_dir(cache).exists() and (cache / TRUST_FILE).read_text() == trusted


def test_a_missing_archive_is_one_line_naming_the_mirror_variable(tmp_path, monkeypatch):
    _mirror(tmp_path, monkeypatch)
    monkeypatch.setenv(IMAGES_URL_ENV, (tmp_path / "nowhere.tar.gz").as_uri())
    with pytest.raises(InputError, match=IMAGES_URL_ENV) as caught:
        load_dataset("docci", cache_root=tmp_path / "cache")
    assert "\n" not in str(caught.value) and not docci_dir(tmp_path / "cache").exists()


def test_the_docci_i2t2i_task_resolves_to_docci_images_scored_like_unified_bench():
    task = find_task("docci-i2t2i")
    assert task.direction == "i2t2i" and task.resolved["dataset"] == {"name": "docci"}
    assert task.resolved["scorers"] == find_task("unified-bench").resolved["scorers"]
