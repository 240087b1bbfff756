"""Dataset loaders: registered names, folders, JSONL manifests, the bundled samples and Unified-Bench."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import socket
import stat
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from unified_bench.datasets import DATASET_NAMES, dataset_fingerprint, load_dataset
from unified_bench.datasets import archive as archive_module
from unified_bench.datasets import samples as samples_module
from unified_bench.datasets import unibench as unibench_module
from unified_bench.datasets.archive import extract_images_safely
from unified_bench.datasets.folder import load_folder
from unified_bench.datasets.manifest import load_manifest
from unified_bench.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- helpers


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(
    path: Path, color: tuple[int, int, int] = (200, 30, 40), size: tuple[int, int] = (8, 6)
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(color, size))
    return path


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zip_file:
        for name, data in entries.items():
            zip_file.writestr(name, data)
    return buffer.getvalue()


def write_manifest(path: Path, lines: list[object]) -> Path:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def one_line(error: pytest.ExceptionInfo[InputError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@contextlib.contextmanager
def serve_files(files: dict[str, bytes]) -> Iterator[tuple[str, list[str]]]:
    """Serve ``files`` by path on 127.0.0.1 (404 otherwise); yields the base URL and the request log."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requested
    finally:
        server.shutdown()
        server.server_close()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


UNIBENCH_IMAGES = {f"Image/{index}.png": png_bytes((index * 60, 100, 200 - index * 50)) for index in range(3)}


