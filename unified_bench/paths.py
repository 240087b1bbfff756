"""Where things are: unified-bench's cache folder, whether a model source is a Hub id or a local
path, and the sha256 that identifies a file.

The rule for a model source (``--model``, ``--scorer NAME=...``, ``--adapter-arg model=...``), one
for every loader: a path that exists (after ``~`` expansion) is local, as in ``from_pretrained``,
even when it is spelt like a Hub id (a folder ``org/name`` in the working directory); otherwise
the string is a Hub id when huggingface_hub's own repo-id check accepts it (``name`` or
``namespace/name``; letters, digits, ``-_.``; not starting or ending with ``-`` or ``.``; no ``--``
or ``..``; at most 96 characters), and a local path (one that does not exist) when it does not.
So ``org/.name``, ``./x``, ``~/x``, ``a/b/c`` and ``org/name@rev`` are paths; a revision is given
on its own (``revision=``, ``--revision``), never inside the id.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

from unified_bench.io import WriteError, atomic_write_text

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def cache_dir(*parts: str) -> Path:
    """``$UNIFIED_BENCH_CACHE``, else ``$XDG_CACHE_HOME/unified-bench``, else ``~/.cache/unified-bench``,
    joined with ``parts``, created."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    default = (Path(xdg) if xdg else Path.home() / ".cache") / "unified-bench"
    root = Path(os.environ.get("UNIFIED_BENCH_CACHE") or default)
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_hub_id(source: str) -> bool:
    """Whether huggingface_hub accepts ``source`` as a repo id (the spelling only; no lookup)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(source)
    except HFValidationError:
        return False
    return True


def local_path(source: str) -> Path | None:
    """The local path ``source`` names (``~`` expanded; it may not exist), or None for a Hub id."""
    path = Path(source).expanduser()
    if path.exists() or not is_hub_id(source):
        return path
    return None


def file_sha256(path: Path, *, memo: bool = False) -> str:
    """sha256 of a file's bytes; free for Hugging Face cache blobs (named by it).

    ``memo=True`` (model weights: gigabytes, hashed on every run) keeps the digest in the cache,
    keyed by the file's path, size and modification time; a file that is checked against a digest
    someone else gave (a leaderboard archive) is read every time.
    """
    real = path.resolve()
    if real.parent.name == "blobs" and _SHA256.match(real.name):
        return real.name  # LFS blobs in the HF cache are stored under their sha256
    if not memo:
        return _read_sha256(real)
    stat = real.stat()
    memo_key = hashlib.sha256(f"{real}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    try:  # the memo is an optimisation: an unusable cache (full, read-only, a file) only costs time
        memo_file: Path | None = cache_dir("file-sha256") / memo_key
        cached = memo_file.read_text().strip() if memo_file.is_file() else ""
    except (OSError, UnicodeDecodeError):
        memo_file, cached = None, ""
    if _SHA256.match(cached):
        return cached
    digest = _read_sha256(real)
    if memo_file is not None:
        with contextlib.suppress(WriteError):  # disk full or read-only: the digest stands without its memo
            atomic_write_text(memo_file, digest)
    return digest


def _read_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()
