"""Where unified-bench keeps things it builds or downloads (tiny checkpoints, embeddings, datasets)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$UNIFIED_BENCH_CACHE`` (default ``~/.cache/unified-bench``) joined with ``parts``, created."""
    root = Path(os.environ.get("UNIFIED_BENCH_CACHE") or Path.home() / ".cache" / "unified-bench")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
