"""Reference embeddings on disk, keyed by scorer fingerprint + image sha256.

A reference image's embedding depends only on the scorer (its fingerprint: weights,
preprocessing, dtype) and the image bytes, so it is computed once and reused by every model
scored on that dataset. Layout: ``root/<sha256(fingerprint)[:16]>/<image_sha256>.npy`` (float32),
plus ``fingerprint.txt`` in each folder saying which scorer it belongs to. Files are written
atomically, so concurrent runs can share one cache; an unreadable file counts as a miss.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np

from unified_bench.io import atomic_write_bytes, atomic_write_text
from unified_bench.paths import cache_dir

_IMAGE_SHA = re.compile(r"^[0-9a-f]{16,128}$")


class EmbeddingCache:
    """Float32 embedding rows stored one file per (scorer fingerprint, image sha256)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir("embeddings")

    def folder(self, fingerprint: str) -> Path:
        return self.root / hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:16]

    def path(self, fingerprint: str, image_sha256: str) -> Path:
        return self.folder(fingerprint) / f"{_checked_sha(image_sha256)}.npy"

    def get(self, fingerprint: str, image_sha256: str) -> np.ndarray | None:
        """The cached row, or ``None`` if absent or unreadable."""
        path = self.path(fingerprint, image_sha256)
        try:
            with open(path, "rb") as handle:
                row = np.load(handle, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        return row if row.dtype == np.float32 and row.ndim == 1 else None

    def get_many(self, fingerprint: str, image_sha256s: list[str]) -> dict[str, np.ndarray]:
        """The cached rows among ``image_sha256s`` (misses are simply absent)."""
        found = {}
        for sha in image_sha256s:
            row = self.get(fingerprint, sha)
            if row is not None:
                found[sha] = row
        return found

    def put(self, fingerprint: str, image_sha256: str, row: np.ndarray) -> None:
        """Store one float32 row (atomically)."""
        folder = self.folder(fingerprint)
        label = folder / "fingerprint.txt"
        if not label.exists():
            atomic_write_text(label, fingerprint + "\n")
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(row, dtype=np.float32).reshape(-1), allow_pickle=False)
        atomic_write_bytes(self.path(fingerprint, image_sha256), buffer.getvalue())


def _checked_sha(image_sha256: str) -> str:
    """The hex digest (a ``sha256:`` prefix is allowed); anything else could escape the folder."""
    digest = image_sha256.removeprefix("sha256:")
    if not _IMAGE_SHA.match(digest):
        raise ValueError(f"not a hex image digest: {image_sha256!r}")
    return digest
