"""``unibench``: the 100 official Unified-Bench reference images (UAE, arXiv 2509.09666).

The first use downloads the authors' ``Image.zip``, checks it, and installs its images into
``<cache>/datasets/unibench/`` next to a ``SOURCE.json`` that records where they came from and
the zip's sha256. Later uses read that folder and never touch the network.

The zip is trusted on first use: its sha256 is also kept in ``<cache>/datasets/unibench.trust.json``,
which outlives the image folder, so a later download (after the folder is deleted) whose bytes
differ is refused. ``ZIP_SHA256``, once a maintainer pins it, takes precedence over that record.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from unified_bench.datasets.archive import extract_images_safely
from unified_bench.datasets.base import Dataset
from unified_bench.datasets.folder import find_image_folder, image_files, load_folder
from unified_bench.errors import InputError
from unified_bench.io import atomic_write_json
from unified_bench.paths import cache_dir

DEFAULT_URL = "https://github.com/PKU-YuanGroup/UAE/releases/download/v1.0/Image.zip"
URL_ENV = "UNIFIED_BENCH_UNIBENCH_URL"
# The official zip's sha256 is not published. To pin it: download once, read "zip_sha256" from
# <cache>/datasets/unibench.trust.json (or SOURCE.json), check it with the authors, and set it here.
ZIP_SHA256: str | None = None
TRUST_FILE = "unibench.trust.json"
EXPECTED_IMAGE_COUNT: int | None = 100  # "Reference images (100 samples)", UAE README
DOWNLOAD_TIMEOUT_S = 60.0
MAX_DOWNLOAD_BYTES = 2 * 1024**3
SOURCE_FILE = "SOURCE.json"
_CHUNK_BYTES = 1024**2


def unibench_dir(cache_root: Path | None = None) -> Path:
    """Where the images live: ``<cache_root or $UNIFIED_BENCH_CACHE/datasets>/unibench``."""
    root = Path(cache_root).expanduser() if cache_root is not None else cache_dir("datasets")
    return root / "unibench"


def load_unibench(*, cache_root: Path | None = None) -> Dataset:
    """Load the Unified-Bench images, downloading and installing them on first use.

    Args:
        cache_root: Folder holding ``unibench/``; defaults to ``cache_dir("datasets")``.

    Raises:
        InputError: The download failed (the message says how to get the zip by hand), the zip is
            not the expected one or is unsafe, or the installed folder holds no images.
    """
    target = unibench_dir(cache_root)
    if not target.exists():
        install_unibench(target)
    folder = find_image_folder(target) if target.is_dir() else None
    if folder is None:
        raise InputError(
            f"{target}: holds no Unified-Bench images; delete it to download them again, "
            f"or unzip Image.zip ({DEFAULT_URL}) there."
        )
    dataset = load_folder(folder, name="unibench")
    zip_sha256 = _installed_zip_sha256(folder)
    if zip_sha256 is None:
        return dataset
    # The source string is what results.json records about the dataset: name the zip it came from.
    return replace(dataset, source=f"{dataset.source} (Image.zip sha256:{zip_sha256})")


def install_unibench(target: Path) -> None:
    """Download, verify and extract the zip, then move the images into ``target`` in one rename."""
    url = os.environ.get(URL_ENV) or DEFAULT_URL
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unibench-", dir=target.parent) as work_dir:
        work = Path(work_dir)
        archive = work / "Image.zip"
        sha256, size = _download(url, archive, target)
        _verify_zip_sha256(url, sha256, trust_file=target.parent / TRUST_FILE)
        extracted = work / "extracted"
        extract_images_safely(archive, extracted)
        images = find_image_folder(extracted) if extracted.is_dir() else None
        if images is None:
            raise InputError(f"{url}: the zip holds no images; check the URL ({URL_ENV}).")
        count = len(image_files(images))
        if EXPECTED_IMAGE_COUNT is not None and count != EXPECTED_IMAGE_COUNT:
            raise InputError(
                f"{url}: the zip holds {count} images, Unified-Bench has {EXPECTED_IMAGE_COUNT}; "
                "check the URL or use --dataset DIR for a different image set."
            )
        atomic_write_json(
            images / SOURCE_FILE,
            {
                "url": url,
                "zip_sha256": sha256,
                "zip_bytes": size,
                "pinned_zip_sha256": ZIP_SHA256,
                "image_count": count,
                "folder_in_zip": images.relative_to(extracted).as_posix(),
                "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        )
        if not (target.parent / TRUST_FILE).exists():
            atomic_write_json(target.parent / TRUST_FILE, {"zip_sha256": sha256, "url": url})
        try:
            os.rename(images, target)
        except OSError:
            if not target.is_dir():  # another process installing at the same time wins the rename
                raise


def _verify_zip_sha256(url: str, sha256: str, *, trust_file: Path) -> None:
    """Refuse a zip that differs from the pinned hash, or else from the one trusted on first use."""
    if ZIP_SHA256 is not None:
        if sha256 != ZIP_SHA256:
            raise InputError(
                f"{url}: the zip's sha256 is {sha256}, expected the pinned {ZIP_SHA256}; the file changed "
                f"or is corrupt. Check the URL, or set it with {URL_ENV}."
            )
        return
    trusted = _read_trusted_sha256(trust_file)
    if trusted is not None and sha256 != trusted:
        raise InputError(
            f"{url}: the zip's sha256 is {sha256}, but the first download recorded in {trust_file} was "
            f"{trusted}; the file changed or is corrupt. Check the URL ({URL_ENV}); delete {trust_file} "
            "only if you know the new zip is the official one."
        )


def _read_trusted_sha256(trust_file: Path, key: str = "zip_sha256") -> str | None:
    """The sha256 trusted on first use (``trust_file[key]``), or ``None`` before the first download."""
    if not trust_file.exists():
        return None
    try:
        trusted = json.loads(trust_file.read_text("utf-8"))[key]
    except (OSError, ValueError, KeyError, TypeError):
        trusted = None
    if not isinstance(trusted, str) or len(trusted) != 64:
        raise InputError(
            f"{trust_file}: unreadable record of the trusted sha256; delete it to trust the "
            "next download, or restore it."
        )
    return trusted


def check_trusted_sha256(url: str, sha256: str, trust_file: Path, *, url_env: str, what: str) -> str | None:
    """Refuse a download whose sha256 differs from the one trusted on first use (``trust_file["sha256"]``);
    returns the trusted sha256, or ``None`` on first use (the caller records it once installed)."""
    trusted = _read_trusted_sha256(trust_file, key="sha256")
    if trusted is not None and trusted != sha256:
        raise InputError(
            f"{url}: sha256 {sha256}, but the first download recorded in {trust_file} was {trusted}; "
            f"the {what} changed. Check the URL ({url_env}); delete {trust_file} only if you know the new "
            f"{what} is the official one."
        )
    return trusted


def _installed_zip_sha256(folder: Path) -> str | None:
    try:
        recorded = json.loads((folder / SOURCE_FILE).read_text("utf-8")).get("zip_sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return recorded if isinstance(recorded, str) else None


def _download(
    url: str,
    destination: Path,
    target: Path,
    *,
    failure: Callable[[str, str, Path], InputError] | None = None,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> tuple[str, int]:
    """Stream ``url`` to ``destination``; returns the sha256 and the size in bytes.

    ``failure(url, reason, target)`` words a failure (default: the Unified-Bench images' message).
    """
    _download_error = failure or _unibench_download_error
    digest, size = hashlib.sha256(), 0
    request = urllib.request.Request(url, headers={"User-Agent": "unified-bench"})
    try:
        with (
            urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response,
            open(destination, "wb") as sink,
        ):
            while chunk := response.read(_CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise _download_error(url, f"more than {max_bytes} bytes", target)
                digest.update(chunk)
                sink.write(chunk)
    except urllib.error.HTTPError as error:
        raise _download_error(url, f"HTTP {error.code} {error.reason}", target) from None
    except urllib.error.URLError as error:
        raise _download_error(url, str(error.reason), target) from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise _download_error(url, str(error) or type(error).__name__, target) from None
    return digest.hexdigest(), size


def _unibench_download_error(url: str, reason: str, target: Path) -> InputError:
    return InputError(
        f"Could not download the Unified-Bench images from {url} ({reason}). Get Image.zip another way "
        f"and unzip its images into {target}, or set {URL_ENV}=file:///path/to/Image.zip, "
        "or pass --dataset DIR with the unzipped images."
    )
