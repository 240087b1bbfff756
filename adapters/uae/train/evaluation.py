"""Held-out evaluation of a checkpoint with the harness itself (``execute_run``), as a user would run it.

``unified-bench run --model uae --adapter-arg checkpoint=CKPT`` on the held-out set: the checkpoint
is loaded from disk by the ``uae`` adapter (base model from its metadata), captioned, regenerated
and scored; the logged ``overall`` value is the results' overall mean (the paper's Unified-Bench
score when all four paper scorers are used, x100 in the paper's tables).
"""

from __future__ import annotations

from pathlib import Path

from .config import TrainConfig
from .rewards import scorer_specs

HELD_OUT_MANIFEST = "heldout.jsonl"  # the held-out window of eval_dataset, when eval_offset > 0


def evaluate_checkpoint(
    checkpoint: Path, config: TrainConfig, run: Path, step: int, *, device: str | None = None
) -> dict[str, float]:
    """Run and score the held-out set with ``checkpoint`` into ``run/eval/step-STEP``; returns
    ``eval/...`` metrics. With ``eval_offset``, the held-out set is the run's ``heldout.jsonl``."""
    from unified_bench.evaluate import RunRequest, ScoringOptions, execute_run

    specs = scorer_specs(config.eval_scorers, config.scorer_models)
    dataset, limit = config.eval_dataset, config.eval_limit
    if config.eval_offset:
        dataset, limit = str(run / HELD_OUT_MANIFEST), None
    request = RunRequest(
        model="uae",
        dataset=dataset,
        output=run / "eval" / f"step-{step}",
        seed=config.seed,
        limit=limit,
        adapter_args={"checkpoint": str(checkpoint), **config.eval_adapter_args},
        device=device,
        overwrite=True,
        scoring=ScoringOptions(scorers=tuple(specs), device=device, n_resamples=200),
    )
    results = execute_run(request)
    metrics = {f"eval/{name}": summary.mean for name, summary in results.scorers.items()}
    if results.overall is not None:
        metrics["eval/overall"] = results.overall.mean
    elif results.scorers:
        metrics["eval/overall"] = sum(s.mean for s in results.scorers.values()) / len(results.scorers)
    captions = [text for text in (results.samples.get("captions") or {}).values() if text]
    if captions:
        metrics["eval/caption_words"] = sum(len(text.split()) for text in captions) / len(captions)
    return metrics
