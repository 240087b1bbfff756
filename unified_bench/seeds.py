"""Per-sample seeds: a sample's outputs depend on (run seed, sample id, stage) only.

Never on batch size, batch composition or sharding, because every random draw of a sample comes
from a generator seeded with its own seed.
"""

from __future__ import annotations

import hashlib

STAGES = ("caption", "generate")


def sample_seed(run_seed: int, sample_id: str, stage: str) -> int:
    """A 63-bit seed derived from the run seed, the sample id and the stage.

    >>> sample_seed(0, "cat", "caption") == sample_seed(0, "cat", "caption")
    True
    >>> sample_seed(0, "cat", "caption") != sample_seed(1, "cat", "caption")
    True
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    digest = hashlib.sha256(f"unified-bench:{run_seed}:{stage}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)
