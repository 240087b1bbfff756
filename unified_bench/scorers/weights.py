"""Find scorer weights (local path or Hugging Face Hub id) and identify them by sha256.

A hub id is looked up in the local Hugging Face cache first (no network), then downloaded. Every
failure a user can fix (offline, gated, absent, wrong folder) becomes one ``MissingWeightsError``
line saying what was looked for and how to get it. Weights are identified by the sha256 of their
files, so a local copy of the official weights fingerprints like the hub download.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from unified_bench.errors import MissingWeightsError
from unified_bench.io import WriteError, atomic_write_text
from unified_bench.paths import cache_dir

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HF_CACHE_SNAPSHOT = re.compile(r"models--(?P<owner>[^/]+?)--(?P<name>[^/]+)/snapshots/[^/]+")
# What a transformers scorer needs from a hub repo (not the TF/Flax/PyTorch-pickle duplicates).
TRANSFORMERS_PATTERNS = ("*.json", "*.safetensors", "*.txt")


@dataclass(frozen=True)
class ResolvedWeights:
    """Where a scorer's weights are on disk and what they are."""

    model_id: str
    path: Path
    sha256: str

    @property
    def short_sha(self) -> str:
        return self.sha256[:16]


def resolve_pretrained_dir(ref: str, *, scorer: str, hint: str = "") -> ResolvedWeights:
    """A folder with ``config.json`` and weights, from a local path or a hub id.

    Raises:
        MissingWeightsError: the folder has no weights, or the hub id is not cached and cannot be
            downloaded (offline, gated, absent).
    """
    path = Path(ref).expanduser()
    if path.exists():
        model_id = _model_id_for_path(path)
    elif _HUB_ID.match(ref):
        path, model_id = _hub_snapshot(ref, scorer=scorer, hint=hint), ref
    else:
        raise MissingWeightsError(
            f"{scorer}: {ref} does not exist; pass a folder written by save_pretrained, "
            "or a hub id (owner/name)."
        )
    weight_files = (
        [p for p in sorted(path.glob("*")) if p.suffix in (".safetensors", ".bin")] if path.is_dir() else []
    )
    if not path.is_dir() or not (path / "config.json").is_file() or not weight_files:
        raise MissingWeightsError(
            f"{scorer}: no model in {path} (looked for config.json and *.safetensors); pass a folder written "
            f"by save_pretrained, or a hub id.{_suffix(hint)}"
        )
    return ResolvedWeights(model_id, path, combined_sha256(weight_files))


def resolve_weights_file(ref: str, filename: str, *, scorer: str, hint: str = "") -> ResolvedWeights:
    """A single weights file: ``ref`` is the file, a folder holding ``filename``, or a hub id.

    Raises:
        MissingWeightsError: the file is absent, or the hub id is not cached and cannot be downloaded.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        path = path / filename
        if not path.is_file():
            raise MissingWeightsError(
                f"{scorer}: {filename} not found in {path.parent}; put it there or pass "
                f"{scorer}=PATH/TO/FILE.{_suffix(hint)}"
            )
        return ResolvedWeights(_model_id_for_path(path), path, file_sha256(path))
    if path.is_file():
        return ResolvedWeights(_model_id_for_path(path), path, file_sha256(path))
    if not _HUB_ID.match(ref):
        raise MissingWeightsError(f"{scorer}: {ref} does not exist; pass a path to {filename} or a hub id.")
    path = _hub_file(ref, filename, scorer=scorer, hint=hint)
    return ResolvedWeights(ref, path, file_sha256(path))


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes; free for Hugging Face cache blobs (named by it), memoised otherwise."""
    real = path.resolve()
    if real.parent.name == "blobs" and _SHA256.match(real.name):
        return real.name  # LFS blobs in the HF cache are stored under their sha256
    stat = real.stat()
    memo_key = hashlib.sha256(f"{real}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    try:  # the memo is an optimisation: an unusable cache (full, read-only, a file) only costs time
        memo: Path | None = cache_dir("file-sha256") / memo_key
        cached = memo.read_text().strip() if memo.is_file() else ""
    except (OSError, UnicodeDecodeError):
        memo, cached = None, ""
    if _SHA256.match(cached):
        return cached
    hasher = hashlib.sha256()
    with open(real, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    digest = hasher.hexdigest()
    if memo is not None:
        with contextlib.suppress(WriteError):  # disk full or read-only: the digest stands without its memo
            atomic_write_text(memo, digest)
    return digest


def combined_sha256(files: list[Path]) -> str:
    """One file: its sha256; several (sharded) files: sha256 over their names and hashes."""
    if len(files) == 1:
        return file_sha256(files[0])
    lines = "".join(f"{f.name} {file_sha256(f)}\n" for f in sorted(files, key=lambda f: f.name))
    return hashlib.sha256(lines.encode()).hexdigest()


def config_digest(obj: object) -> str:
    """8 hex digits identifying a JSON-able configuration (e.g. an image processor's settings)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _model_id_for_path(path: Path) -> str:
    """``owner/name`` inside the HF cache, else ``local:<folder>`` or ``local:<folder>/<file>``."""
    absolute = Path(os.path.abspath(path))  # not resolve(): HF snapshot files are symlinks into blobs/
    match = _HF_CACHE_SNAPSHOT.search(absolute.as_posix())
    if match:
        return f"{match['owner']}/{match['name']}"
    return f"local:{absolute.parent.name}/{absolute.name}" if absolute.is_file() else f"local:{absolute.name}"


def _suffix(hint: str) -> str:
    return f" {hint}" if hint else ""


def _hub_snapshot(repo_id: str, *, scorer: str, hint: str) -> Path:
    from huggingface_hub import snapshot_download

    def download(local_only: bool) -> str:
        patterns = list(TRANSFORMERS_PATTERNS)
        return snapshot_download(repo_id, allow_patterns=patterns, local_files_only=local_only)

    return Path(_from_hub(download, repo_id, scorer=scorer, hint=hint, what=repo_id))


def _hub_file(repo_id: str, filename: str, *, scorer: str, hint: str) -> Path:
    from huggingface_hub import hf_hub_download

    def download(local_only: bool) -> str:
        return hf_hub_download(repo_id, filename, local_files_only=local_only)

    return Path(_from_hub(download, repo_id, scorer=scorer, hint=hint, what=f"{filename} from {repo_id}"))


def _from_hub(download, repo_id: str, *, scorer: str, hint: str, what: str) -> str:
    """Cache first (never touches the network), then a download; errors become one line."""
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return download(True)
    except (LocalEntryNotFoundError, FileNotFoundError):
        pass
    try:
        return download(False)
    except GatedRepoError:
        raise MissingWeightsError(
            f"{scorer}: {repo_id} is gated on the Hugging Face Hub; accept its licence at "
            f"https://huggingface.co/{repo_id}, run `huggingface-cli login`, "
            f"or pass {scorer}=PATH to a local copy."
        ) from None
    except RepositoryNotFoundError:
        raise MissingWeightsError(
            f"{scorer}: {repo_id} was not found on the Hugging Face Hub (or is private: "
            f"`huggingface-cli login`); pass {scorer}=PATH to a local copy.{_suffix(hint)}"
        ) from None
    except Exception as error:  # offline, proxy, DNS, hub down: all mean "not obtainable here"
        reason = type(error).__name__
        raise MissingWeightsError(
            f"{scorer}: {what} is not in the local Hugging Face cache and cannot be downloaded here "
            f"({reason}); run `huggingface-cli download {repo_id}` on a machine with network, "
            f"or pass {scorer}=PATH to a local copy.{_suffix(hint)}"
        ) from None
