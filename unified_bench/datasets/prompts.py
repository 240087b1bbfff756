"""Prompt sets: the datasets of the ``t2i2t`` direction (prompt -> image -> caption).

A prompt set is an ordered list of ``PromptSample`` (an id, the prompt, optional tags and questions).
Sources, tried in this order:

* ``hf:OWNER/NAME[:CONFIG][@SPLIT]`` with ``--prompt-column`` (default: the first text column of
  ``prompt``, ``text``, ``caption``, ``description``; ids from an ``id`` column or the row number);
* a registered name: ``unified-prompts`` (bundled, written for this project) or a downloaded set
  (``unified_bench.datasets.prompt_downloads``);
* a folder of ``ID.txt`` files (one prompt each, sorted by name);
* a JSONL file of ``{"id", "prompt"}`` objects (optional ``"tags": [...]``, ``"questions": [...]``).

The fingerprint hashes every id and prompt text, so a changed word is a different dataset.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from unified_bench.datasets.base import DatasetOptions, check_sample_id
from unified_bench.errors import InputError, did_you_mean

BUNDLED = "unified-prompts"
PROMPT_KEYS = ("id", "prompt", "tags", "questions")
PROMPT_COLUMN_GUESSES = ("prompt", "text", "caption", "description")


@dataclass(frozen=True)
class PromptSample:
    """One prompt to draw: its id (a file stem), the text, and optional tags / questions about it."""

    id: str
    prompt: str
    tags: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()

    @property
    def prompt_sha256(self) -> str:
        return hashlib.sha256(self.prompt.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PromptSet:
    """An ordered list of prompts with a name and a content fingerprint (the t2i2t ``Dataset``)."""

    name: str
    samples: tuple[PromptSample, ...]
    source: str
    notes: tuple[str, ...] = ()
    card: Mapping[str, object] = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def fingerprint(self) -> str:
        return prompt_set_fingerprint(self.samples)

    def prompts(self) -> dict[str, str]:
        return {s.id: s.prompt for s in self.samples}


def prompt_set_fingerprint(samples: Sequence[PromptSample]) -> str:
    """sha256 over the sorted ids and each prompt's sha256: same ids + same texts => same value."""
    digest = hashlib.sha256()
    for sample in sorted(samples, key=lambda s: s.id):
        digest.update(f"prompt\0{sample.id}\0{sample.prompt_sha256}\n".encode())
    return "sha256:" + digest.hexdigest()


def make_prompt_set(
    name: str, samples: Sequence[PromptSample], source: str, *, card: Mapping[str, object] | None = None
) -> PromptSet:
    """A ``PromptSet``, refusing an empty one, an empty prompt or ids that repeat (ignoring case)."""
    if not samples:
        raise InputError(
            f'{source}: no prompts found; give a JSONL of {{"id", "prompt"}} lines or .txt files.'
        )
    seen: set[str] = set()
    for sample in samples:
        if sample.id.casefold() in seen:  # ids become file names; some file systems ignore case
            raise InputError(f"{source}: prompt id {sample.id!r} repeats (ids are compared ignoring case).")
        seen.add(sample.id.casefold())
        if not sample.prompt.strip():
            raise InputError(f"{source}: prompt {sample.id!r} is empty; give it text or remove it.")
    return PromptSet(name=name, samples=tuple(samples), source=source, card=dict(card or {}))


# -- sources -----------------------------------------------------------------------------------------
def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: {key!r} must be a list of strings, got {value!r}.")
    return tuple(value)


