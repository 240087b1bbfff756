"""A Hugging Face ``datasets`` dataset as a source: ``hf:OWNER/NAME[:CONFIG][@SPLIT]``.

``OWNER/NAME`` is a hub id or a local folder (parquet files, or a ``save_to_disk`` folder); both go
through ``datasets``, so ``HF_DATASETS_OFFLINE=1`` / ``HF_HUB_OFFLINE=1`` load from the local cache.
Images are read with ``decode=False``: the loader hashes each image's bytes once (the fingerprint is
the same as for a folder holding the same files under the same ids) and keeps only descriptors;
a batch's images are fetched and decoded when the run needs them.

Without streaming the split is Arrow on disk (memory-mapped), so rows are fetched by index. With
``streaming=True`` nothing is downloaded up front: the loader reads the stream once to hash it, and
batches read it again front to back (a forward cursor; going back restarts the stream).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unified_bench.datasets.base import Dataset, DatasetOptions, Sample, check_sample_id, make_dataset
from unified_bench.errors import InputError, MissingDependencyError
from unified_bench.images import sha256_bytes

PREFIX = "hf:"
# Tried in order when --caption-column is not given; the first one present with text is used.
CAPTION_COLUMN_GUESSES = ("captions", "caption", "text", "sentences", "prompt", "description")
ID_COLUMN = "id"


@dataclass(frozen=True)
class HubSpec:
    """``hf:OWNER/NAME[:CONFIG][@SPLIT]`` taken apart."""

    name: str
    config: str | None = None
    split: str | None = None

    def __str__(self) -> str:
        config = f":{self.config}" if self.config else ""
        split = f"@{self.split}" if self.split else ""
        return f"{PREFIX}{self.name}{config}{split}"


def parse_hf_spec(spec: str) -> HubSpec:
    """Split ``hf:OWNER/NAME[:CONFIG][@SPLIT]``; the name may also be a local path.

    >>> parse_hf_spec("hf:nlphuji/flickr30k:default@test")
    HubSpec(name='nlphuji/flickr30k', config='default', split='test')
    """
    rest = spec.removeprefix(PREFIX)
    name, _, split = rest.rpartition("@") if "@" in rest else (rest, "", "")
    config = None
    head, sep, tail = name.rpartition(":")
    if sep and head and "/" not in tail:
        name, config = head, tail
    if not name:
        raise InputError(
            f"--dataset {spec}: expected hf:OWNER/NAME[:CONFIG][@SPLIT], e.g. hf:me/photos@test."
        )
    return HubSpec(name=name, config=config or None, split=split or None)


def load_hf(spec: str, options: DatasetOptions | None = None) -> Dataset:
    """Load a Hugging Face dataset split as sample descriptors.

    Args:
        spec: ``hf:OWNER/NAME[:CONFIG][@SPLIT]`` (``NAME`` may be a local parquet or
            ``save_to_disk`` folder).
        options: image / caption columns (guessed when ``None``) and streaming.

    Raises:
        MissingDependencyError: ``datasets`` is not installed.
        InputError: The dataset, config, split or a column is missing; the message lists what exists.
    """
    options = options or DatasetOptions()
    hub = parse_hf_spec(spec)
    table = _open_split(hub, options.streaming)
    columns = _column_types(table)
    image_column = _image_column(hub, columns, options.image_column)
    caption_column = _caption_column(hub, columns, options.caption_column)
    id_column = (
        ID_COLUMN if ID_COLUMN in columns and ID_COLUMN not in (image_column, caption_column) else None
    )
    wanted = [c for c in (image_column, caption_column, id_column) if c]
    table = _undecoded(table.select_columns(wanted), image_column)
    if options.streaming:
        cursor = _StreamCursor(table, image_column)
        rows = cursor.rows()
    else:
        rows = iter(table)
    samples = []
    for index, row in enumerate(rows):
        where = f"{hub} row {index}"
        data = _image_bytes(row[image_column], where)
        sample_id = str(row[id_column]) if id_column else f"{index:06d}"
        location = (
            _StreamRow(cursor, index, where)
            if options.streaming
            else _TableRow(table, image_column, index, where)
        )
        samples.append(
            Sample(
                check_sample_id(sample_id, where),
                location,
                sha256_bytes(data),
                _captions(row.get(caption_column) if caption_column else None, where),
            )
        )
    card = {
        "hf_dataset": hub.name,
        "config": hub.config,
        "split": hub.split,
        "image_column": image_column,
        "caption_column": caption_column,
        "id_column": id_column,
        "streaming": options.streaming,
    }
    return make_dataset(Path(hub.name).name or hub.name, samples, str(hub), card=card)


# -- opening -----------------------------------------------------------------------------------------
def _datasets_module() -> Any:
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError(
            "Hugging Face datasets (hf:...) need the 'datasets' package; run "
            "`pip install 'unified-bench[hf]'`."
        ) from None
    return datasets


def _open_split(hub: HubSpec, streaming: bool) -> Any:
    datasets = _datasets_module()
    local = Path(hub.name).expanduser()
    try:
        if (local / "state.json").is_file() or (local / "dataset_dict.json").is_file():
            loaded = datasets.load_from_disk(str(local))
            if streaming:
                loaded = _to_iterable(loaded)
        else:
            loaded = datasets.load_dataset(hub.name, hub.config, streaming=streaming)
    except (FileNotFoundError, ConnectionError, ValueError, OSError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"--dataset {hub}: cannot load it ({detail}); check the name and config, or run once online "
            "so the local cache holds it (HF_DATASETS_OFFLINE=1 then reads the cache)."
        ) from None
    return _choose_split(hub, loaded)


def _to_iterable(loaded: Any) -> Any:
    if hasattr(loaded, "to_iterable_dataset"):
        return loaded.to_iterable_dataset()
    return type(loaded)({name: split.to_iterable_dataset() for name, split in loaded.items()})


def _choose_split(hub: HubSpec, loaded: Any) -> Any:
    if not hasattr(loaded, "keys"):  # a single split saved with save_to_disk
        if hub.split:
            raise InputError(f"--dataset {hub}: this dataset has a single split; drop @{hub.split}.")
        return loaded
    splits = list(loaded.keys())
    if hub.split:
        if hub.split not in splits:
            raise InputError(f"--dataset {hub}: no split {hub.split!r}; splits: {', '.join(splits)}.")
        return loaded[hub.split]
    if len(splits) == 1:
        return loaded[splits[0]]
    raise InputError(f"--dataset {hub}: it has several splits ({', '.join(splits)}); add @SPLIT.")


# -- columns -----------------------------------------------------------------------------------------
def _column_types(table: Any) -> dict[str, Any]:
    features = table.features
    if features is None:  # a stream whose features are not declared: read them from the first row
        features = table._resolve_features().features
    return dict(features)


def _describe(columns: dict[str, Any]) -> str:
    return ", ".join(f"{name} ({_kind(feature)})" for name, feature in columns.items())


def _kind(feature: Any) -> str:
    kind = type(feature).__name__
    if kind == "Value":
        return str(feature.dtype)
    if (
        kind in ("List", "Sequence", "LargeList")
        and type(getattr(feature, "feature", None)).__name__ == "Value"
    ):
        return f"list of {feature.feature.dtype}"
    return kind


def _image_column(hub: HubSpec, columns: dict[str, Any], chosen: str | None) -> str:
    if chosen:
        if chosen not in columns:
            raise InputError(
                f"--image-column {chosen}: {hub} has no such column; columns: {_describe(columns)}."
            )
        if _kind(columns[chosen]) not in ("Image", "binary", "large_binary"):
            raise InputError(
                f"--image-column {chosen}: that column holds {_kind(columns[chosen])}, not images; "
                f"columns: {_describe(columns)}."
            )
        return chosen
    images = [name for name, feature in columns.items() if _kind(feature) == "Image"]
    if len(images) != 1:
        found = "no image column" if not images else f"several image columns ({', '.join(images)})"
        raise InputError(
            f"--dataset {hub}: {found}; pass --image-column NAME. Columns: {_describe(columns)}."
        )
    return images[0]


def _caption_column(hub: HubSpec, columns: dict[str, Any], chosen: str | None) -> str | None:
    if chosen == "":
        return None
    if chosen:
        if chosen not in columns or not _is_text(columns[chosen]):
            what = "has no such column" if chosen not in columns else "holds no text in that column"
            raise InputError(
                f"--caption-column {chosen}: {hub} {what}; columns: {_describe(columns)} "
                "(the captions must be a string or a list of strings)."
            )
        return chosen
    return next(
        (name for name in CAPTION_COLUMN_GUESSES if name in columns and _is_text(columns[name])), None
    )


def _is_text(feature: Any) -> bool:
    return _kind(feature) in ("string", "large_string", "list of string", "list of large_string")


def _undecoded(table: Any, image_column: str) -> Any:
    """The table with its image column as ``{"bytes", "path"}`` instead of decoded PIL images."""
    datasets = _datasets_module()
    if type(table.features[image_column]).__name__ == "Image":
        return table.cast_column(image_column, datasets.Image(decode=False))
    return table


# -- rows --------------------------------------------------------------------------------------------
def _image_bytes(value: Any, where: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"])
        if value.get("path"):
            try:
                return Path(value["path"]).read_bytes()
            except OSError as error:
                raise InputError(f"{where}: cannot read image {value['path']} ({error.strerror}).") from None
    raise InputError(f"{where}: the image cell is empty; remove the row or fix the dataset.")


def _captions(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    texts = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(text, str) for text in texts):
        raise InputError(f"{where}: captions must be strings, got {value!r}.")
    return tuple(text for text in texts if text.strip()) or None


@dataclass(frozen=True, eq=False)
class _TableRow:
    """One image cell of an Arrow-backed split (memory-mapped: fetching a row reads that row)."""

    table: Any = field(repr=False)
    column: str
    index: int
    where: str

    def read_bytes(self) -> bytes:
        return _image_bytes(self.table[self.index][self.column], self.where)

    def __str__(self) -> str:
        return self.where


class _StreamCursor:
    """Reads a streamed split front to back, restarting the stream only to go back."""

    def __init__(self, table: Any, column: str) -> None:
        self.table = table
        self.column = column
        self.lock = threading.Lock()
        self._rows: Iterator[dict[str, Any]] | None = None
        self._next = 0

    def rows(self) -> Iterator[dict[str, Any]]:
        return iter(self.table)

    def cell(self, index: int) -> Any:
        with self.lock:
            if self._rows is None or index < self._next:
                self._rows, self._next = iter(self.table), 0
            for row in self._rows:
                self._next += 1
                if self._next - 1 == index:
                    return row[self.column]
            raise IndexError(index)


@dataclass(frozen=True, eq=False)
class _StreamRow:
    cursor: _StreamCursor = field(repr=False)
    index: int
    where: str

    def read_bytes(self) -> bytes:
        try:
            return _image_bytes(self.cursor.cell(self.index), self.where)
        except IndexError:
            raise InputError(
                f"{self.where}: the stream ended early; the dataset changed while in use."
            ) from None

    def __str__(self) -> str:
        return self.where
