"""Find scorer weights (local path or Hugging Face Hub id) and identify them by sha256.

A hub id is looked up in the local Hugging Face cache first (no network), then downloaded. Every
failure a user can fix (offline, gated, absent, wrong folder) becomes one ``MissingWeightsError``
line saying what was looked for and how to get it. Weights are identified by the sha256 of their
files, so a local copy of the official weights fingerprints like the hub download.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from unified_bench.errors import MissingWeightsError
from unified_bench.paths import file_sha256, local_path

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
    path = local_path(ref)
    if path is None:
        path, model_id = _hub_snapshot(ref, scorer=scorer, hint=hint), ref
    elif path.exists():
        model_id = _model_id_for_path(path)
    else:
        raise MissingWeightsError(
            f"{scorer}: {ref} does not exist; pass --scorer {scorer}=PATH to a folder written by "
            "save_pretrained, or a hub id (owner/name)."
        )
    weight_files = (
        [p for p in sorted(path.glob("*")) if p.suffix in (".safetensors", ".bin")] if path.is_dir() else []
    )
    if not path.is_dir() or not (path / "config.json").is_file() or not weight_files:
        raise MissingWeightsError(
            f"{scorer}: no model in {path} (looked for config.json and *.safetensors); pass --scorer "
            f"{scorer}=PATH to a folder written by save_pretrained, or a hub id.{_suffix(hint)}"
        )
    return ResolvedWeights(model_id, path, combined_sha256(weight_files))


def resolve_weights_file(ref: str, filename: str, *, scorer: str, hint: str = "") -> ResolvedWeights:
    """A single weights file: ``ref`` is the file, a folder holding ``filename``, or a hub id.

    Raises:
        MissingWeightsError: the file is absent, or the hub id is not cached and cannot be downloaded.
    """
    path = local_path(ref)
    if path is None:
        path = _hub_file(ref, filename, scorer=scorer, hint=hint)
        return ResolvedWeights(ref, path, file_sha256(path, memo=True))
    if path.is_dir():
        path = path / filename
        if not path.is_file():
            raise MissingWeightsError(
                f"{scorer}: {filename} not found in {path.parent}; put it there or pass "
                f"--scorer {scorer}=PATH/TO/FILE.{_suffix(hint)}"
            )
        return ResolvedWeights(_model_id_for_path(path), path, file_sha256(path, memo=True))
    if path.is_file():
        return ResolvedWeights(_model_id_for_path(path), path, file_sha256(path, memo=True))
    raise MissingWeightsError(
        f"{scorer}: {ref} does not exist; pass --scorer {scorer}=PATH to {filename} or a hub id."
    )


def combined_sha256(files: list[Path]) -> str:
    """One file: its sha256; several (sharded) files: sha256 over their names and hashes."""
    if len(files) == 1:
        return file_sha256(files[0], memo=True)
    lines = "".join(f"{f.name} {file_sha256(f, memo=True)}\n" for f in sorted(files, key=lambda f: f.name))
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

    return Path(_from_hub(download, repo_id, scorer=scorer, hint=hint, what=repo_id, download_args=repo_id))


def _hub_file(repo_id: str, filename: str, *, scorer: str, hint: str) -> Path:
    from huggingface_hub import hf_hub_download

    def download(local_only: bool) -> str:
        return hf_hub_download(repo_id, filename, local_files_only=local_only)

    what, args = f"{filename} from {repo_id}", f"{repo_id} {filename}"
    return Path(_from_hub(download, repo_id, scorer=scorer, hint=hint, what=what, download_args=args))


def _from_hub(download, repo_id: str, *, scorer: str, hint: str, what: str, download_args: str) -> str:
    """Cache first (never touches the network), then a download; errors become one line."""
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return download(True)
    except (LocalEntryNotFoundError, FileNotFoundError):
        pass

    def unobtainable(reason: str) -> MissingWeightsError:
        return MissingWeightsError(
            f"{scorer}: {what} is not in the local Hugging Face cache and cannot be downloaded here "
            f"({reason}); run `hf download {download_args}` on a machine with network, "
            f"or pass --scorer {scorer}=PATH to a local copy.{_suffix(hint)}"
        )

    # huggingface_hub reads HF_HUB_OFFLINE once, at import; honour it when set later in the process
    # too, instead of waiting for network timeouts.
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise unobtainable("HF_HUB_OFFLINE is set")
    try:
        return download(False)
    except GatedRepoError:
        raise MissingWeightsError(
            f"{scorer}: {repo_id} is gated on the Hugging Face Hub; accept its licence at "
            f"https://huggingface.co/{repo_id}, run `hf auth login`, "
            f"or pass --scorer {scorer}=PATH to a local copy."
        ) from None
    except RepositoryNotFoundError:
        raise MissingWeightsError(
            f"{scorer}: {repo_id} was not found on the Hugging Face Hub (or is private: "
            f"`hf auth login`); pass --scorer {scorer}=PATH to a local copy.{_suffix(hint)}"
        ) from None
    except Exception as error:  # offline, proxy, DNS, hub down: all mean "not obtainable here"
        raise unobtainable(type(error).__name__) from None
