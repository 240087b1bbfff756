"""The offline demo: the whole round trip on the bundled sample photos with random tiny weights.

Same code path as a real run (``execute_run``), only the weights differ: ``uae-tiny`` is UAE's
exact classes at tiny sizes, and the scorers are tiny random checkpoints of the real classes.
"""

from __future__ import annotations

from pathlib import Path

from unified_bench.evaluate import Hooks, RunRequest, ScoringOptions, execute_run
from unified_bench.results import Results

DEMO_NOTICE = (
    "These numbers are meaningless: every model here (uae-tiny and the tiny scorers) has random weights. "
    "The demo only shows that the whole pipeline runs offline."
)
REAL_RUN_COMMAND = "unified-bench run --model uae --dataset unibench --output runs/uae --device cuda"
# Scorers that need no weights, computed on the demo as in a real run.
WEIGHTLESS_SCORERS = ("ssim", "psnr", "caption_words", "bleu4", "rougeL", "cider")
T2I2T_WEIGHTLESS = ("quoted_text", "quoted_text_edit")


def demo_scorer_specs(direction: str = "i2t2i") -> tuple[str, ...]:
    """``NAME=PATH`` for every scorer of ``direction`` with tiny local weights, plus the weightless
    ones; scorers whose optional package (``unified-bench[scorers]``) is not installed are left out."""
    from unified_bench.loading import package_installed
    from unified_bench.preflight import SCORER_EXTRAS
    from unified_bench.scorers.registry import default_scorers
    from unified_bench.scorers.tiny import ensure_tiny_scorer_weights

    wanted = default_scorers(direction)
    local = {name: path for name, path in ensure_tiny_scorer_weights().items() if name in wanted}
    weightless = [name for name in WEIGHTLESS_SCORERS + T2I2T_WEIGHTLESS if name in wanted]
    specs = [f"{name}={path}" for name, path in local.items()] + weightless
    return tuple(
        spec
        for spec in specs
        if (package := SCORER_EXTRAS.get(spec.split("=")[0], (None, None))[0]) is None
        or package_installed(package)
    )


def run_demo(output: Path, *, batch_size: int = 4, hooks: Hooks | None = None) -> Results:
    request = RunRequest(
        model="uae-tiny",
        dataset="samples",
        output=output,
        batch_size=batch_size,
        scoring=ScoringOptions(scorers=demo_scorer_specs(), n_resamples=2_000),
    )
    return execute_run(request, hooks)
