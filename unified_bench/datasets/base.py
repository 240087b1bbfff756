"""The dataset record every loader yields, and the dataset fingerprint.

A dataset is an ordered list of sample *descriptors*: an id, where the image's bytes are, their
sha256 and the reference captions. Nothing is decoded when a dataset loads; ``Sample.load_image``
reads and decodes one image when a batch needs it, so memory depends on the batch, not the dataset.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from PIL import Image

from unified_bench.errors import InputError
from unified_bench.images import decode_image, png_bytes, sha256_bytes

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
class DatasetOptions:
    """Settings for sources that need them (Hugging Face datasets); other sources ignore them."""

    image_column: str | None = None  # None: guessed from the features
    caption_column: str | None = None  # None: guessed; "" for none
    streaming: bool = False
    prompt_column: str | None = None  # prompt sets (t2i2t) from hf: only; None: guessed


class ImageLocation(Protocol):
    """Where a sample's encoded image bytes are; ``str()`` names it in error messages."""

    def read_bytes(self) -> bytes: ...


@dataclass(frozen=True)
class FileLocation:
    """An image file on disk."""

    path: Path

    def read_bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as error:
            raise InputError(f"{self.path}: cannot read ({error.strerror}).") from None

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class MemoryLocation:
    """Encoded bytes held in memory (tests, images made on the fly)."""

    data: bytes = field(repr=False)
    label: str = "in-memory image"

    def read_bytes(self) -> bytes:
        return self.data

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Sample:
    """One reference image, by reference: its id, where its bytes are, their sha256, its captions."""

    id: str
    location: ImageLocation = field(repr=False, compare=False)
    image_sha256: str
    captions: tuple[str, ...] | None = None

    @classmethod
    def from_image(
        cls, sample_id: str, image: Image.Image, captions: tuple[str, ...] | None = None
    ) -> Sample:
        """A sample whose image is ``image`` (held PNG-encoded in memory)."""
        data = png_bytes(image)
        return cls(sample_id, MemoryLocation(data, f"image {sample_id!r}"), sha256_bytes(data), captions)

    def read_bytes(self) -> bytes:
        """The image's encoded bytes, checked against the sha256 recorded when the dataset loaded.

        Raises:
            InputError: The bytes cannot be read or changed since the dataset was loaded.
        """
        data = self.location.read_bytes()
        if sha256_bytes(data) != self.image_sha256:
            raise InputError(
                f"{self.location}: the image changed after the dataset was loaded (sha256 differs); "
                "rerun once the dataset stops changing."
            )
        return data

    def load_image(self) -> Image.Image:
        """Read and decode the image (RGB, or RGBA if it has transparency); every call decodes again.

        Adapters composite the alpha as their model's preprocessing does; scorers drop it as the
        official scripts do.
        """
        return decode_image(self.read_bytes(), str(self.location), keep_alpha=True)

    @property
    def image(self) -> Image.Image:
        """The decoded image, decoded on each access (see ``load_image``)."""
        return self.load_image()


@dataclass(frozen=True)
class Dataset:
    """An ordered list of sample descriptors with a name and a content fingerprint.

    ``notes`` are one-line remarks the loader wants the user to see (e.g. entries it skipped);
    ``card`` holds source-specific facts for the data card and results (e.g. a hub revision).
    """

    name: str
    samples: tuple[Sample, ...]
    source: str
    notes: tuple[str, ...] = ()
    card: Mapping[str, object] = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def fingerprint(self) -> str:
        return dataset_fingerprint(self.samples)

    def images(self) -> Mapping[str, Image.Image]:
        """``{id: image}`` that decodes an image only when it is looked up."""
        return _DecodedOnLookup({sample.id: sample for sample in self.samples})


class _DecodedOnLookup(Mapping[str, Image.Image]):
    def __init__(self, samples: dict[str, Sample]) -> None:
        self._samples = samples

    def __getitem__(self, sample_id: str) -> Image.Image:
        return self._samples[sample_id].load_image()

    def __iter__(self) -> Iterator[str]:
        return iter(self._samples)

    def __len__(self) -> int:
        return len(self._samples)


def dataset_fingerprint(samples: Sequence[Sample]) -> str:
    """sha256 over the sorted ids and each image's bytes hash: same images + ids => same value."""
    digest = hashlib.sha256()
    for sample in sorted(samples, key=lambda s: s.id):
        digest.update(sample.id.encode("utf-8") + b"\0" + sample.image_sha256.encode("ascii") + b"\n")
    return "sha256:" + digest.hexdigest()


def make_dataset(
    name: str,
    samples: Sequence[Sample],
    source: str,
    *,
    notes: Sequence[str] = (),
    card: Mapping[str, object] | None = None,
) -> Dataset:
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
    return Dataset(
        name=name, samples=tuple(samples), source=source, notes=tuple(notes), card=dict(card or {})
    )
