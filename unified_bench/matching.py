"""Pair reconstructions with references by file name, as the official ``Score_i2i.py`` does.

For each reference, in order of preference: a reconstruction with the same file name; else one with
the same stem (any image suffix); else one named ``recon_`` + the reference's stem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from unified_bench.errors import InputError
from unified_bench.images import IMAGE_SUFFIXES


@dataclass(frozen=True)
class Matching:
    pairs: list[tuple[Path, Path]]  # (reference, reconstruction), in reference-name order
    missing: list[Path]  # references with no reconstruction


def _images_in(folder: Path, role: str) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{role} folder {folder}: does not exist or is not a folder.")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def match_reconstructions(generated: Path, references: Path) -> Matching:
    """Match every reference image in ``references`` with a file in ``generated``."""
    reference_files = _images_in(references, "reference")
    if not reference_files:
        raise InputError(f"reference folder {references}: no images ({', '.join(IMAGE_SUFFIXES)}).")
    generated_files = _images_in(generated, "generated")
    by_name = {p.name: p for p in generated_files}
    by_stem: dict[str, Path] = {}
    for path in generated_files:
        by_stem.setdefault(path.stem, path)
    pairs: list[tuple[Path, Path]] = []
    missing: list[Path] = []
    for reference in reference_files:
        match = (
            by_name.get(reference.name)
            or by_stem.get(reference.stem)
            or by_stem.get(f"recon_{reference.stem}")
        )
        if match is None:
            missing.append(reference)
        else:
            pairs.append((reference, match))
    return Matching(pairs=pairs, missing=missing)
