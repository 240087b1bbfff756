"""``samples``: eight colour photographs that ship inside scikit-image, for offline smoke runs.

Only images bundled in the scikit-image wheel are used (others are fetched by pooch on first use,
which needs the network). Each image's bytes are pinned by sha256 (the same hashes as scikit-image's
own data registry), so the dataset fingerprint is the same on every machine; ``image_sha256`` is the
hash of the shipped file, as for a folder dataset, so copying these files into a folder gives the
same fingerprint. Each sample carries one reference caption written for this project.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from unified_bench.datasets.base import Dataset, FileLocation, Sample, make_dataset
from unified_bench.errors import InputError, MissingDependencyError
from unified_bench.images import inspect_image_file


@dataclass(frozen=True)
class SampleImage:
    """One bundled photograph: its id, file under ``skimage/data``, pinned sha256 and caption."""

    id: str
    file_name: str
    sha256: str
    caption: str


SAMPLE_IMAGES: tuple[SampleImage, ...] = (
    SampleImage(
        "astronaut",
        "astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "A smiling astronaut in an orange flight suit poses beside her helmet, "
        "with an American flag and a space shuttle model behind her.",
    ),
    SampleImage(
        "chelsea",
        "chelsea.png",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
        "A close-up of a tabby cat with green eyes looking to the side.",
    ),
    SampleImage(
        "coffee",
        "coffee.png",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
        "A cup of espresso on a red saucer with a spoon, on a wooden table.",
    ),
    SampleImage(
        "rocket",
        "rocket.jpg",
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
        "A white rocket stands on its launch pad between tall lattice towers under a dusky blue sky.",
    ),
    SampleImage(
        "hubble_deep_field",
        "hubble_deep_field.jpg",
        "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
        "Hundreds of small, colourful galaxies scattered across a black sky.",
    ),
    SampleImage(
        "retina",
        "retina.jpg",
        "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6",
        "A fundus photograph of a human retina, orange-red with branching blood vessels "
        "and a bright optic disc on the left.",
    ),
    SampleImage(
        "ihc",
        "ihc.png",
        "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef",
        "A microscope image of stained tissue with brown-edged glands on a pale blue background.",
    ),
    SampleImage(
        "motorcycle_left",
        "motorcycle_left.png",
        "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
        "A red motorcycle parked in a workshop with shelves of boxes behind it.",
    ),
)

# dataset_fingerprint(...) of the samples above; data_cards/samples.md quotes it.
FINGERPRINT = "sha256:3e0dae114cf04381eec4ea3942d1e83a4ca656c501f493dc1496aa2266cc979b"


def skimage_data_dir() -> Path:
    """The ``skimage/data`` folder of the installed scikit-image, found without importing it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise MissingDependencyError(
            "The 'samples' dataset reads images bundled with scikit-image, which is not installed; "
            "run `pip install scikit-image`."
        )
    return Path(spec.origin).parent / "data"


def load_samples() -> Dataset:
    """Load the eight bundled photographs with their reference captions.

    Raises:
        InputError: A bundled file is missing or differs from its pinned sha256 (a modified
            or unusual scikit-image install).
    """
    data_dir = skimage_data_dir()
    samples = []
    for entry in SAMPLE_IMAGES:
        path = data_dir / entry.file_name
        if not path.is_file():
            raise InputError(
                f"{path}: missing from the scikit-image install; reinstall it with "
                "`pip install --force-reinstall scikit-image`."
            )
        sha256 = inspect_image_file(path)
        if sha256 != entry.sha256:
            raise InputError(
                f"{path}: sha256 {sha256} differs from the pinned {entry.sha256}; the 'samples' dataset "
                "needs scikit-image's original file (reinstall scikit-image)."
            )
        samples.append(Sample(entry.id, FileLocation(path), sha256, captions=(entry.caption,)))
    return make_dataset("samples", samples, f"scikit-image data ({data_dir})")
