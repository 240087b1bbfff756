"""``unibench``: the 100 official Unified-Bench reference images (UAE, arXiv 2509.09666).

The first use downloads the authors' ``Image.zip``, checks it, and installs its images into
``<cache>/datasets/unibench/`` next to a ``SOURCE.json`` that records where they came from and
the zip's sha256. Later uses read that folder and never touch the network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
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
# The official zip's sha256 is not published. Once known (SOURCE.json of a download records it),
# pin it here so a changed or corrupted archive is refused.
ZIP_SHA256: str | None = None
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
    return load_folder(folder, name="unibench")


def install_unibench(target: Path) -> None:
    """Download, verify and extract the zip, then move the images into ``target`` in one rename."""
    url = os.environ.get(URL_ENV) or DEFAULT_URL
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unibench-", dir=target.parent) as work_dir:
        work = Path(work_dir)
        archive = work / "Image.zip"
        sha256, size = _download(url, archive, target)
        if ZIP_SHA256 is not None and sha256 != ZIP_SHA256:
            raise InputError(
                f"{url}: the zip's sha256 is {sha256}, expected {ZIP_SHA256}; the file changed or is "
                "corrupt. Check the URL, or set it with " + URL_ENV + "."
            )
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
        try:
            os.rename(images, target)
        except OSError:
            if not target.is_dir():  # another process installing at the same time wins the rename
                raise


def _download(url: str, destination: Path, target: Path) -> tuple[str, int]:
    """Stream ``url`` to ``destination``; returns the sha256 and the size in bytes."""
    digest, size = hashlib.sha256(), 0
    request = urllib.request.Request(url, headers={"User-Agent": "unified-bench"})
    try:
        with (
            urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response,
            open(destination, "wb") as sink,
        ):
            while chunk := response.read(_CHUNK_BYTES):
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise _download_error(url, f"more than {MAX_DOWNLOAD_BYTES} bytes", target)
                digest.update(chunk)
                sink.write(chunk)
    except urllib.error.HTTPError as error:
        raise _download_error(url, f"HTTP {error.code} {error.reason}", target) from None
    except urllib.error.URLError as error:
        raise _download_error(url, str(error.reason), target) from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise _download_error(url, str(error) or type(error).__name__, target) from None
    return digest.hexdigest(), size


def _download_error(url: str, reason: str, target: Path) -> InputError:
    return InputError(
        f"Could not download the Unified-Bench images from {url} ({reason}). Get Image.zip another way "
        f"and unzip its images into {target}, or set {URL_ENV}=file:///path/to/Image.zip, "
        "or pass --dataset DIR with the unzipped images."
    )
