"""Choosing which samples a process works on: ``--limit`` first, then ``--shard I/N``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from unified_bench.errors import UserError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def dirname(self) -> str:
        return f"shard-{self.index:05d}-of-{self.count:05d}"


def parse_shard(text: str) -> Shard:
    """``"I/N"`` with 0 <= I < N."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or int(match[2]) < 1 or int(match[1]) >= int(match[2]):
        raise UserError(f"--shard {text}: expected I/N with 0 <= I < N, e.g. 0/4.")
    return Shard(int(match[1]), int(match[2]))


def shard_from_environment(environ: Mapping[str, str] = os.environ) -> Shard | None:
    """This process's shard when a launcher started several: ``RANK``/``WORLD_SIZE`` (torchrun,
    accelerate launch) or, when ``RANK`` is unset, ``SLURM_PROCID``/``SLURM_NTASKS`` (srun)."""
    if "RANK" in environ or "SLURM_PROCID" not in environ:
        rank_name, world_name = "RANK", "WORLD_SIZE"
    else:
        rank_name, world_name = "SLURM_PROCID", "SLURM_NTASKS"
    try:
        world = int(environ.get(world_name, "1"))
        rank = int(environ.get(rank_name, environ.get("LOCAL_RANK", "0")))
    except ValueError:
        return None
    return Shard(rank, world) if world > 1 and 0 <= rank < world else None


def select(items: Sequence[T], *, limit: int | None, shard: Shard | None) -> list[T]:
    """The first ``limit`` items in order, then every ``count``-th of those starting at ``index``."""
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit}: must be at least 1.")
    chosen = list(items[:limit] if limit is not None else items)
    return chosen[shard.index :: shard.count] if shard else chosen
