"""Extract the images of a downloaded zip without trusting it (zip-slip, symlinks, zip bombs)."""

from __future__ import annotations

import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from unified_bench.errors import InputError
from unified_bench.images import IMAGE_SUFFIXES

MAX_TOTAL_BYTES = 2 * 1024**3  # uncompressed; the 100 Unified-Bench images are far smaller
MAX_ENTRIES = 10_000
# Images barely compress, so a large entry that shrank a hundredfold is a bomb, not a photo.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_FROM_BYTES = 1024**2
_CHUNK_BYTES = 1024**2
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


def extract_images_safely(archive: Path, target: Path) -> list[Path]:
    """Extract the image files of ``archive`` under ``target``, keeping their folders.

    Every entry is checked before anything is written: the whole archive is refused if one entry
    would land outside ``target`` (``../``, absolute path, drive letter), is a symlink, or if the
    sizes look like a zip bomb. Junk (``__MACOSX/``, dotfiles, non-images) is skipped.

    Args:
        archive: The zip file.
        target: A folder to create (or an empty one) for the extracted files.

    Returns:
        The extracted image paths.

    Raises:
        InputError: The file is not a zip, or an entry is unsafe, corrupt or too large.
    """
    try:
        with zipfile.ZipFile(archive) as zip_file:
            entries = _checked_image_entries(zip_file, archive, target)
            return [_extract_entry(zip_file, info, target / relative, archive) for info, relative in entries]
    except zipfile.BadZipFile as error:
        raise InputError(f"{archive}: not a valid zip archive ({error}); download it again.") from None


def _checked_image_entries(
    zip_file: zipfile.ZipFile, archive: Path, target: Path
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    infos = zip_file.infolist()
    if len(infos) > MAX_ENTRIES:
        raise InputError(f"{archive}: {len(infos)} entries, more than {MAX_ENTRIES}; refusing to extract it.")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise InputError(
            f"{archive}: would unpack to {total} bytes, more than {MAX_TOTAL_BYTES}; refusing to extract it."
        )
    root = target.resolve()
    entries = []
    for info in infos:
        relative = _safe_relative_path(info.filename, archive)
        if not (root / relative).resolve().is_relative_to(root):
            raise InputError(
                f"{archive}: entry {info.filename!r} escapes the extraction folder; refusing it."
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InputError(f"{archive}: entry {info.filename!r} is a symbolic link; refusing the archive.")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_FROM_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise InputError(
                f"{archive}: entry {info.filename!r} expands {ratio:.0f}-fold (a zip bomb?); "
                "refusing the archive."
            )
        if not info.is_dir() and not _is_junk(relative) and relative.suffix.lower() in IMAGE_SUFFIXES:
            entries.append((info, relative))
    return entries


def _safe_relative_path(name: str, archive: Path) -> PurePosixPath:
    normalized = name.replace("\\", "/")
    path = PurePosixPath(normalized)
    if normalized.startswith("/") or _WINDOWS_DRIVE.match(normalized) or ".." in path.parts or not path.parts:
        raise InputError(f"{archive}: entry {name!r} escapes the extraction folder; refusing the archive.")
    return path


def _is_junk(relative: PurePosixPath) -> bool:
    return any(part == "__MACOSX" or part.startswith(".") for part in relative.parts)


def _extract_entry(
    zip_file: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, archive: Path
) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    # Count what is really written: the sizes in the zip's headers may lie.
    with zip_file.open(info) as source, open(destination, "wb") as sink:
        while chunk := source.read(_CHUNK_BYTES):
            written += len(chunk)
            if written > info.file_size:
                raise InputError(
                    f"{archive}: entry {info.filename!r} is larger than its header says; refusing it."
                )
            sink.write(chunk)
    return destination
