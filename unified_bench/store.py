"""The run store: everything one run writes, laid out so a killed run resumes where it stopped.

``RUN_DIR/run.json``        what was run (model, adapter args, seed, protocol, dataset fingerprint, ...)
``RUN_DIR/captions.jsonl``  one line per captioned sample, appended and fsynced per batch
``RUN_DIR/images/ID.png``   one reconstruction per sample, each written atomically
``RUN_DIR/results.json``    scores (see ``unified_bench.results``), ``samples.csv`` the flat table
``RUN_DIR/.lock``           the pid of the one process writing the folder (the lock is on the folder)

A sample is finished when it has both a caption line and an image; nothing finished is redone.
One process writes a run folder at a time (``exclusive_writer``); every file others read is
replaced atomically, so a reader sees the old state or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from PIL import Image

from unified_bench.datasets.base import check_sample_id
from unified_bench.errors import InputError, RunConfigMismatch, UserError
from unified_bench.images import png_bytes
from unified_bench.io import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    check_utf8_path,
    is_temp_file_name,
    read_jsonl,
    remove_stale_temp_files,
    write_error,
)

STORE_VERSION = 1
RUN_FILE = "run.json"
CAPTIONS_FILE = "captions.jsonl"
PROMPT_USAGE_FILE = "prompt_usage.jsonl"  # per sample: caption tokens each text encoder kept (optional)
IMAGES_DIR = "images"
RESULTS_FILE = "results.json"  # also where `score` and `merge` write theirs
REPORT_FILE = "report.html"  # written by `unified-bench report`; rebuilt when a rerun changes the results
SAMPLES_TABLE = "samples.csv"
ADAPTER_INFO_FILE = "adapter.json"  # the adapter's info(): model ids, revisions, settings
LOCK_FILE = ".lock"
# Only these are ever removed by --overwrite: the output folder may hold other things of the user's.
_RUN_OUTPUTS = (RUN_FILE, CAPTIONS_FILE, PROMPT_USAGE_FILE, RESULTS_FILE, SAMPLES_TABLE, ADAPTER_INFO_FILE)


try:
    import fcntl

    _HAS_FLOCK = True
except ImportError:  # not POSIX: no advisory locks, one writer per folder is up to the user
    _HAS_FLOCK = False


class RunFolderBusy(UserError):
    """Another process is writing the same run folder."""

    exit_code = 1


@contextmanager
def exclusive_writer(folder: str | os.PathLike[str], *, create: bool = True) -> Iterator[None]:
    """Hold ``folder``'s writer lock for the ``with`` block.

    The lock is a ``flock`` on the folder itself (a descriptor of the directory), so no file can
    stand in for it: deleting or replacing ``.lock`` lets no second writer in, and a ``.lock`` that
    is a link is never followed. ``.lock`` only tells the next writer who holds the folder: the
    holder's pid, written atomically (a link there is replaced, its target left alone).

    With ``create=False`` a missing folder is not created and nothing is locked (the caller reports
    the missing folder). The lock is the kernel's: it goes away with the process, so a killed run
    never leaves the folder locked.

    Raises:
        RunFolderBusy: another process holds the lock (its pid is in the message).
        WriteError: the folder cannot be created.
    """
    folder = Path(folder)
    if not _HAS_FLOCK or (not create and not folder.is_dir()):
        yield
        return
    check_utf8_path(folder, "--output")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise write_error(folder, error) from error
    try:
        _lock_or_refuse(fd, folder)
        atomic_write_bytes(folder / LOCK_FILE, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        os.close(fd)  # releases the lock


def check_not_busy(folder: str | os.PathLike[str]) -> None:
    """Refuse now if another process writes ``folder`` (a look only: nothing is created or held).

    Lets a command say "busy" before it reports what it finds in a folder that is changing.
    """
    if not _HAS_FLOCK:
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # absent, or not a folder: the caller reports it
        return
    try:
        _lock_or_refuse(fd, Path(folder))
    finally:
        os.close(fd)


def _lock_or_refuse(fd: int, folder: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock_holder(folder)
        who = f"process {holder}" if holder else "process"
        raise RunFolderBusy(
            f"{folder}: another unified-bench {who} is writing this run folder; wait for it to "
            "finish or choose another --output."
        ) from None


def lock_holder(folder: str | os.PathLike[str]) -> str | None:
    """The pid recorded in ``folder/.lock`` by its writer; ``None`` if absent, a link or not a pid."""
    try:
        fd = os.open(Path(folder) / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    return text if text.isdigit() else None


def check_not_foreign(folder: Path) -> None:
    """Refuse a folder without ``run.json`` that holds anything a run did not leave.

    A run's own leftovers are allowed (the pid file, temporary files of a killed writer, an empty
    ``images/``): a run killed before its ``run.json`` was written resumes.

    Raises:
        InputError: naming what was found.
    """
    if not folder.is_dir():
        return
    # A results file first: it is what makes such a folder look like a run.
    found = sorted(
        (entry.name for entry in folder.iterdir() if not _run_leftover(entry)),
        key=lambda name: (name != RESULTS_FILE, name),
    )
    if found:
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise InputError(
            f"--output {folder}: not a unified-bench run folder (no {RUN_FILE}; holds {shown}); "
            "choose an empty or new folder."
        )


def _run_leftover(entry: Path) -> bool:
    if entry.name == LOCK_FILE or is_temp_file_name(entry.name):
        return True
    return entry.name == IMAGES_DIR and entry.is_dir() and not entry.is_symlink() and not any(entry.iterdir())


# Keys a run.json may lack: they came later, and their absence means the default.
_OPTIONAL_SPEC_KEYS = {"store_version", "adapter_source", "direction", "task_fingerprint"}


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
    # Adapters serving stored outputs (``precomputed``): their files' fingerprint, so a run over
    # changed outputs is a different run. ``None`` for adapters that compute their outputs.
    adapter_source: str | None = None
    # Which round trip (``unified_bench.directions``); run files written before it existed are i2t2i.
    direction: str = "i2t2i"
    # ``sha256:`` of the resolved task (``unified_bench.tasks``) the run belongs to; ``None`` without one.
    task_fingerprint: str | None = None

    def to_json(self) -> dict[str, Any]:
        obj = asdict(self)
        obj["size"] = list(self.size) if self.size else None
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> RunSpec:
        """The spec in ``obj``; ``ValueError`` if ``obj`` is not a run spec (another shape of JSON)."""
        if not isinstance(obj, dict):
            raise ValueError(f"expected an object, got {type(obj).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(obj) - known)
        absent = sorted(known - set(obj) - _OPTIONAL_SPEC_KEYS)
        if unknown or absent:
            raise ValueError(f"unknown keys {unknown}, missing keys {absent}")
        obj = dict(obj)
        size = obj.get("size")
        if size is not None and not (
            isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)
        ):
            raise ValueError(f"size {size!r} is not [width, height]")
        obj["size"] = tuple(size) if size else None
        if not isinstance(obj.get("adapter_args"), dict):
            raise ValueError("adapter_args is not an object")
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
        if not path.is_file():
            return None
        try:
            return RunSpec.from_json(json.loads(path.read_bytes().decode("utf-8")))
        except (ValueError, TypeError) as error:  # JSONDecodeError, UnicodeDecodeError are ValueErrors
            raise InputError(
                f"{path}: not a unified-bench run file ({error}); use another --output or pass --overwrite."
            ) from None

    def read_adapter_info(self) -> dict[str, Any] | None:
        """The adapter's ``info()`` saved by the run, or ``None`` if the file is absent or garbled."""
        try:
            info = json.loads((self.root / ADAPTER_INFO_FILE).read_bytes().decode("utf-8"))
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    def check_can_open(self, spec: RunSpec, *, overwrite: bool = False) -> RunSpec | None:
        """Every refusal of ``open``, found by reading only; returns the run already there, if any.

        ``--output`` must be absent, empty, or a run folder (``run.json``); a run of another
        configuration there is refused unless ``overwrite``.
        """
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"--output {self.root}: exists and is not a folder; choose another path.")
        existing = self.read_spec()
        if existing is None:
            check_not_foreign(self.root)
        elif existing != spec and not overwrite:
            differing = sorted(k for k, v in spec.to_json().items() if existing.to_json().get(k) != v)
            if differing == ["adapter_source"]:
                raise RunConfigMismatch(
                    f"--output {self.root}: the adapter's stored outputs changed (or the model its "
                    "server runs) since this run was made (adapter_source then: "
                    f"{existing.adapter_source}; now: {spec.adapter_source}), so this is a different "
                    "run; pass --overwrite to redo it, or choose another --output."
                )
            raise RunConfigMismatch(
                f"--output {self.root}: holds a run with a different configuration "
                f"({', '.join(differing)} differ); choose another --output or pass --overwrite to "
                "replace it."
            )
        return existing

    def open(self, spec: RunSpec, *, overwrite: bool = False) -> None:
        """Start or resume ``spec`` here; refuse a folder holding another run unless ``overwrite``."""
        existing = self.check_can_open(spec, overwrite=overwrite)
        if existing is not None and existing != spec:
            self.clear()
        try:
            self.images_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise write_error(self.images_dir, error) from error
        if existing != spec:
            atomic_write_json(self.root / RUN_FILE, spec.to_json())
        self._repair_torn_caption_tail()
        for folder in (self.root, self.images_dir):  # left by a killed writer; we hold the lock
            remove_stale_temp_files(folder)

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
                check_sample_id(record.id, str(path))  # it becomes a file name under images/
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
