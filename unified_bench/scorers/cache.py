"""Reference embeddings on disk, keyed by scorer fingerprint + image sha256.

A reference image's embedding depends only on the scorer (its fingerprint: weights,
preprocessing, dtype) and the image bytes, so it is computed once and reused by every model
scored on that dataset. Layout: ``root/<sha256(fingerprint)[:16]>/<image_sha256>.npy`` (float32),
plus ``fingerprint.txt`` in each folder saying which scorer it belongs to. Files are written
atomically, so concurrent runs can share one cache.

The cache is an optimisation and never trusted: every entry read must be a finite float32 row
of the scorer's width with unit norm (the scorers L2-normalise). Anything else (a truncated
file, another dtype or shape, NaN, a zero row, a folder in its place) is discarded, to be
recomputed and rewritten, with one note. A cache that cannot be written (disk full, read-only)
turns itself off with one warning, and scoring goes on without it.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from unified_bench.io import WriteError, atomic_write_bytes, atomic_write_text
from unified_bench.paths import cache_dir

_IMAGE_SHA = re.compile(r"^[0-9a-f]{16,128}$")
UNIT_NORM_TOLERANCE = 1e-3


class EmbeddingCache:
    """Float32 embedding rows stored one file per (scorer fingerprint, image sha256).

    Args:
        root: the cache folder (default: ``$UNIFIED_BENCH_CACHE/embeddings``).
        notify: receives the one-line notes (a bad entry replaced, the cache turned off).
    """

    def __init__(
        self, root: str | Path | None = None, *, notify: Callable[[str], None] | None = None
    ) -> None:
        self.notify = notify or (lambda text: None)
        self.enabled = True
        self.discarded = 0  # bad entries found (and removed) by this instance
        if root is not None:
            self.root = Path(root)
            return
        try:
            self.root = cache_dir("embeddings")
        except OSError as error:  # e.g. the cache location is a file, or the disk is full
            self.root = Path(error.filename or "embeddings")
            self._turn_off(f"cannot create the embedding cache {self.root} ({error.strerror})")

    def folder(self, fingerprint: str) -> Path:
        return self.root / hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:16]

    def path(self, fingerprint: str, image_sha256: str) -> Path:
        return self.folder(fingerprint) / f"{_checked_sha(image_sha256)}.npy"

    def get(self, fingerprint: str, image_sha256: str, *, dim: int | None = None) -> np.ndarray | None:
        """The cached row, or ``None`` if absent or bad (a bad entry is removed).

        Args:
            dim: the scorer's embedding width, when known; a row of another width is bad.
        """
        path = self.path(fingerprint, image_sha256)
        if not self.enabled or not (path.exists() or path.is_symlink()):
            return None
        try:
            with open(path, "rb") as handle:
                row = np.load(handle, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            self._discard(path, f"unreadable ({type(error).__name__})")
            return None
        problem = row_problem(row, dim)
        if problem is not None:
            self._discard(path, problem)
            return None
        return row

    def get_many(
        self, fingerprint: str, image_sha256s: list[str], *, dim: int | None = None
    ) -> dict[str, np.ndarray]:
        """The good cached rows among ``image_sha256s`` (misses and bad entries are absent)."""
        found = {}
        for sha in image_sha256s:
            row = self.get(fingerprint, sha, dim=dim)
            if row is not None:
                found[sha] = row
        return found

    def put(self, fingerprint: str, image_sha256: str, row: np.ndarray) -> None:
        """Store one float32 row (atomically); on a write error, turn the cache off with one warning."""
        if not self.enabled:
            return
        path = self.path(fingerprint, image_sha256)
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(row, dtype=np.float32).reshape(-1), allow_pickle=False)
        try:
            label = self.folder(fingerprint) / "fingerprint.txt"
            if not label.is_file():
                atomic_write_text(label, fingerprint + "\n")
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            atomic_write_bytes(path, buffer.getvalue())
        except (WriteError, OSError) as error:
            cause = error.__cause__ if isinstance(error, WriteError) else error
            reason = getattr(cause, "strerror", None) or str(error)
            self._turn_off(f"cannot write to the embedding cache {self.root} ({reason})")

    def _discard(self, path: Path, problem: str) -> None:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as error:
            self._turn_off(f"cannot remove the bad embedding-cache entry {path} ({error.strerror})")
            return
        self.discarded += 1
        if self.discarded == 1:
            self.notify(
                f"Embedding cache: {path} was {problem}; discarded, recomputing it "
                "(any further bad entry is replaced the same way)."
            )

    def _turn_off(self, reason: str) -> None:
        if self.enabled:
            self.enabled = False
            self.notify(f"Warning: {reason}; going on without the cache (scores are unaffected).")


def row_problem(row: object, dim: int | None = None) -> str | None:
    """Why ``row`` is not a valid cached embedding, or ``None`` if it is one."""
    if not isinstance(row, np.ndarray):
        return f"not an array ({type(row).__name__})"
    if row.dtype != np.float32:
        return f"of dtype {row.dtype}, not float32"
    if row.ndim != 1 or row.size == 0:
        return f"of shape {row.shape}, not one row"
    if dim is not None and row.shape[0] != dim:
        return f"{row.shape[0]} wide, not {dim}"
    if not np.isfinite(row).all():
        return "not finite (NaN or infinity)"
    norm = float(np.linalg.norm(row.astype(np.float64)))
    if abs(norm - 1.0) > UNIT_NORM_TOLERANCE:
        return f"of norm {norm:.4g}, not 1"
    return None


def _checked_sha(image_sha256: str) -> str:
    """The hex digest (a ``sha256:`` prefix is allowed); anything else could escape the folder."""
    digest = image_sha256.removeprefix("sha256:")
    if not _IMAGE_SHA.match(digest):
        raise ValueError(f"not a hex image digest: {image_sha256!r}")
    return digest
