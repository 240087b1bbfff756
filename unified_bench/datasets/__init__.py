"""Reference datasets: a registered name, a folder of images, a JSONL manifest, or ``hf:`` a HF dataset.

Importing this package is cheap: loaders are imported when a dataset is loaded.

Example:
    >>> from unified_bench.datasets import load_dataset
    >>> dataset = load_dataset("samples")
    >>> len(dataset), dataset.samples[0].id
    (8, 'astronaut')
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from unified_bench.datasets.base import (
    Dataset,
    DatasetOptions,
    Sample,
    check_sample_id,
    dataset_fingerprint,
    make_dataset,
)
from unified_bench.errors import InputError, did_you_mean


def _load_samples(cache_root: Path | None) -> Dataset:
    from unified_bench.datasets.samples import load_samples

    return load_samples()


def _load_unibench(cache_root: Path | None) -> Dataset:
    from unified_bench.datasets.unibench import load_unibench

    return load_unibench(cache_root=cache_root)


def _load_docci(cache_root: Path | None) -> Dataset:
    from unified_bench.datasets.docci import load_docci_images

    return load_docci_images(cache_root=cache_root)


_NAMED_LOADERS: dict[str, Callable[[Path | None], Dataset]] = {
    "samples": _load_samples,
    "unibench": _load_unibench,
    "docci": _load_docci,
}
DATASET_NAMES: tuple[str, ...] = tuple(_NAMED_LOADERS)

__all__ = [
    "DATASET_NAMES",
    "Dataset",
    "DatasetOptions",
    "Sample",
    "check_sample_id",
    "dataset_fingerprint",
    "load_dataset",
    "make_dataset",
]


def load_dataset(
    spec: str, *, cache_root: Path | None = None, options: DatasetOptions | None = None
) -> Dataset:
    """Load a dataset's sample descriptors (nothing is decoded) from any supported source.

    ``spec`` is tried as ``hf:...``, a registered name, a folder, a manifest, in that order, so a
    folder named like a dataset needs a path (``./samples``).

    Args:
        spec: ``samples``, ``unibench``, ``docci``, a folder of images, a JSONL manifest file, or
            ``hf:OWNER/NAME[:CONFIG][@SPLIT]`` (a Hugging Face dataset, hub id or local folder).
        cache_root: Where downloaded datasets live; defaults to ``cache_dir("datasets")``.
        options: Columns and streaming for ``hf:`` datasets; other sources ignore them.

    Raises:
        InputError: ``spec`` is none of these, or the dataset it names is missing or malformed.
    """
    if spec.startswith("hf:") and (options is None or options.prompt_column is None):
        from unified_bench.datasets.huggingface import load_hf

        return load_hf(spec, options)
    if options is not None and options != DatasetOptions():
        raise InputError(
            f"--dataset {spec}: --image-column, --caption-column and --streaming apply to hf: image datasets "
            "only (--prompt-column to hf: prompt sets, with --direction t2i2t); drop them or use "
            "--dataset hf:OWNER/NAME."
        )
    if spec in _NAMED_LOADERS:
        return _NAMED_LOADERS[spec](cache_root)
    path = check_dataset_spec(spec)
    if path.is_dir():
        from unified_bench.datasets.folder import load_folder

        return load_folder(path)
    from unified_bench.datasets.manifest import load_manifest

    return load_manifest(path)


def check_dataset_spec(spec: str) -> Path:
    """Refuse a ``--dataset`` that names nothing (cheap: no library loads); the path it names otherwise.

    Raises:
        InputError: ``spec`` is not ``hf:...``, a dataset name, a folder or a ``.jsonl`` file.
    """
    path = Path(spec).expanduser()
    if spec.startswith("hf:") or spec in _NAMED_LOADERS or path.is_dir():
        return path
    if path.is_file() and path.suffix.lower() == ".jsonl":
        return path
    problem = (
        "is not a folder or a .jsonl manifest"
        if path.exists()
        else "is not a dataset name or an existing path"
    )
    suggestion = "" if path.exists() or "/" in spec else did_you_mean(spec, DATASET_NAMES)
    raise InputError(
        f"Dataset {spec!r} {problem};{suggestion} use one of {', '.join(DATASET_NAMES)}, a folder of images, "
        'a .jsonl manifest with one {"id", "image", "captions"} object per line, or hf:OWNER/NAME.'
    )
