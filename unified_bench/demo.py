"""The offline demo: the whole round trip on the bundled sample photos with random tiny weights.

Same code path as a real run (``execute_run``), only the weights differ: ``uae-tiny`` is UAE's
exact classes at tiny sizes, and the scorers are the ``tiny`` set (``unified_bench.scorers.sets``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from unified_bench.evaluate import Hooks
    from unified_bench.results import Results

DEMO_NOTICE = (
    "These numbers are meaningless: every model here (uae-tiny and the tiny scorers) has random weights. "
    "The demo only shows that the whole pipeline runs offline."
)
DEMO_MODEL, DEMO_DATASET = "uae-tiny", "samples"
REAL_RUN_COMMAND = "unified-bench run --model uae --dataset unibench --output runs/uae --device cuda"


def run_demo(
    output: Path,
    *,
    seed: int = 0,
    limit: int | None = None,
    batch_size: int = 4,
    hooks: Hooks | None = None,
) -> Results:
    """``unified-bench demo``: exactly ``run --model uae-tiny --dataset samples --scorer-set tiny``."""
    from unified_bench.api import run

    return run(
        DEMO_MODEL,
        DEMO_DATASET,
        output,
        scorer_set="tiny",
        seed=seed,
        limit=limit,
        batch_size=batch_size,
        hooks=hooks,
    )


def next_steps(output: Path, seed: int, limit: int | None = None) -> list[str]:
    """Commands that continue from a demo run offline (each runs verbatim; a test runs them)."""
    from unified_bench.stats import smallest_n_reaching

    other = output.with_name(f"{output.name}-seed{seed + 1}")
    limited = f" --limit {limit}" if limit is not None else ""
    gate_n = smallest_n_reaching(0.05)  # compare refuses (exit 2) a gate that can never fail
    compare = (
        f"Compare them: unified-bench compare {output} {other}"
        if limit is None or limit >= gate_n
        else f"(`compare` needs --limit {gate_n} or more to gate at alpha 0.05.)"
    )
    return [
        f"Another seed: unified-bench run --model {DEMO_MODEL} --dataset {DEMO_DATASET} --scorer-set tiny "
        f"--seed {seed + 1}{limited} --output {other}",
        compare,
        f"Side by side: unified-bench report {output} {other}",
    ]
