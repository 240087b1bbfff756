"""A JSONL manifest as a dataset: one line per sample with its id, image path and optional captions.

Each line is an object::

    {"id": "cat-01", "image": "images/cat.jpg", "captions": ["A cat asleep on a sofa."]}

``image`` is relative to the manifest's folder, or absolute. ``captions`` is optional.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unified_bench.datasets.base import Dataset, FileLocation, Sample, check_sample_id, make_dataset
from unified_bench.errors import InputError
from unified_bench.images import inspect_image_file

MANIFEST_KEYS = ("id", "image", "captions")


def load_manifest(manifest: str | Path, *, name: str | None = None) -> Dataset:
    """Load the samples a JSONL manifest lists, in file order.

    Args:
        manifest: The ``.jsonl`` file.
        name: The dataset name recorded in results; defaults to the manifest's file stem.

    Raises:
        InputError: With ``file:line`` for a malformed line, an unsafe or repeated id, a missing
            or unreadable image.
    """
    manifest = Path(manifest).expanduser()
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{manifest}: cannot read the manifest ({error}).") from None
    samples: list[Sample] = []
    line_of_id: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{manifest}:{number}"
        record = _parse_line(line, where)
        sample_id = check_sample_id(record["id"], where)
        key = sample_id.casefold()  # ids become file names; some file systems ignore case
        if key in line_of_id:
            raise InputError(
                f"{where}: sample id {sample_id!r} repeats the id on line {line_of_id[key]} "
                "(ids are compared ignoring case); ids must be unique."
            )
        line_of_id[key] = number
        samples.append(_load_sample(record, sample_id, manifest.parent, where))
    if not samples:
        raise InputError(f"{manifest}: the manifest lists no samples; add one JSON object per line.")
    return make_dataset(name or manifest.stem, samples, str(manifest.resolve()))


def _parse_line(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"{where}: not valid JSON ({error.msg}); fix or remove that line.") from None
    if not isinstance(record, dict):
        raise InputError(f'{where}: expected a JSON object like {{"id": ..., "image": ...}}.')
    unknown = sorted(set(record) - set(MANIFEST_KEYS))
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(MANIFEST_KEYS)}."
        )
    for key in ("id", "image"):
        if not isinstance(record.get(key), str) or not record[key]:
            raise InputError(f"{where}: {key!r} must be a non-empty string, got {record.get(key)!r}.")
    captions = record.get("captions")
    if captions is not None and (
        not isinstance(captions, list) or not all(isinstance(caption, str) for caption in captions)
    ):
        raise InputError(f"{where}: 'captions' must be a list of strings, got {captions!r}.")
    return record


def _load_sample(record: dict[str, Any], sample_id: str, base: Path, where: str) -> Sample:
    image_path = Path(record["image"]).expanduser()
    if not image_path.is_absolute():
        image_path = base / image_path
    if not image_path.is_file():
        raise InputError(f"{where}: image {image_path} not found; fix the path (relative to {base}).")
    try:
        sha256 = inspect_image_file(image_path)
    except InputError as error:
        raise InputError(f"{where}: {error}") from None
    captions = record.get("captions")
    return Sample(
        id=sample_id,
        location=FileLocation(image_path),
        image_sha256=sha256,
        captions=tuple(captions) if captions else None,
    )
