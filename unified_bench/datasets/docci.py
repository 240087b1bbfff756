"""``docci`` as an i2t2i dataset: DOCCI's images, with DOCCI's long descriptions as reference captions.

DOCCI (Onoe et al., ECCV 2024; CC BY 4.0) publishes ``docci_descriptions.jsonlines`` (one
``{"example_id", "split", "image_file", "description"}`` per line) and ``docci_images.tar.gz``
(the JPEGs under ``images/``, named by ``image_file``). Nothing of it ships with unified-bench.

The descriptions come through the ``docci`` prompt set (downloaded and trusted on first use, see
``prompt_downloads``). The image archive is downloaded on first use from its canonical location (or
``UNIFIED_BENCH_DOCCI_IMAGES_URL``, ``file://`` included), its sha256 trusted on first use in
``<cache>/datasets/docci.trust.json``, and its images installed into ``<cache>/datasets/docci/images/``
with ``index.json`` (image file -> sha256, so loading, and ``--limit``, never re-reads the images)
and ``SOURCE.json``. Samples are in the descriptions' order, the ``test`` split first.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path, PurePosixPath

from unified_bench.datasets.base import Dataset, FileLocation, Sample, check_sample_id, make_dataset
from unified_bench.errors import InputError
from unified_bench.images import IMAGE_SUFFIXES, inspect_image_file
from unified_bench.io import atomic_write_json
from unified_bench.paths import cache_dir

IMAGES_URL = "https://storage.googleapis.com/docci/data/docci_images.tar.gz"
IMAGES_URL_ENV = "UNIFIED_BENCH_DOCCI_IMAGES_URL"
ARCHIVE = "docci_images.tar.gz"
TRUST_FILE = "docci.trust.json"
INDEX_FILE = "index.json"
SOURCE_FILE = "SOURCE.json"
MAX_ARCHIVE_BYTES = 64 * 1024**3  # the archive's size is not verified here (see the data card)
MAX_MEMBERS = 100_000


def docci_dir(cache_root: Path | None = None) -> Path:
    root = Path(cache_root).expanduser() if cache_root is not None else cache_dir("datasets")
    return root / "docci"


def load_docci_images(*, cache_root: Path | None = None) -> Dataset:
    """DOCCI's images with their description as the one reference caption, downloading on first use.

    Raises:
        InputError: A download failed or was not the trusted file, or a description names no image.
    """
    from unified_bench.datasets.prompt_downloads import DOWNLOADED_SETS, load_downloaded, prompts_cache

    descriptions = load_downloaded("docci", cache_root=cache_root)
    descriptions_file = prompts_cache(cache_root) / "docci" / DOWNLOADED_SETS["docci"].filename
    image_files = _image_files(descriptions_file)
    target = docci_dir(cache_root)
    if not (target / INDEX_FILE).is_file():
        _install_images(target)
    index = _read_index(target)
    ordered = sorted(descriptions.samples, key=lambda s: s.tags != ("test",))  # stable: file order kept
    samples = []
    for prompt in ordered:
        image_file = image_files.get(prompt.id, f"{prompt.id}.jpg")
        if image_file not in index:
            raise InputError(
                f"{target / 'images'}: no image {image_file} for DOCCI example {prompt.id}; delete {target} "
                f"to download {ARCHIVE} again."
            )
        samples.append(
            Sample(
                id=prompt.id,
                location=FileLocation(target / "images" / image_file),
                image_sha256=index[image_file],
                captions=(prompt.prompt,),
            )
        )
    card = {**descriptions.card, **_archive_record(target)}
    dataset = make_dataset("docci", samples, str(target / "images"), card=card)
    return replace(dataset, source=f"{dataset.source} ({ARCHIVE} sha256:{card.get('images_sha256')})")


def _image_files(descriptions_file: Path) -> dict[str, str]:
    from unified_bench.datasets.prompt_downloads import _rows

    rows = _rows(descriptions_file.read_text(encoding="utf-8"), str(descriptions_file))
    return {
        str(row["example_id"]): str(row["image_file"])
        for row in rows
        if isinstance(row, dict) and isinstance(row.get("image_file"), str)
    }


def _read_index(target: Path) -> dict[str, str]:
    try:
        index = json.loads((target / INDEX_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        index = None
    if not isinstance(index, dict):
        raise InputError(f"{target / INDEX_FILE}: unreadable; delete {target} to install the images again.")
    return index


def _archive_record(target: Path) -> dict[str, object]:
    from unified_bench.datasets.prompt_downloads import _source_record

    return {f"images_{key}": value for key, value in _source_record(target).items()}


def _install_images(target: Path) -> None:
    from unified_bench.datasets.unibench import _download, check_trusted_sha256

    url = os.environ.get(IMAGES_URL_ENV) or IMAGES_URL
    target.parent.mkdir(parents=True, exist_ok=True)
    trust_file = target.parent / TRUST_FILE

    def failure(url: str, reason: str, where: Path) -> InputError:
        return InputError(
            f"Could not download the DOCCI images from {url} ({reason}); set "
            f"{IMAGES_URL_ENV}=file:///path/to/{ARCHIVE} (a copy of {IMAGES_URL})."
        )

    with tempfile.TemporaryDirectory(prefix=".docci-", dir=target.parent) as work_dir:
        work = Path(work_dir)
        archive = work / ARCHIVE
        sha256, size = _download(url, archive, target, failure=failure, max_bytes=MAX_ARCHIVE_BYTES)
        trusted = check_trusted_sha256(url, sha256, trust_file, url_env=IMAGES_URL_ENV, what="archive")
        installed = work / "docci"
        index = _extract_images(archive, installed / "images", url)
        archive.unlink()
        atomic_write_json(installed / INDEX_FILE, index)
        atomic_write_json(
            installed / SOURCE_FILE, {"url": url, "sha256": sha256, "bytes": size, "images": len(index)}
        )
        if trusted is None:
            atomic_write_json(trust_file, {"sha256": sha256, "url": url})
        if target.is_dir() and not (target / INDEX_FILE).exists():
            shutil.rmtree(target)  # a half-installed folder from an interrupted older version
        try:
            os.rename(installed, target)
        except OSError:
            if not (target / INDEX_FILE).is_file():  # another process installing at the same time wins
                raise


def _extract_images(archive: Path, images: Path, url: str) -> dict[str, str]:
    """Write the archive's regular image files flat into ``images``; returns file name -> sha256.

    Only regular files under ``images/`` with an image suffix are taken, by their base name (which
    must be a safe id), so no entry can land outside ``images`` and links are never followed.
    """
    images.mkdir(parents=True)
    index: dict[str, str] = {}
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_MEMBERS:
                    raise InputError(f"{url}: more than {MAX_MEMBERS} entries; refusing to extract it.")
                path = PurePosixPath(member.name)
                if not member.isfile() or path.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                if path.name.startswith(".") or "images" not in path.parts[:-1]:
                    continue
                check_sample_id(path.name, f"{url}: {member.name}")
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, open(images / path.name, "wb") as sink:
                    shutil.copyfileobj(source, sink)
                index[path.name] = inspect_image_file(images / path.name)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise InputError(f"{url}: not a readable {ARCHIVE} ({error}); download it again.") from None
    if not index:
        raise InputError(f"{url}: the archive holds no images under images/; check {IMAGES_URL_ENV}.")
    return index
