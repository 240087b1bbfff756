"""A folder of images as a dataset: one sample per image file, id = file stem."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from unified_bench.datasets.base import Dataset, FileLocation, Sample, check_sample_id, make_dataset
from unified_bench.errors import InputError
from unified_bench.images import IMAGE_SUFFIXES, inspect_image_file


def is_image_file(path: Path) -> bool:
    """True for a visible regular file whose suffix is an image suffix (any case)."""
    # Hidden files are skipped: macOS writes "._name.jpg" companions that are not images.
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted((path for path in folder.iterdir() if is_image_file(path)), key=lambda path: path.name)


# Why an entry was skipped, in the singular and the plural.
_SKIP_REASONS = {
    "dangling": ("dangling symlink", "dangling symlinks"),
    "link": ("symlink to a non-file", "symlinks to non-files"),
    "special": ("non-file named like an image", "non-files named like images"),
}


def skipped_entries(folder: Path) -> list[tuple[Path, str]]:
    """Entries of ``folder`` that look like images or links but cannot be read as image files.

    Dangling symbolic links, links to folders or devices, and image-named entries that are not
    regular files (a folder called ``x.png``, a FIFO), each with a key of ``_SKIP_REASONS``.
    Hidden entries are left out on purpose.
    """
    skipped = []
    for path in sorted(folder.iterdir(), key=lambda path: path.name):
        if path.name.startswith(".") or path.is_file():
            continue
        if path.is_symlink():
            reason = "dangling" if not path.exists() else "link"
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            reason = "special"
        else:
            continue
        skipped.append((path, reason))
    return skipped


def skipped_note(folder: Path, skipped: list[tuple[Path, str]]) -> str | None:
    """One line saying how many entries were skipped and why, or ``None`` when none were."""
    if not skipped:
        return None
    counts = Counter(reason for _, reason in skipped)
    reasons = ", ".join(
        f"{count} {_SKIP_REASONS[reason][count > 1]}" for reason, count in sorted(counts.items())
    )
    shown = ", ".join(path.name for path, _ in skipped[:3]) + (" ..." if len(skipped) > 3 else "")
    noun = "entry" if len(skipped) == 1 else "entries"
    return f"{folder}: skipped {len(skipped)} {noun} that are not image files ({reasons}: {shown})."


def find_image_folder(root: Path) -> Path | None:
    """The one folder at or under ``root`` that holds images (an unzipped archive often nests them).

    Returns ``None`` when no folder holds images. Hidden folders and ``__MACOSX`` are ignored.

    Raises:
        InputError: Images sit in more than one folder, so which one is the dataset is ambiguous.
    """
    if image_files(root):
        return root
    candidates = [
        folder
        for folder in sorted(root.rglob("*"))
        if folder.is_dir()
        and not any(part.startswith(".") or part == "__MACOSX" for part in folder.relative_to(root).parts)
        and image_files(folder)
    ]
    if len(candidates) > 1:
        listed = ", ".join(str(folder.relative_to(root)) for folder in candidates[:5])
        raise InputError(f"{root}: images sit in several folders ({listed}); keep one folder of images.")
    return candidates[0] if candidates else None


def load_folder(folder: str | Path, *, name: str | None = None) -> Dataset:
    """Load every image directly in ``folder`` (not in subfolders), sorted by file name.

    Args:
        folder: The folder holding the images.
        name: The dataset name recorded in results; defaults to the folder's name.

    Raises:
        InputError: The folder is missing, holds no images, two files share a stem, a stem is not a
            safe id, or a file is not an image or a decompression bomb. Images are hashed here and
            decoded only when used, so a file truncated after its header fails then.

    Example:
        >>> dataset = load_folder("my_images")  # doctest: +SKIP
        >>> [sample.id for sample in dataset.samples]  # doctest: +SKIP
        ['cat', 'dog']
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise InputError(f"{folder}: no such folder; pass an existing folder of images with --dataset.")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; pass a folder of images or a .jsonl manifest.")
    files = image_files(folder)
    if not files:
        raise InputError(
            f"{folder}: no images found (looked for {', '.join(IMAGE_SUFFIXES)} directly in the folder); "
            "put the images there or point --dataset at the folder that holds them."
        )
    _refuse_clashing_stems(files)
    samples = [
        Sample(check_sample_id(path.stem, str(path)), FileLocation(path), inspect_image_file(path))
        for path in files
    ]
    note = skipped_note(folder, skipped_entries(folder))
    return make_dataset(
        name or folder.resolve().name, samples, str(folder.resolve()), notes=[note] if note else []
    )


def _refuse_clashing_stems(files: list[Path]) -> None:
    # Ids become output file names, so stems equal up to case would overwrite each other on
    # case-insensitive file systems (macOS, Windows).
    first_by_key: dict[str, Path] = {}
    for path in files:
        key = path.stem.casefold()
        if key in first_by_key:
            other = first_by_key[key]
            raise InputError(
                f"{other} and {path} give the same sample id {path.stem!r} (ids are file names without "
                "the suffix, compared ignoring case); rename or remove one of them."
            )
        first_by_key[key] = path
