"""The run store: everything one run writes, laid out so a killed run resumes where it stopped.

``RUN_DIR/run.json``        what was run (model, adapter args, seed, protocol, dataset fingerprint, ...)
``RUN_DIR/captions.jsonl``  one line per captioned sample, appended and fsynced per batch
``RUN_DIR/images/ID.png``   one reconstruction per sample, each written atomically
``RUN_DIR/results.json``    scores (see ``unified_bench.results``), ``samples.csv`` the flat table

A sample is finished when it has both a caption line and an image; nothing finished is redone.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from unified_bench.errors import InputError, RunConfigMismatch
from unified_bench.images import png_bytes
from unified_bench.io import append_jsonl, atomic_write_bytes, atomic_write_json, read_jsonl

STORE_VERSION = 1
RUN_FILE = "run.json"
CAPTIONS_FILE = "captions.jsonl"
PROMPT_USAGE_FILE = "prompt_usage.jsonl"  # per sample: caption tokens each text encoder kept (optional)
IMAGES_DIR = "images"
RESULTS_FILE = "results.json"
SAMPLES_TABLE = "samples.csv"
# Only these are ever removed by --overwrite: the output folder may hold other things of the user's.
_RUN_OUTPUTS = (RUN_FILE, CAPTIONS_FILE, PROMPT_USAGE_FILE, RESULTS_FILE, SAMPLES_TABLE)


@dataclass(frozen=True)
class RunSpec:
    """What determines a run's outputs. Two runs with equal specs produce the same captions and images,
    so one can resume the other; batch size, limit and shard do not belong here (outputs never depend
    on them)."""

    model: str
    adapter_args: dict[str, str]
    protocol: str
    seed: int
    size: tuple[int, int] | None
    dtype: str | None
    dataset_name: str
    dataset_fingerprint: str
    store_version: int = field(default=STORE_VERSION)

    def to_json(self) -> dict[str, Any]:
        obj = asdict(self)
        obj["size"] = list(self.size) if self.size else None
        return obj

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RunSpec:
        obj = dict(obj)
        obj["size"] = tuple(obj["size"]) if obj.get("size") else None
        return cls(**obj)


@dataclass(frozen=True)
class CaptionRecord:
    id: str
    index: int  # position in the dataset: merge and results keep dataset order
    caption: str
    seed: int


class RunStore:
    """Reads and writes one run directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def images_dir(self) -> Path:
        return self.root / IMAGES_DIR

    @property
    def results_path(self) -> Path:
        return self.root / RESULTS_FILE

    def image_path(self, sample_id: str) -> Path:
        return self.images_dir / f"{sample_id}.png"

    # -- opening ---------------------------------------------------------------------------------
    def read_spec(self) -> RunSpec | None:
        path = self.root / RUN_FILE
        if not path.exists():
            return None
        try:
            return RunSpec.from_json(json.loads(path.read_text("utf-8")))
        except (json.JSONDecodeError, TypeError, KeyError) as error:
            raise InputError(
                f"{path}: not a unified-bench run file ({error}); use another --output or pass --overwrite."
            ) from None

    def open(self, spec: RunSpec, *, overwrite: bool = False) -> None:
        """Start or resume ``spec`` here; refuse a folder holding another run unless ``overwrite``."""
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"--output {self.root}: exists and is not a folder; choose another path.")
        existing = self.read_spec()
        if existing is not None and existing != spec:
            if not overwrite:
                differing = sorted(k for k, v in spec.to_json().items() if existing.to_json().get(k) != v)
                raise RunConfigMismatch(
                    f"--output {self.root}: holds a run with a different configuration "
                    f"({', '.join(differing)} differ); choose another --output or pass --overwrite to "
                    "replace it."
                )
            self.clear()
        self.images_dir.mkdir(parents=True, exist_ok=True)
        if existing != spec:
            atomic_write_json(self.root / RUN_FILE, spec.to_json())
        self._repair_torn_caption_tail()

    def clear(self) -> None:
        """Remove this run's own outputs (never anything else in the folder)."""
        for name in _RUN_OUTPUTS:
            (self.root / name).unlink(missing_ok=True)
        if self.images_dir.is_dir():
            for png in self.images_dir.glob("*.png"):
                png.unlink()

    def _repair_torn_caption_tail(self) -> None:
        """A crash mid-append can leave a last line without its newline: drop it before appending more."""
        path = self.root / CAPTIONS_FILE
        if not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    # -- captions ----------------------------------------------------------------------------------
    def captions(self) -> dict[str, CaptionRecord]:
        path = self.root / CAPTIONS_FILE
        if not path.exists():
            return {}
        records: dict[str, CaptionRecord] = {}
        for obj in read_jsonl(path, tolerate_torn_tail=True):
            try:
                record = CaptionRecord(
                    id=obj["id"], index=int(obj["index"]), caption=str(obj["caption"]), seed=int(obj["seed"])
                )
            except (KeyError, TypeError, ValueError):
                raise InputError(
                    f"{path}: malformed caption record {obj!r}; remove that line to redo the sample."
                ) from None
            records[record.id] = record
        return records

    def append_captions(self, records: list[CaptionRecord]) -> None:
        append_jsonl(self.root / CAPTIONS_FILE, (asdict(r) for r in records))

    # -- prompt usage (adapters that say how much of a caption their generator read) ----------------
    def append_prompt_usage(self, usage: dict[str, dict[str, Any]]) -> None:
        append_jsonl(self.root / PROMPT_USAGE_FILE, ({"id": i, "encoders": u} for i, u in usage.items()))

    def prompt_usage(self) -> dict[str, dict[str, Any]]:
        """Sample id -> {encoder: {"tokens", "kept", "truncated"}}; a redone sample's last line wins."""
        path = self.root / PROMPT_USAGE_FILE
        if not path.exists():
            return {}
        return {
            obj["id"]: obj["encoders"]
            for obj in read_jsonl(path, tolerate_torn_tail=True)
            if isinstance(obj, dict)
            and isinstance(obj.get("id"), str)
            and isinstance(obj.get("encoders"), dict)
        }

    # -- images ------------------------------------------------------------------------------------
    def has_image(self, sample_id: str) -> bool:
        return self.image_path(sample_id).is_file()

    def write_image(self, sample_id: str, image: Image.Image) -> None:
        atomic_write_bytes(self.image_path(sample_id), png_bytes(image))
