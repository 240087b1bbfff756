"""Named prompt sets downloaded on first use (filled in by the downloads slice)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unified_bench.datasets.prompts import PromptSet

DOWNLOADED_SETS: dict[str, object] = {}


def load_downloaded(name: str, *, cache_root: Path | None = None) -> PromptSet:
    raise KeyError(name)
