"""One rule for "Hub id or local path" and one file sha256, used by every loader.

The rule: an existing path is local; otherwise huggingface_hub's repo-id check decides (accepted:
a Hub id; refused: a path that is not there). Each loader (scorer weights, the UAE checkpoint,
``load_pretrained``) is asked about the same sources and must agree.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from unified_bench.errors import MissingWeightsError
from unified_bench.loading import load_pretrained
from unified_bench.paths import file_sha256, is_hub_id, local_path
from unified_bench.scorers.weights import resolve_pretrained_dir, resolve_weights_file
from unified_bench_adapters.uae.checkpoint import resolve_checkpoint

HUB_IDS = ["Qwen/Qwen2.5-VL-3B-Instruct", "openai/clip-vit-large-patch14", "gpt2", "org/name.v2"]
# Refused by huggingface_hub's repo-id check, so (absent) they are paths that are not there.
NOT_HUB_IDS = ["org/.name", "org/name.", "./x", "../x", "~/x", "a/b/c", "org/name@rev", "org--x/y", "/abs/x"]


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """An empty working directory and home, so no source exists by accident."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.mark.parametrize("source", HUB_IDS)
def test_a_repo_id_that_is_not_a_path_here_is_a_hub_id(elsewhere, source):
    assert is_hub_id(source) and local_path(source) is None


@pytest.mark.parametrize("source", NOT_HUB_IDS)
def test_anything_else_is_a_path(elsewhere, source):
    assert not is_hub_id(source)
    assert local_path(source) == Path(os.path.expanduser(source))


def test_tilde_is_the_home_folder(elsewhere):
    (elsewhere / "home" / "x").mkdir(parents=True)
    assert local_path("~/x") == elsewhere / "home" / "x"


def test_an_existing_folder_spelt_like_a_hub_id_is_local(elsewhere):
    (elsewhere / "org" / "name").mkdir(parents=True)
    assert is_hub_id("org/name") and local_path("org/name") == Path("org/name")
    location = resolve_checkpoint("org/name")
    assert location.source == "local" and location.root == (elsewhere / "org" / "name").resolve()


def _never_called(source, **kwargs):
    raise AssertionError(f"the loader must not be asked for {source}")


@pytest.mark.parametrize("source", ["org/.name", "./x", "~/x", "a/b/c", "org/name@rev"])
def test_every_loader_reports_a_missing_path_without_asking_the_hub(elsewhere, source):
    with pytest.raises(MissingWeightsError, match="does not exist"):
        resolve_pretrained_dir(source, scorer="clip")
    with pytest.raises(MissingWeightsError, match="does not exist"):
        resolve_weights_file(source, "weights.pt", scorer="pixel")
    with pytest.raises(MissingWeightsError, match="no such checkpoint directory"):
        resolve_checkpoint(source)
    with pytest.raises(MissingWeightsError, match="no folder at"):
        load_pretrained(_never_called, source, what="captioner")


def test_every_loader_asks_the_hub_for_a_hub_id(elsewhere):
    # HF_HUB_OFFLINE=1 (conftest): a Hub id is looked up in the empty cache and reported as not cached.
    with pytest.raises(MissingWeightsError, match=r"not in the local Hugging Face cache|offline"):
        resolve_pretrained_dir("org/name", scorer="clip")
    with pytest.raises(MissingWeightsError, match="not available here"):
        resolve_checkpoint("org/name")
    asked = []
    load_pretrained(lambda source, **kwargs: asked.append(source), "org/name", what="captioner")
    assert asked == ["org/name"]


def test_file_sha256_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "weights.bin"
    data = bytes(range(256)) * (3 << 12)  # 3 MiB: several read chunks
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert file_sha256(path) == expected and file_sha256(path, memo=True) == expected


def test_without_memo_a_rewritten_file_is_read_again(tmp_path):
    path = tmp_path / "archive.zip"
    path.write_bytes(b"a" * 100)
    first = file_sha256(path)
    stat = path.stat()
    path.write_bytes(b"b" * 100)  # same size, same modification time: a memo could not tell
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert first != file_sha256(path) == hashlib.sha256(b"b" * 100).hexdigest()
