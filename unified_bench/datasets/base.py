"""The dataset record every loader yields, and the dataset fingerprint."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image

from unified_bench.errors import InputError

# Sample ids become file names (images/ID.png): keep them to a safe, portable alphabet.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,199}$")


def check_sample_id(sample_id: str, where: str) -> str:
    """Return ``sample_id`` if it is a safe file stem, else raise ``InputError`` naming ``where``."""
    if not isinstance(sample_id, str) or not _SAFE_ID.match(sample_id) or ".." in sample_id:
        raise InputError(
            f"{where}: sample id {sample_id!r} is not allowed; ids become file names, so use letters, "
            "digits, '.', '_' and '-' only (no path separators, no '..', not starting with '.')."
        )
    return sample_id


@dataclass(frozen=True)
class Sample:
    """One reference image and, when the dataset has them, its reference captions."""

    id: str
    image: Image.Image = field(repr=False, compare=False)
    image_sha256: str
    captions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Dataset:
    """An ordered list of samples with a name and a content fingerprint."""

    name: str
    samples: tuple[Sample, ...]
    source: str

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def fingerprint(self) -> str:
        return dataset_fingerprint(self.samples)


def dataset_fingerprint(samples: Sequence[Sample]) -> str:
    """sha256 over the sorted ids and each image's bytes hash: same images + ids => same value."""
    digest = hashlib.sha256()
    for sample in sorted(samples, key=lambda s: s.id):
        digest.update(sample.id.encode("utf-8") + b"\0" + sample.image_sha256.encode("ascii") + b"\n")
    return "sha256:" + digest.hexdigest()


def make_dataset(name: str, samples: Sequence[Sample], source: str) -> Dataset:
    """Build a ``Dataset``, refusing an empty one or duplicate ids."""
    if not samples:
        raise InputError(
            f"{source}: no images found; point to a folder of images, a JSONL manifest or a dataset name."
        )
    seen: set[str] = set()
    for sample in samples:
        if sample.id in seen:
            raise InputError(f"{source}: duplicate sample id {sample.id!r}; ids must be unique.")
        seen.add(sample.id)
    return Dataset(name=name, samples=tuple(samples), source=source)
