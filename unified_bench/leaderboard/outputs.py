"""The outputs archive of a submission: the run's captions and reconstructions, so anyone can re-score it.

A zip (stored, not compressed: PNGs do not shrink), byte-identical for the same run:

``captions.jsonl``   one ``{"id", "caption"}`` per sample, in dataset order
``images/ID.png``    the reconstruction of each sample

A ``--repeats`` run holds one such pair per seed, under ``repeat-1/``, ``repeat-2/``, ... (the run's
own folder names). Reading never extracts anything: only the entries expected for the submission's
ids are read, each size-checked, and every image is decoded with the usual bomb checks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from unified_bench.errors import InputError
from unified_bench.images import decode_image, sha256_bytes
from unified_bench.paths import file_sha256
from unified_bench.results import Results
from unified_bench.results_paths import check_inside_folder
from unified_bench.store import CAPTIONS_FILE, IMAGES_DIR, RunStore

MAX_ENTRY_BYTES = 64 * 1024**2
MAX_ARCHIVE_BYTES = 8 * 1024**3
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # zip's epoch: the same run gives the same bytes and sha256
_DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class OutputsInfo:
    """What a submission records about its archive."""

    location: str
    sha256: str
    bytes: int

    def to_json(self) -> dict[str, object]:
        return {"location": self.location, "sha256": self.sha256, "bytes": self.bytes}


def part_prefixes(results: Results) -> list[str]:
    """``[""]`` for a single run, ``["repeat-1/", ...]`` for a ``--repeats`` run."""
    return [f"{run}/" for run in results.repeats["runs"]] if results.repeats else [""]


def _entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
    info.external_attr = 0o644 << 16
    archive.writestr(info, data, compress_type=zipfile.ZIP_STORED)


def pack_outputs(
    run_dir: Path, results: Results, target: Path, *, location: str | None = None
) -> OutputsInfo:
    """Write the archive of ``run_dir``'s captions and images for ``results``' ids to ``target``.

    Raises:
        InputError: a caption or image of a scored sample is missing from the run folder.
    """
    ids = results.samples["ids"]
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            for prefix in part_prefixes(results):
                store = RunStore(run_dir / prefix) if prefix else RunStore(run_dir)
                captions = store.captions()
                lines = []
                for sample_id in ids:
                    if sample_id not in captions or not store.has_image(sample_id):
                        raise InputError(
                            f"{store.root}: no caption or image for {sample_id}; submit the run folder that "
                            "was scored, with its captions.jsonl and images/."
                        )
                    lines.append(json.dumps({"id": sample_id, "caption": captions[sample_id].caption}) + "\n")
                _entry(archive, prefix + CAPTIONS_FILE, "".join(lines).encode("utf-8"))
                for sample_id in ids:
                    _entry(
                        archive,
                        f"{prefix}{IMAGES_DIR}/{sample_id}.png",
                        check_inside_folder(store.image_path(sample_id), run_dir).read_bytes(),
                    )
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return OutputsInfo(
        location=location or str(target), sha256=file_sha256(target), bytes=target.stat().st_size
    )


@contextmanager
def fetched_archive(location: str) -> Iterator[Path]:
    """A local path as is, or an ``https://`` URL downloaded to a temporary file (removed afterwards)."""
    if location.startswith("https://"):
        folder = Path(tempfile.mkdtemp(prefix="unified-bench-outputs-"))
        try:
            target = folder / "outputs.zip"
            try:
                with (
                    urllib.request.urlopen(location, timeout=_DOWNLOAD_TIMEOUT_S) as response,
                    open(target, "wb") as out,
                ):
                    copied = 0
                    while chunk := response.read(1024**2):
                        copied += len(chunk)
                        if copied > MAX_ARCHIVE_BYTES:
                            raise InputError(
                                f"{location}: over {MAX_ARCHIVE_BYTES >> 30} GiB; not an outputs archive."
                            )
                        out.write(chunk)
            except OSError as error:
                raise InputError(
                    f"{location}: cannot download ({error}); download it and pass the file."
                ) from None
            yield target
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if "://" in location:
        raise InputError(f"{location}: give a local file or an https:// URL.")
    path = Path(location).expanduser()
    if not path.is_file():
        raise InputError(f"{location}: no such outputs archive; pass --outputs FILE or an https:// URL.")
    yield path


@dataclass(frozen=True)
class OutputsPart:
    """One run's outputs read back from the archive, for the given ids."""

    captions: dict[str, str]
    images: dict[str, tuple[Image.Image, str]]  # id -> (image, sha256 of the PNG bytes)
    absent: list[str]  # ids without an image or caption in the archive


def _read_entry(archive: zipfile.ZipFile, name: str, source: str) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_ENTRY_BYTES:
        raise InputError(f"{source}: {name} is {info.file_size} bytes; not an outputs archive.")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:  # bad CRC, truncated entry
        raise InputError(
            f"{source}: {name} is corrupt ({error}); download the archive again or repack it with "
            "`unified-bench submit --outputs`."
        ) from None


def read_part(path: Path, prefix: str, ids: Sequence[str]) -> OutputsPart:
    """The captions and images of ``ids`` under ``prefix`` in the archive at ``path``.

    Raises:
        InputError: not a zip, a malformed captions file or an undecodable image.
    """
    source = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(
            f"{source}: not a zip archive ({error}); pass the file `submit --outputs` wrote."
        ) from None
    with archive:
        captions: dict[str, str] = {}
        data = _read_entry(archive, prefix + CAPTIONS_FILE, source)
        for number, line in enumerate((data or b"").decode("utf-8", errors="replace").splitlines(), start=1):
            try:
                record = json.loads(line)
                captions[str(record["id"])] = str(record["caption"])
            except (ValueError, KeyError, TypeError):
                raise InputError(
                    f"{source}: {prefix}{CAPTIONS_FILE} line {number} is not an id/caption record."
                ) from None
        images: dict[str, tuple[Image.Image, str]] = {}
        for sample_id in ids:
            name = f"{prefix}{IMAGES_DIR}/{sample_id}.png"
            png = _read_entry(archive, name, source)
            if png is not None:
                images[sample_id] = (decode_image(png, f"{source}:{name}"), sha256_bytes(png))
    absent = [i for i in ids if i not in images or i not in captions]
    return OutputsPart(captions=captions, images=images, absent=absent)
