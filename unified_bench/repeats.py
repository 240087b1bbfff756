"""``run --repeats K``: the sampled round trip under K seeds, and one result that combines them.

Captions and images are sampled, so a second seed gives other numbers. Each seed is an ordinary,
resumable run in ``OUTPUT/repeat-1 … OUTPUT/repeat-K`` (seeds ``seed … seed+K-1``; ``repeat-1`` is
the plain run). ``OUTPUT/results.json`` then holds, per sample, the mean over the K seeds (so the
bootstrap interval, and ``compare``, use every repeat while keeping the sample as the unit), and
``repeats`` records each seed's mean and their standard deviation: the across-seed spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from unified_bench.errors import InputError, UserError
from unified_bench.results import Results, build_results, write_results, write_samples_table
from unified_bench.store import RESULTS_FILE, RUN_FILE, SAMPLES_TABLE

if TYPE_CHECKING:
    from unified_bench.evaluate import Hooks, RunRequest

MAX_REPEATS = 100


def repeat_dirname(index: int) -> str:
    """``repeat-1`` for the first seed (1-based, like the ``--repeats`` count)."""
    return f"repeat-{index}"


def execute_repeats(request: RunRequest, repeats: int, hooks: Hooks | None = None) -> Results:
    """Run ``request`` under ``repeats`` seeds, then write the combined ``OUTPUT/results.json``.

    Rerunning the same command resumes every unfinished repeat.

    Raises:
        UserError: ``repeats`` out of range, combined with ``--shard``, or ``OUTPUT`` holds a plain run.
    """
    from unified_bench.evaluate import execute_run

    if not 2 <= repeats <= MAX_REPEATS:
        raise UserError(f"--repeats {repeats}: use 2 to {MAX_REPEATS} (1 is a plain run).")
    if request.shard is not None:
        raise UserError(
            "--repeats cannot be combined with --shard; run each seed with --seed S --shard I/N, "
            "merge the shards per seed, or drop --shard."
        )
    if (request.output / RUN_FILE).exists():
        raise UserError(
            f"{request.output} holds a single run (run.json); give --repeats runs their own --output folder."
        )
    seeds = [request.seed + k for k in range(repeats)]
    parts = []
    for index, seed in enumerate(seeds, start=1):
        if hooks is not None:
            hooks.note(f"Repeat {index}/{repeats}: seed {seed}")
        sub_request = replace(request, seed=seed, output=request.output / repeat_dirname(index))
        parts.append(execute_run(sub_request, hooks))
    combined = combine_repeats(parts, runs=[repeat_dirname(i) for i in range(1, repeats + 1)], seeds=seeds)
    write_results(request.output / RESULTS_FILE, combined)
    write_samples_table(request.output / SAMPLES_TABLE, combined)
    return combined


def _spread(means: Sequence[float]) -> dict[str, Any]:
    values = np.asarray(means, dtype=np.float64)
    return {"means": [float(v) for v in values], "std": float(values.std(ddof=1))}


def combine_repeats(parts: Sequence[Results], *, runs: Sequence[str], seeds: Sequence[int]) -> Results:
    """One result from K runs of the same configuration under different seeds.

    Per-sample scores are averaged over the seeds; ``repeats`` keeps each seed's mean per scorer and
    for ``overall``, and their sample standard deviation. Captions shown are the first seed's.

    Raises:
        InputError: fewer than two parts, or parts that differ in dataset, samples, protocol or scorers.
    """
    if len(parts) < 2 or not len(parts) == len(runs) == len(seeds):
        raise InputError("combining repeats needs two or more runs, each with its folder name and seed.")
    first = parts[0]
    for run, part in zip(runs[1:], parts[1:], strict=True):
        same_scorers = {n: (s.fingerprint, s.higher_is_better) for n, s in part.scorers.items()} == {
            n: (s.fingerprint, s.higher_is_better) for n, s in first.scorers.items()
        }
        if (
            part.dataset["fingerprint"] != first.dataset["fingerprint"]
            or part.samples["ids"] != first.samples["ids"]
            or part.protocol != first.protocol
            or part.direction != first.direction
            or not same_scorers
        ):
            raise InputError(
                f"{run}: differs from {runs[0]} in dataset, samples, protocol or scorers; repeats must "
                "share everything but the seed (rerun with the same command)."
            )
    ids = list(first.samples["ids"])
    scores: dict[str, dict[str, float | None]] = {}
    for name in first.scorers:
        scores[name] = {}
        for sample_id in ids:
            values = [
                p.scorers[name].per_sample[sample_id]
                for p in parts
                if sample_id in p.scorers[name].per_sample
            ]
            scores[name][sample_id] = float(np.mean(values)) if values else None
    combined = build_results(
        ids=ids,
        scores=scores,
        scorer_meta={n: (s.fingerprint, s.higher_is_better) for n, s in first.scorers.items()},
        dataset=first.dataset,
        protocol=first.protocol,
        model=first.model,
        captions=first.samples["captions"],
        missing=first.samples["missing"],
        provenance={
            "repeats": [
                {"run": r, "seed": s, **p.provenance} for r, s, p in zip(runs, seeds, parts, strict=True)
            ]
        },
        bootstrap_seed=first.bootstrap["seed"],
        n_resamples=first.bootstrap["n_resamples"],
        confidence=first.bootstrap["confidence"],
        direction=first.direction,
        prompts=first.samples.get("prompts"),
        task=first.task,
    )
    overall = _spread([p.overall.mean for p in parts]) if all(p.overall is not None for p in parts) else None
    spread = {
        "k": len(parts),
        "seeds": list(seeds),
        "runs": list(runs),
        "scorers": {name: _spread([p.scorers[name].mean for p in parts]) for name in combined.scorers},
        "overall": overall,
    }
    return replace(combined, repeats=spread)


def first_repeat_dir(run_dir: Path, results: Results) -> Path:
    """Where the images of a run live: the run itself, or its first repeat for a ``--repeats`` run."""
    if results.repeats:
        return run_dir / results.repeats["runs"][0]
    return run_dir
