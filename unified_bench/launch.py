"""One command, one result under a launcher: every rank runs its shard, rank 0 merges them.

Under ``torchrun`` / ``accelerate launch`` (``RANK``, ``WORLD_SIZE``) or ``srun`` (``SLURM_PROCID``,
``SLURM_NTASKS``) each process runs the shard its rank selects into ``OUTPUT/shard-I-of-N``. Then the
ranks meet once through ``torch.distributed`` (gloo on the CPU: ``MASTER_ADDR``/``MASTER_PORT`` as the
launcher sets them, else a file store in ``--output`` named by the SLURM job step), each telling
whether its shard finished; rank 0 waits for all of them, bounded by ``UNIFIED_BENCH_MERGE_TIMEOUT``
seconds, and merges the shards into ``OUTPUT`` with ``unified_bench.merge`` (which refuses
inconsistent sets). No rank sleeps or polls: the collective returns when the last rank arrives.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from unified_bench.errors import UserError
from unified_bench.results import Results
from unified_bench.sharding import Shard

MERGE_TIMEOUT_ENV = "UNIFIED_BENCH_MERGE_TIMEOUT"
DEFAULT_MERGE_TIMEOUT_S = 24 * 3600.0  # how long a finished rank waits for the slowest
_OK = "ok"


class ShardsNotMerged(UserError):
    """A shard failed, or the ranks did not all report within the merge timeout."""


def merge_timeout(environ: Mapping[str, str] = os.environ) -> float:
    text = environ.get(MERGE_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_MERGE_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise UserError(f"${MERGE_TIMEOUT_ENV}={text}: expected a number of seconds > 0.")
    return seconds


def _init_method(output: Path, environ: Mapping[str, str]) -> str:
    if environ.get("MASTER_ADDR") and environ.get("MASTER_PORT"):
        return "env://"
    step = f"{environ.get('SLURM_JOB_ID', 'job')}.{environ.get('SLURM_STEP_ID', '0')}"
    output.mkdir(parents=True, exist_ok=True)
    return f"file://{(output / f'.rendezvous-{step}').resolve()}"


def gather_outcomes(shard: Shard, outcome: str, output: Path, *, timeout_s: float) -> list[str]:
    """Every rank's outcome (``"ok"`` or its error), in rank order, once all ranks have sent theirs."""
    import torch.distributed as dist

    environ = os.environ
    try:
        created = not dist.is_initialized()
        if created:
            dist.init_process_group(
                "gloo",
                init_method=_init_method(output, environ),
                rank=shard.index,
                world_size=shard.count,
                timeout=timedelta(seconds=timeout_s),
            )
        try:
            outcomes: list[Any] = [None] * shard.count
            dist.all_gather_object(outcomes, outcome)
        finally:
            if created:
                dist.destroy_process_group()
    except (RuntimeError, ValueError, OSError) as error:  # gloo and the stores time out as RuntimeError
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ShardsNotMerged(
            f"rank {shard.index}: did not hear from all {shard.count} ranks within {timeout_s:g} s "
            f"({detail}); finished shards are kept in {output}: rerun the same command to finish the "
            f"others, or `unified-bench merge {output} -o {output}` once all are done (wait longer: "
            f"${MERGE_TIMEOUT_ENV})."
        ) from None
    return [str(o) for o in outcomes]


def execute_and_merge(request: Any, hooks: Any = None) -> Results:
    """Run ``request``'s shard, meet the other ranks, and on rank 0 merge every shard into ``--output``.

    Returns this rank's shard results, or on rank 0 the merged results.

    Raises:
        ShardsNotMerged: a shard failed (rank 0 names it; the failing rank raises its own error), or
            the ranks did not all report in time.
    """
    from unified_bench.evaluate import execute_run
    from unified_bench.merge import merge_runs

    shard: Shard = request.shard
    timeout_s = merge_timeout()
    results: Results | None = None
    failure: BaseException | None = None
    try:
        results = execute_run(request, hooks)
    except Exception as error:
        failure = error
    outcome = _OK if failure is None else f"{type(failure).__name__}: {failure}"
    outcomes = gather_outcomes(shard, outcome, request.output, timeout_s=timeout_s)
    if failure is not None:
        raise failure
    assert results is not None
    if shard.index != 0:
        return results
    failed = [(rank, text) for rank, text in enumerate(outcomes) if text != _OK]
    if failed:
        rank, text = failed[0]
        raise ShardsNotMerged(
            f"shard {rank}/{shard.count} failed ({text}); nothing was merged into {request.output}: "
            "fix it and rerun the same command (finished samples are kept)."
        )
    folders = [request.output / Shard(i, shard.count).dirname for i in range(shard.count)]
    return merge_runs(folders, request.output, overwrite=request.overwrite)
