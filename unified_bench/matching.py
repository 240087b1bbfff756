"""Pair reconstructions with references by file name, as the official ``Score_i2i.py`` does.

``Score_i2i.py`` walks the generated folder recursively and, for each reconstruction, looks for a
reference: first one with the same file name; else the first (in path order) whose stem equals the
reconstruction's stem or, prefixed with ``recon_``, equals it. Reconstructions that match nothing
are ignored. Each matched reconstruction is one pair, so a reference with two reconstructions
(``a.png`` and ``a.jpg``) counts twice in the means. We pair the same way, with three deliberate
differences, each a way the official script would fail or surprise rather than a different number:

* hidden files and folders (``.*``, macOS ``._*`` AppleDouble companions, ``__MACOSX``) are ignored on
  both sides (the official script tries to open them as images and drops them after an error);
* ``.tif`` and ``.gif`` count as images besides ``Score_i2i.py``'s suffixes;
* a reference with several reconstructions is refused unless ``mode="all"`` asks for the official
  one-pair-per-reconstruction scoring; mostly it is a leftover file, not an intended second sample;
* when the reference folder sits inside the generated folder, its images are not reconstructions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from unified_bench.errors import InputError
from unified_bench.images import IMAGE_SUFFIXES

MATCH_MODES = ("unique", "all")
RECON_PREFIX = "recon_"


@dataclass(frozen=True)
class Pair:
    """One scored pair: paths relative to their folders, and the sample id the scores are keyed by."""

    id: str
    reference: Path
    reconstruction: Path


@dataclass(frozen=True)
class Matching:
    references: list[Path]  # every reference image, relative to the reference folder, in path order
    pairs: list[Pair]  # in reference order, then reconstruction order
    missing: list[Path]  # references with no reconstruction
    unmatched: list[Path]  # reconstructions that match no reference (ignored, as Score_i2i.py does)


def is_hidden(relative: Path) -> bool:
    """A dot-file, an AppleDouble ``._*`` companion, or anything inside a hidden or ``__MACOSX`` folder."""
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)


def visible_images(folder: Path, *, recursive: bool) -> list[Path]:
    """Image files under ``folder`` (relative paths, sorted as path strings), hidden ones skipped."""
    candidates: Iterator[Path] = folder.rglob("*") if recursive else folder.iterdir()
    found = []
    for path in candidates:
        relative = path.relative_to(folder)
        if path.suffix.lower() in IMAGE_SUFFIXES and not is_hidden(relative) and path.is_file():
            found.append(relative)
    return sorted(found, key=lambda p: p.as_posix())


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _folder(folder: Path, role: str) -> Path:
    if not folder.is_dir():
        raise InputError(f"{role} folder {folder}: does not exist or is not a folder.")
    return folder


def _reference_for(reconstruction: Path, references: list[Path], by_name: dict[str, Path]) -> Path | None:
    """``Score_i2i.py``'s rule: same file name, else the first same-stem or ``recon_``+stem reference."""
    if reconstruction.name in by_name:
        return by_name[reconstruction.name]
    stem = reconstruction.stem
    for reference in references:
        if reference.stem == stem or RECON_PREFIX + reference.stem == stem:
            return reference
    return None


def match_reconstructions(generated: Path, references: Path, *, mode: str = "unique") -> Matching:
    """Match the images under ``generated`` (recursively) with the reference images in ``references``.

    Args:
        generated: Folder of reconstructions, walked recursively.
        references: Folder of reference images (only the images directly in it, like ``--dataset``).
        mode: ``unique`` (a reference with several reconstructions is an error) or ``all`` (one pair
            per reconstruction, as ``Score_i2i.py`` scores them; ids are then the reconstruction paths).

    Raises:
        InputError: a folder is missing, the reference folder has no images, or (``unique``) a
            reference has several reconstructions.
    """
    if mode not in MATCH_MODES:
        raise InputError(f"--match {mode}: use one of {', '.join(MATCH_MODES)}.")
    reference_files = visible_images(_folder(references, "reference"), recursive=False)
    if not reference_files:
        raise InputError(f"reference folder {references}: no images ({', '.join(IMAGE_SUFFIXES)}).")
    _refuse_clashing_stems(reference_files, references)
    generated_files = [
        path
        for path in visible_images(_folder(generated, "generated"), recursive=True)
        if not _inside(generated / path, references)  # REF_DIR nested in GEN_DIR: not reconstructions
    ]
    if not generated_files:  # the same words and exit code as an empty reference folder
        raise InputError(f"generated folder {generated}: no images ({', '.join(IMAGE_SUFFIXES)}).")
    by_name: dict[str, Path] = {}
    for reference in reference_files:
        by_name.setdefault(reference.name, reference)
    found: dict[Path, list[Path]] = {reference: [] for reference in reference_files}
    unmatched: list[Path] = []
    for reconstruction in generated_files:
        reference = _reference_for(reconstruction, reference_files, by_name)
        if reference is None:
            unmatched.append(reconstruction)
        else:
            found[reference].append(reconstruction)
    if mode == "unique":
        _refuse_several(found, generated)
    pairs = [
        Pair(
            id=reference.stem if mode == "unique" else reconstruction.as_posix(),
            reference=reference,
            reconstruction=reconstruction,
        )
        for reference, reconstructions in found.items()
        for reconstruction in reconstructions
    ]
    missing = [reference for reference, reconstructions in found.items() if not reconstructions]
    return Matching(references=reference_files, pairs=pairs, missing=missing, unmatched=unmatched)


def _refuse_clashing_stems(reference_files: list[Path], references: Path) -> None:
    # The stem is the sample id (and Score_i2i.py's fallback key), so two would be ambiguous.
    first_by_stem: dict[str, Path] = {}
    for reference in reference_files:
        other = first_by_stem.setdefault(reference.stem.casefold(), reference)
        if other is not reference:
            raise InputError(
                f"reference folder {references}: {other.name} and {reference.name} share the name "
                f"{reference.stem!r} (ids are file names without the suffix); rename or remove one."
            )


def _refuse_several(found: dict[Path, list[Path]], generated: Path) -> None:
    several = {reference: recs for reference, recs in found.items() if len(recs) > 1}
    if not several:
        return
    reference, reconstructions = next(iter(several.items()))
    names = ", ".join(r.as_posix() for r in reconstructions)
    others = f" (and {len(several) - 1} more references)" if len(several) > 1 else ""
    raise InputError(
        f"reference {reference.name} has {len(reconstructions)} reconstructions in {generated}: "
        f"{names}{others}; keep one, or pass --match all to score each as its own pair "
        "(as Score_i2i.py does)."
    )
