"""Declarative tasks: a YAML file names what a run measures (direction, dataset, caption instruction,
size, scorers, primary scorer, aggregation), so a benchmark is a file, not code.

A task file::

    task: unified-prompts-t2i2t        # the name (``--task NAME``)
    version: 1                         # bump when the task's meaning changes
    include: _t2i2t-base.yaml          # optional: a file beside this one, or a task name; keys here win
    direction: t2i2t                   # i2t2i or t2i2t
    dataset:
      name: unified-prompts            # a dataset or prompt-set name, a path, or hf:OWNER/NAME[@SPLIT]
      sha256: sha256:...               # optional: the expected dataset fingerprint
      columns: {prompt: text}          # optional: hf: columns (prompt, image, caption)
    prompt: default                    # the caption instruction: ``default`` (the adapter's) or text
    size: [1024, 1024]                 # optional: generated image size
    scorers: [longclip_t2t, clip_t2t]  # names; ``--scorer NAME=PATH`` picks weights for a name
    primary: longclip_t2t              # the scorer ``overall`` stands for (t2i2t)
    aggregation: {by: tag}             # mean + bootstrap CI always; ``by: tag``: a table per tag too

A group task lists other tasks (``group: [unified-bench, unified-prompts-t2i2t]``) and runs each
into its own subfolder. Tasks come from this folder, from the entry-point group
``unified_bench.tasks`` (each entry point loads to a path of a YAML file or of a folder of them),
or from ``--task-file PATH``. The task fingerprint (sha256 of the resolved task) goes into run.json,
so resuming a run under a changed task is refused like any other configuration change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from unified_bench.directions import DIRECTIONS
from unified_bench.errors import InputError, UnknownNameError

ENTRY_POINT_GROUP = "unified_bench.tasks"
TASK_KEYS = (
    "task",
    "version",
    "include",
    "direction",
    "dataset",
    "prompt",
    "size",
    "scorers",
    "primary",
    "aggregation",
    "group",
    "description",
)
DATASET_KEYS = ("name", "sha256", "split", "columns")
COLUMN_KEYS = ("prompt", "image", "caption")
DEFAULT_PROMPT = "default"  # the adapter's own caption instruction


@dataclass(frozen=True)
class Task:
    """A resolved task: includes applied, every key checked."""

    name: str
    version: str
    source: str  # where it was read from
    resolved: dict[str, Any] = field(repr=False)  # the task as a plain mapping (what is fingerprinted)

    @property
    def group(self) -> tuple[str, ...]:
        return tuple(self.resolved.get("group") or ())

    @property
    def direction(self) -> str:
        return self.resolved["direction"]

    @property
    def dataset(self) -> str:
        return self.resolved["dataset"]["name"]

    @property
    def dataset_sha256(self) -> str | None:
        return self.resolved["dataset"].get("sha256")

    @property
    def columns(self) -> dict[str, str]:
        return dict(self.resolved["dataset"].get("columns") or {})

    @property
    def scorers(self) -> tuple[str, ...]:
        return tuple(self.resolved.get("scorers") or ())

    @property
    def caption_prompt(self) -> str | None:
        prompt = self.resolved.get("prompt", DEFAULT_PROMPT)
        return None if prompt == DEFAULT_PROMPT else prompt

    @property
    def size(self) -> tuple[int, int] | None:
        size = self.resolved.get("size")
        return (int(size[0]), int(size[1])) if size else None

    @property
    def by_tag(self) -> bool:
        return (self.resolved.get("aggregation") or {}).get("by") == "tag"

    def fingerprint(self, dataset_fingerprint: str | None = None) -> str:
        """sha256 of the resolved task (and the dataset fingerprint it ran on, when given)."""
        text = json.dumps({"task": self.resolved, "dataset": dataset_fingerprint}, sort_keys=True)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def describe(self, dataset_fingerprint: str | None = None) -> dict[str, Any]:
        """The ``task`` section of results.json."""
        return {
            "name": self.name,
            "version": self.version,
            "fingerprint": self.fingerprint(dataset_fingerprint),
            "source": self.source,
            "resolved": self.resolved,
        }


# -- reading ---------------------------------------------------------------------------------------
def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        obj = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"--task-file {path}: cannot read ({error.strerror}).") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)}).") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: a task file is a mapping (task: NAME, direction: ..., ...).")
    return obj


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` over ``base``; nested mappings (dataset, aggregation) are merged key by key."""
    merged = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _with_includes(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise InputError(f"{path}: include cycle ({chain}); remove one include.")
    obj = _read_yaml(path)
    include = obj.pop("include", None)
    if include is None:
        return obj
    includes = include if isinstance(include, list) else [include]
    base: dict[str, Any] = {}
    for item in includes:
        if not isinstance(item, str):
            raise InputError(f"{path}: include {item!r} must be a file name or a task name.")
        beside = path.parent / item
        target = beside if beside.is_file() else _task_path(item, where=str(path))
        base = _merge(base, _with_includes(target, (*seen, path)))
    base.pop("task", None)  # the name and version are the including file's own
    base.pop("version", None)
    return _merge(base, obj)


def _check(obj: dict[str, Any], where: str) -> None:
    unknown = sorted(set(obj) - set(TASK_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown task keys {unknown}; a task has {', '.join(TASK_KEYS)}.")
    for key in ("task", "version"):
        if key not in obj:
            raise InputError(f"{where}: no {key!r}; every task names itself and its version.")
    if obj.get("group") is not None:
        group = obj["group"]
        if not isinstance(group, list) or not group or not all(isinstance(g, str) for g in group):
            raise InputError(f"{where}: 'group' must be a list of task names.")
        return
    if obj.get("direction") not in DIRECTIONS:
        raise InputError(f"{where}: 'direction' must be one of {', '.join(DIRECTIONS)}.")
    dataset = obj.get("dataset")
    if isinstance(dataset, str):
        obj["dataset"] = dataset = {"name": dataset}
    if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
        raise InputError(f"{where}: 'dataset' needs a name (a dataset name, a path or hf:OWNER/NAME).")
    if sorted(set(dataset) - set(DATASET_KEYS)):
        raise InputError(f"{where}: unknown dataset keys {sorted(set(dataset) - set(DATASET_KEYS))}.")
    if sorted(set(dataset.get("columns") or {}) - set(COLUMN_KEYS)):
        raise InputError(f"{where}: dataset columns are {', '.join(COLUMN_KEYS)}.")
    scorers = obj.get("scorers")
    if scorers is not None and (
        not isinstance(scorers, list) or not all(isinstance(s, str) for s in scorers)
    ):
        raise InputError(f"{where}: 'scorers' must be a list of scorer names.")
    if scorers:
        from unified_bench.scorers.registry import check_scorers_for_direction, parse_scorer_spec

        for spec in scorers:
            parse_scorer_spec(spec)
        check_scorers_for_direction(scorers, obj["direction"])
    primary = obj.get("primary")
    if primary is not None and scorers and primary not in scorers:
        raise InputError(f"{where}: primary {primary!r} is not one of its scorers.")
    size = obj.get("size")
    if size is not None and not (
        isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)
    ):
        raise InputError(f"{where}: 'size' must be [width, height].")
    if not isinstance(obj.get("prompt", DEFAULT_PROMPT), str):
        raise InputError(f"{where}: 'prompt' is {DEFAULT_PROMPT!r} or the caption instruction's text.")


def load_task_file(path: str | Path) -> Task:
    """Read, resolve (``include``) and check one task file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"--task-file {path}: no such file.")
    obj = _with_includes(path)
    _check(obj, str(path))
    return Task(name=str(obj["task"]), version=str(obj["version"]), source=str(path), resolved=obj)


# -- finding ----------------------------------------------------------------------------------------
def _builtin_folder() -> Path:
    return Path(str(resources.files("unified_bench").joinpath("tasks")))


def task_files() -> dict[str, Path]:
    """Every installed task by name (files starting with ``_`` are bases for ``include`` only)."""
    found: dict[str, Path] = {}
    folders = [_builtin_folder()]
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        target = Path(str(entry_point.load()))
        if target.is_file():
            found.setdefault(_read_yaml(target).get("task", target.stem), target)
        else:
            folders.append(target)
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")):
            if not path.name.startswith("_"):
                found.setdefault(str(_read_yaml(path).get("task", path.stem)), path)
    return found


def _task_path(name: str, *, where: str = "--task") -> Path:
    files = task_files()
    if name not in files:
        raise UnknownNameError("task", name, sorted(files))
    return files[name]


def find_task(name: str) -> Task:
    """The installed task called ``name``."""
    return load_task_file(_task_path(name))