def parse_prompt_line(line: str, where: str) -> PromptSample:
    """One JSONL line -> a ``PromptSample``; one clear line for anything malformed."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"{where}: not valid JSON ({error.msg}).") from None
    if not isinstance(record, dict) or not isinstance(record.get("prompt"), str) or "id" not in record:
        raise InputError(f'{where}: expected {{"id": "...", "prompt": "..."}}, got {line.strip()[:80]!r}.')
    unknown = sorted(set(record) - set(PROMPT_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown keys {unknown}; a prompt line has {', '.join(PROMPT_KEYS)}.")
    return PromptSample(
        id=check_sample_id(record["id"], where),
        prompt=record["prompt"],
        tags=_strings(record.get("tags"), "tags", where),
        questions=_strings(record.get("questions"), "questions", where),
    )


def read_prompt_lines(text: str, source: str) -> list[PromptSample]:
    return [
        parse_prompt_line(line, f"{source}:{number}")
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def load_prompt_jsonl(path: Path, *, name: str | None = None) -> PromptSet:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the prompt file ({error}).") from None
    return make_prompt_set(name or path.stem, read_prompt_lines(text, str(path)), str(path.resolve()))


def load_prompt_folder(folder: Path) -> PromptSet:
    samples = []
    for path in sorted(folder.glob("*.txt")):
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: cannot read the prompt ({error}).") from None
        samples.append(PromptSample(check_sample_id(path.stem, str(path)), text))
    if not samples:
        raise InputError(f"{folder}: no .txt prompts found; put one ID.txt per prompt there.")
    return make_prompt_set(folder.resolve().name, samples, str(folder.resolve()))


def load_bundled() -> PromptSet:
    """``unified-prompts``: the prompts this project wrote (objects, counts, colours, relations, text)."""
    text = resources.files("unified_bench").joinpath("datasets/data/unified_prompts.jsonl").read_text("utf-8")
    card = {"license": "Apache-2.0", "written_by": "the unified-bench project"}
    return make_prompt_set(BUNDLED, read_prompt_lines(text, BUNDLED), BUNDLED, card=card)


def load_hf_prompts(spec: str, column: str | None) -> PromptSet:
    """``hf:OWNER/NAME[:CONFIG][@SPLIT]``: one prompt per row from ``column`` (guessed when ``None``)."""
    from unified_bench.datasets.huggingface import _column_types, _is_text, _open_split, parse_hf_spec

    hub = parse_hf_spec(spec)
    table = _open_split(hub, streaming=False)
    columns = _column_types(table)
    if column is None:
        column = next((c for c in PROMPT_COLUMN_GUESSES if c in columns and _is_text(columns[c])), None)
        if column is None:
            raise InputError(
                f"--dataset {hub}: no prompt column found among {', '.join(columns)}; pass --prompt-column."
            )
    elif column not in columns:
        raise InputError(f"--prompt-column {column}: not in {hub}; columns: {', '.join(columns)}.")
    id_column = "id" if "id" in columns and column != "id" else None
    samples = []
    for index, row in enumerate(table.select_columns([c for c in (column, id_column) if c])):
        where = f"{hub} row {index}"
        if not isinstance(row[column], str):
            raise InputError(f"{where}: column {column!r} holds {type(row[column]).__name__}, not text.")
        sample_id = str(row[id_column]) if id_column else f"{index:06d}"
        samples.append(PromptSample(check_sample_id(sample_id, where), row[column]))
    card = {"hf_dataset": hub.name, "config": hub.config, "split": hub.split, "prompt_column": column}
    return make_prompt_set(Path(hub.name).name or hub.name, samples, str(hub), card=card)


def _named_loaders() -> dict[str, Callable[[Path | None], PromptSet]]:
    from unified_bench.datasets.prompt_downloads import DOWNLOADED_SETS, load_downloaded

    loaders: dict[str, Callable[[Path | None], PromptSet]] = {BUNDLED: lambda _cache: load_bundled()}
    for name in DOWNLOADED_SETS:
        loaders[name] = lambda cache, name=name: load_downloaded(name, cache_root=cache)
    return loaders


def prompt_set_names() -> tuple[str, ...]:
    return tuple(_named_loaders())


def load_prompt_set(
    spec: str, *, options: DatasetOptions | None = None, cache_root: Path | None = None
) -> PromptSet:
    """Load a prompt set from any supported source (see the module docstring).

    Raises:
        InputError: ``spec`` is none of these, or what it names is missing or malformed.
    """
    options = options or DatasetOptions()
    if spec.startswith("hf:"):
        return load_hf_prompts(spec, options.prompt_column)
    if options.prompt_column is not None:
        raise InputError(f"--dataset {spec}: --prompt-column applies to hf: datasets only; drop it.")
    loaders = _named_loaders()
    if spec in loaders:
        return loaders[spec](cache_root)
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_prompt_folder(path)
    if path.is_file() and path.suffix.lower() == ".jsonl":
        return load_prompt_jsonl(path)
    suggestion = "" if path.exists() or "/" in spec else did_you_mean(spec, tuple(loaders))
    raise InputError(
        f"--dataset {spec}: not a prompt set;{suggestion} --direction t2i2t takes one of "
        f'{", ".join(loaders)}, a folder of ID.txt prompts, a .jsonl of {{"id", "prompt"}} lines, '
        "or hf:OWNER/NAME with --prompt-column."
    )