@pytest.fixture
def unibench_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private cache and a 3-image Unified-Bench stand-in; returns the cache root."""
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(unibench_module, "EXPECTED_IMAGE_COUNT", 3)
    return tmp_path / "datasets"


# ---------------------------------------------------------------- load_dataset


def test_registered_image_sets_are_samples_unibench_and_docci() -> None:
    assert DATASET_NAMES == ("samples", "unibench", "docci")


def test_registered_name_wins_over_a_folder_with_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_png(tmp_path / "samples" / "mine.png")
    monkeypatch.chdir(tmp_path)
    assert load_dataset("samples").name == "samples"
    assert [sample.id for sample in load_dataset("./samples").samples] == ["mine"]


def test_load_dataset_reads_a_folder_and_a_jsonl_manifest(tmp_path: Path) -> None:
    write_png(tmp_path / "images" / "a.png")
    manifest = write_manifest(tmp_path / "set.jsonl", [{"id": "x", "image": "images/a.png"}])
    assert [sample.id for sample in load_dataset(str(tmp_path / "images")).samples] == ["a"]
    assert [sample.id for sample in load_dataset(str(manifest)).samples] == ["x"]


def test_unknown_spec_raises_one_line_listing_names_and_accepted_forms(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        load_dataset(str(tmp_path / "nope"))
    message = one_line(error)
    assert "samples" in message and "unibench" in message
    assert "folder of images" in message and ".jsonl manifest" in message


def test_existing_file_that_is_not_jsonl_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "list.csv"
    other.write_text("id,image\n")
    with pytest.raises(InputError, match=r"not a folder or a \.jsonl manifest"):
        load_dataset(str(other))


def test_importing_the_datasets_package_does_not_import_torch_or_skimage() -> None:
    code = "import sys, unified_bench.datasets; print('torch' in sys.modules, 'skimage' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- folder


def test_folder_loads_every_image_directly_inside_sorted_by_name_with_stem_ids(tmp_path: Path) -> None:
    write_png(tmp_path / "b.PNG", (0, 255, 0))
    write_png(tmp_path / "a.png", (255, 0, 0))
    Image.new("L", (5, 5), 128).save(tmp_path / "c.JPG")
    (tmp_path / "notes.txt").write_text("not an image")
    write_png(tmp_path / ".hidden.png")
    write_png(tmp_path / "nested" / "d.png")

    dataset = load_folder(tmp_path)

    assert [sample.id for sample in dataset.samples] == ["a", "b", "c"]
    assert dataset.samples[1].image.getpixel((0, 0)) == (0, 255, 0)
    assert all(sample.image.mode == "RGB" for sample in dataset.samples)
    assert dataset.samples[0].image_sha256 == hashlib.sha256((tmp_path / "a.png").read_bytes()).hexdigest()
    assert dataset.samples[0].captions is None


def test_missing_folder_raises_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        load_folder(tmp_path / "absent")
    assert str(tmp_path / "absent") in one_line(error)


def test_a_file_passed_as_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        load_folder(write_png(tmp_path / "a.png"))


def test_folder_without_images_raises_saying_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(InputError) as error:
        load_folder(tmp_path)
    assert str(tmp_path) in one_line(error) and "no images found" in str(error.value)


def test_two_files_with_the_same_stem_raise_naming_both(tmp_path: Path) -> None:
    write_png(tmp_path / "cat.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "cat.jpg")
    with pytest.raises(InputError) as error:
        load_folder(tmp_path)
    assert "cat.jpg" in one_line(error) and "cat.png" in str(error.value)


def test_stems_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    write_png(tmp_path / "Cat.png")
    write_png(tmp_path / "cat.png")
    with pytest.raises(InputError, match="ignoring case"):
        load_folder(tmp_path)


def test_a_stem_that_is_not_a_safe_id_is_refused(tmp_path: Path) -> None:
    write_png(tmp_path / "my photo.png")
    with pytest.raises(InputError, match="my photo"):
        load_folder(tmp_path)


def test_unreadable_image_raises_naming_the_file(tmp_path: Path) -> None:
    write_png(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"this is not an image")
    with pytest.raises(InputError) as error:
        load_folder(tmp_path)
    assert str(tmp_path / "bad.png") in one_line(error)


def test_truncated_image_raises_naming_the_file_when_it_is_decoded(tmp_path: Path) -> None:
    data = png_bytes((10, 20, 30), size=(64, 64))
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    [sample] = load_folder(tmp_path).samples  # loading hashes the bytes; only decoding finds the cut
    with pytest.raises(InputError) as error:
        sample.load_image()
    assert str(tmp_path / "cut.png") in one_line(error)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    # A real 1-bit PNG whose 10000x10000 pixels (over the 64 MP limit) pack into a few KB.
    Image.new("1", (10_000, 10_000)).save(tmp_path / "bomb.png")
    assert (tmp_path / "bomb.png").stat().st_size < 100_000
    with pytest.raises(InputError) as error:
        load_folder(tmp_path)
    assert str(tmp_path / "bomb.png") in one_line(error) and "decompression bomb" in str(error.value)


# ---------------------------------------------------------------- manifest


def test_manifest_loads_ids_images_and_captions_in_file_order(tmp_path: Path) -> None:
    write_png(tmp_path / "imgs" / "one.png", (1, 2, 3))
    absolute = write_png(tmp_path / "elsewhere" / "two.png", (4, 5, 6))
    manifest = write_manifest(
        tmp_path / "bench.jsonl",
        [
            {"id": "z-first", "image": "imgs/one.png", "captions": ["A dark square.", "Nearly black."]},
            "",
            {"id": "a-second", "image": str(absolute)},
        ],
    )

    dataset = load_manifest(manifest)

    assert dataset.name == "bench"
    assert [sample.id for sample in dataset.samples] == ["z-first", "a-second"]
    assert dataset.samples[0].captions == ("A dark square.", "Nearly black.")
    assert dataset.samples[1].captions is None
    assert dataset.samples[1].image.getpixel((0, 0)) == (4, 5, 6)
    assert dataset.samples[1].image_sha256 == hashlib.sha256(absolute.read_bytes()).hexdigest()


def test_malformed_json_line_raises_with_file_and_line(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png")
    manifest = write_manifest(tmp_path / "m.jsonl", [{"id": "a", "image": "a.png"}, '{"id": "b", "image": '])
    with pytest.raises(InputError) as error:
        load_manifest(manifest)
    assert one_line(error).startswith(f"{manifest}:2:")


@pytest.mark.parametrize(
    "record",
    [
        ["not", "an", "object"],
        {"image": "a.png"},
        {"id": "a"},
        {"id": 7, "image": "a.png"},
        {"id": "a", "image": ["a.png"]},
        {"id": "a", "image": "a.png", "captions": "a caption, not a list"},
        {"id": "a", "image": "a.png", "captions": ["fine", 3]},
        {"id": "a", "image": "a.png", "caption": ["typo in the key"]},
    ],
    ids=[
        "not-object",
        "no-id",
        "no-image",
        "id-not-string",
        "image-not-string",
        "captions-string",
        "captions-non-string-item",
        "unknown-key",
    ],
)
def test_ill_typed_or_incomplete_line_raises_with_file_and_line(tmp_path: Path, record: object) -> None:
    write_png(tmp_path / "a.png")
    manifest = write_manifest(tmp_path / "m.jsonl", [record])
    with pytest.raises(InputError) as error:
        load_manifest(manifest)
    assert one_line(error).startswith(f"{manifest}:1:")


@pytest.mark.parametrize("bad_id", ["../x", "/abs/x", "a/b", ".hidden", "", "a\\b", "..", "x..y"])
def test_id_that_could_escape_the_output_folder_raises_with_file_and_line(
    tmp_path: Path, bad_id: str
) -> None:
    write_png(tmp_path / "a.png")
    manifest = write_manifest(tmp_path / "m.jsonl", [{"id": bad_id, "image": "a.png"}])
    with pytest.raises(InputError) as error:
        load_manifest(manifest)
    assert one_line(error).startswith(f"{manifest}:1:")


def test_missing_image_raises_with_file_and_line(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", [{"id": "a", "image": "gone.png"}])
    with pytest.raises(InputError) as error:
        load_manifest(manifest)
    assert one_line(error).startswith(f"{manifest}:1:") and "gone.png" in str(error.value)


def test_unreadable_manifest_image_raises_with_file_line_and_image(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    manifest = write_manifest(tmp_path / "m.jsonl", [{"id": "a", "image": "bad.png"}])
    with pytest.raises(InputError) as error:
        load_manifest(manifest)
    assert one_line(error).startswith(f"{manifest}:1:") and str(tmp_path / "bad.png") in str(error.value)


def test_repeated_id_raises_naming_both_lines(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png")
    manifest = write_manifest(
        tmp_path / "m.jsonl", [{"id": "a", "image": "a.png"}, {"id": "A", "image": "a.png"}]
    )
    with pytest.raises(InputError) as error:
        load_manifest(manifest)
    assert one_line(error).startswith(f"{manifest}:2:") and "line 1" in str(error.value)


def test_empty_manifest_is_refused(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", ["", "  "])
    with pytest.raises(InputError, match="no samples"):
        load_manifest(manifest)


# ---------------------------------------------------------------- samples


def test_samples_are_at_least_eight_distinct_colour_photographs_with_a_caption_each() -> None:
    dataset = load_dataset("samples")
    assert len(dataset) >= 8
    assert [sample.id for sample in dataset.samples] == [entry.id for entry in samples_module.SAMPLE_IMAGES]
    assert len({sample.image_sha256 for sample in dataset.samples}) == len(dataset)
    for sample in dataset.samples:
        assert sample.image.mode == "RGB" and min(sample.image.size) >= 256
        red, _, blue = sample.image.split()
        assert ImageStat.Stat(ImageChops.difference(red, blue)).mean[0] > 5, f"{sample.id} looks grayscale"
        assert sample.captions is not None and len(sample.captions) == 1
        assert sample.captions[0].endswith(".") and len(sample.captions[0].split()) >= 8


def test_samples_read_only_files_shipped_inside_scikit_image() -> None:
    data_dir = samples_module.skimage_data_dir()
    for entry in samples_module.SAMPLE_IMAGES:
        path = data_dir / entry.file_name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256


def test_samples_fingerprint_is_pinned_and_quoted_in_the_data_card() -> None:
    dataset = load_dataset("samples")
    assert dataset.fingerprint == samples_module.FINGERPRINT
    assert samples_module.FINGERPRINT in (REPO_ROOT / "data_cards" / "samples.md").read_text()


def test_samples_refuse_a_bundled_file_that_differs_from_its_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for entry in samples_module.SAMPLE_IMAGES:
        (tmp_path / entry.file_name).write_bytes(
            (samples_module.skimage_data_dir() / entry.file_name).read_bytes()
        )
    write_png(tmp_path / "coffee.png")
    monkeypatch.setattr(samples_module, "skimage_data_dir", lambda: tmp_path)
    with pytest.raises(InputError, match=r"coffee\.png: sha256"):
        load_dataset("samples")


# ---------------------------------------------------------------- fingerprint


def test_fingerprint_is_stable_across_loads_and_sample_order(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png", (1, 1, 1))
    write_png(tmp_path / "b.png", (2, 2, 2))
    first, second = load_folder(tmp_path), load_folder(tmp_path)
    assert first.fingerprint == second.fingerprint
    assert dataset_fingerprint(list(reversed(first.samples))) == first.fingerprint
    assert first.fingerprint.startswith("sha256:") and len(first.fingerprint) == len("sha256:") + 64


def test_fingerprint_changes_when_one_image_byte_changes(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png", (1, 1, 1))
    write_png(tmp_path / "b.png", (2, 2, 2))
    before = load_folder(tmp_path).fingerprint
    write_png(tmp_path / "b.png", (2, 2, 3))
    assert load_folder(tmp_path).fingerprint != before


def test_fingerprint_changes_when_an_id_changes(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png", (1, 1, 1))
    before = load_folder(tmp_path).fingerprint
    (tmp_path / "a.png").rename(tmp_path / "renamed.png")
    assert load_folder(tmp_path).fingerprint != before


# ---------------------------------------------------------------- unibench


def test_unibench_downloads_verifies_and_installs_the_zip_on_first_use(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = {"__MACOSX/Image/._0.png": b"resource fork", "Image/.DS_Store": b"x", "Image/readme.txt": b"hi"}
    served = zip_bytes({**UNIBENCH_IMAGES, **junk})
    with serve_files({"/Image.zip": served}) as (url, requested):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        dataset = load_dataset("unibench", cache_root=unibench_env)

    assert requested == ["/Image.zip"]
    assert dataset.name == "unibench"
    assert [sample.id for sample in dataset.samples] == ["0", "1", "2"]
    installed = unibench_env / "unibench"
    assert sorted(path.name for path in installed.iterdir()) == ["0.png", "1.png", "2.png", "SOURCE.json"]
    source = json.loads((installed / "SOURCE.json").read_text())
    assert source["zip_sha256"] == hashlib.sha256(served).hexdigest()
    assert source["url"] == f"{url}/Image.zip" and source["image_count"] == 3
    assert source["folder_in_zip"] == "Image"
    # no temp folders left; the first download's hash is trusted from now on
    assert sorted(path.name for path in unibench_env.iterdir()) == ["unibench", "unibench.trust.json"]
    trusted = json.loads((unibench_env / "unibench.trust.json").read_text())
    assert trusted["zip_sha256"] == hashlib.sha256(served).hexdigest()
    assert dataset.source.endswith(f"(Image.zip sha256:{hashlib.sha256(served).hexdigest()})")


def test_unibench_second_load_reads_the_installed_images_without_network(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_files({"/Image.zip": zip_bytes(UNIBENCH_IMAGES)}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        first = load_dataset("unibench", cache_root=unibench_env)
    monkeypatch.setenv(unibench_module.URL_ENV, f"http://127.0.0.1:{unused_port()}/Image.zip")
    assert load_dataset("unibench", cache_root=unibench_env).fingerprint == first.fingerprint


def test_unibench_defaults_to_the_cache_folder(unibench_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_files({"/Image.zip": zip_bytes(UNIBENCH_IMAGES)}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        load_dataset("unibench")
    assert (unibench_env.parent / "cache" / "datasets" / "unibench" / "SOURCE.json").is_file()


def test_unibench_accepts_a_zip_that_matches_the_pinned_sha256(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = zip_bytes(UNIBENCH_IMAGES)
    monkeypatch.setattr(unibench_module, "ZIP_SHA256", hashlib.sha256(served).hexdigest())
    with serve_files({"/Image.zip": served}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        assert len(load_dataset("unibench", cache_root=unibench_env)) == 3


def test_unibench_refuses_a_zip_whose_sha256_differs_from_the_pin(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unibench_module, "ZIP_SHA256", "0" * 64)
    with serve_files({"/Image.zip": zip_bytes(UNIBENCH_IMAGES)}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        with pytest.raises(InputError) as error:
            load_dataset("unibench", cache_root=unibench_env)
    assert "sha256" in one_line(error)
    assert not (unibench_env / "unibench").exists()


def test_unibench_refuses_a_later_download_that_differs_from_the_first(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_files({"/Image.zip": zip_bytes(UNIBENCH_IMAGES)}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        load_dataset("unibench", cache_root=unibench_env)
    shutil.rmtree(unibench_env / "unibench")  # the user deletes the images to download them again
    changed = {**UNIBENCH_IMAGES, "Image/0.png": png_bytes((1, 2, 3))}
    with serve_files({"/Image.zip": zip_bytes(changed)}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        with pytest.raises(InputError) as error:
            load_dataset("unibench", cache_root=unibench_env)
    assert "unibench.trust.json" in one_line(error) and "sha256" in one_line(error)
    assert not (unibench_env / "unibench").exists()


def test_unibench_accepts_a_later_download_identical_to_the_first(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_files({"/Image.zip": zip_bytes(UNIBENCH_IMAGES)}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        first = load_dataset("unibench", cache_root=unibench_env)
        shutil.rmtree(unibench_env / "unibench")
        assert load_dataset("unibench", cache_root=unibench_env).fingerprint == first.fingerprint


def test_unibench_refuses_a_zip_with_the_wrong_image_count(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unibench_module, "EXPECTED_IMAGE_COUNT", 100)
    with serve_files({"/Image.zip": zip_bytes(UNIBENCH_IMAGES)}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        with pytest.raises(InputError, match="holds 3 images"):
            load_dataset("unibench", cache_root=unibench_env)
    assert not (unibench_env / "unibench").exists()


def test_unibench_download_404_raises_one_line_with_url_and_manual_steps(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_files({}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        with pytest.raises(InputError) as error:
            load_dataset("unibench", cache_root=unibench_env)
    message = one_line(error)
    assert f"{url}/Image.zip" in message and "404" in message
    assert str(unibench_env / "unibench") in message and "--dataset DIR" in message
    assert not (unibench_env / "unibench").exists()


def test_unibench_connection_refused_raises_input_error(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{unused_port()}/Image.zip"
    monkeypatch.setenv(unibench_module.URL_ENV, url)
    with pytest.raises(InputError) as error:
        load_dataset("unibench", cache_root=unibench_env)
    assert url in one_line(error)


def test_unibench_refuses_a_download_that_is_not_a_zip(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_files({"/Image.zip": b"<html>rate limited</html>"}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        with pytest.raises(InputError, match="not a valid zip"):
            load_dataset("unibench", cache_root=unibench_env)


def test_unibench_zip_slip_is_refused_and_nothing_is_written_outside(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    evil = zip_bytes({**UNIBENCH_IMAGES, "../../evil.png": png_bytes((0, 0, 0))})
    with serve_files({"/Image.zip": evil}) as (url, _):
        monkeypatch.setenv(unibench_module.URL_ENV, f"{url}/Image.zip")
        with pytest.raises(InputError, match="escapes the extraction folder"):
            load_dataset("unibench", cache_root=unibench_env)
    assert list(tmp_path.rglob("evil.png")) == []
    assert not (unibench_env / "unibench").exists()
    assert list(unibench_env.iterdir()) == []


def test_unibench_can_read_a_manually_downloaded_zip_through_a_file_url(
    unibench_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local_zip = tmp_path / "Image.zip"
    local_zip.write_bytes(zip_bytes(UNIBENCH_IMAGES))
    monkeypatch.setenv(unibench_module.URL_ENV, local_zip.as_uri())
    assert len(load_dataset("unibench", cache_root=unibench_env)) == 3


def test_unibench_uses_images_unzipped_by_hand_into_its_folder(unibench_env: Path) -> None:
    for name, data in UNIBENCH_IMAGES.items():
        (unibench_env / "unibench" / name).parent.mkdir(parents=True, exist_ok=True)
        (unibench_env / "unibench" / name).write_bytes(data)
    dataset = load_dataset("unibench", cache_root=unibench_env)  # the default URL is never tried
    assert [sample.id for sample in dataset.samples] == ["0", "1", "2"]


def test_unibench_folder_without_images_says_to_delete_it(unibench_env: Path) -> None:
    (unibench_env / "unibench").mkdir(parents=True)
    with pytest.raises(InputError, match="delete it to download them again"):
        load_dataset("unibench", cache_root=unibench_env)


# ---------------------------------------------------------------- safe extraction


@pytest.mark.parametrize(
    "entry", ["../evil.png", "Image/../../evil.png", "/tmp/evil.png", "C:/evil.png", "..\\evil.png"]
)
def test_zip_entries_escaping_the_target_are_refused_before_writing(tmp_path: Path, entry: str) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"Image/0.png": png_bytes((1, 2, 3)), entry: png_bytes((0, 0, 0))}))
    target = tmp_path / "deep" / "target"
    with pytest.raises(InputError, match="escapes the extraction folder"):
        extract_images_safely(archive, target)
    assert not target.exists()
    assert list(tmp_path.rglob("evil.png")) == []


def test_zip_symlink_entries_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zip_file:
        link = zipfile.ZipInfo("Image/0.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zip_file.writestr(link, "/etc/passwd")
    archive = tmp_path / "a.zip"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(InputError, match="symbolic link"):
        extract_images_safely(archive, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_zip_entry_with_an_absurd_compression_ratio_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"Image/0.png": bytes(8 * 1024**2)}))
    assert archive.stat().st_size < 100_000
    with pytest.raises(InputError, match="zip bomb"):
        extract_images_safely(archive, tmp_path / "target")


def test_zip_larger_than_the_total_size_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_module, "MAX_TOTAL_BYTES", 100)
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"Image/0.png": bytes(1000)}))
    with pytest.raises(InputError, match="would unpack to"):
        extract_images_safely(archive, tmp_path / "target")


def test_safe_extraction_keeps_only_images_and_their_folders(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(
        zip_bytes({**UNIBENCH_IMAGES, "__MACOSX/Image/._1.png": b"x", "Image/notes.md": b"x"})
    )
    written = extract_images_safely(archive, tmp_path / "target")
    assert sorted(path.relative_to(tmp_path / "target").as_posix() for path in written) == sorted(
        UNIBENCH_IMAGES
    )
    assert sorted(path.name for path in (tmp_path / "target").rglob("*") if path.is_file()) == [
        "0.png",
        "1.png",
        "2.png",
    ]
