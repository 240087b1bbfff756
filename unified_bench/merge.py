"""``unified-bench merge``: join the shards of one run into a single run equal to the unsharded one."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from unified_bench.errors import InputError, UserError
from unified_bench.provenance import utc_now
from unified_bench.results import Results, build_results, read_results, write_results, write_samples_table
from unified_bench.store import ADAPTER_INFO_FILE, SAMPLES_TABLE, RunStore


def merge_runs(run_dirs: Sequence[Path], output: Path, *, overwrite: bool = False) -> Results:
    """Join shard run dirs into one run equal to the unsharded one (captions, images, scores)."""
    if not run_dirs:
        raise UserError("merge: give at least one run folder.")
    stores = [RunStore(d) for d in run_dirs]
    specs = []
    for store in stores:
        spec = store.read_spec()
        if spec is None:
            raise InputError(f"{store.root}: not a run folder (no run.json).")
        specs.append(spec)
    if any(spec != specs[0] for spec in specs[1:]):
        raise InputError(
            "merge: the runs were made with different configurations (model, seed, dataset, ...)."
        )
    parts = [read_results(store.results_path) for store in stores]
    _check_shards_complete(parts, run_dirs)
    records = {}
    for store in stores:
        records.update(store.captions())
    ordered = sorted(records.values(), key=lambda r: r.index)
    ids = [r.id for r in ordered]
    scores: dict[str, dict[str, float | None]] = {}
    meta: dict[str, tuple[str, bool]] = {}
    for part in parts:
        for name, summary in part.scorers.items():
            if name in meta and meta[name][0] != summary.fingerprint:
                raise InputError(f"merge: scorer {name!r} has different fingerprints across shards.")
            meta[name] = (summary.fingerprint, summary.higher_is_better)
            scores.setdefault(name, {}).update(summary.per_sample)

    target = RunStore(output)
    target.open(specs[0], overwrite=overwrite)
    existing = target.captions()
    target.append_captions([r for r in ordered if r.id not in existing])
    for store in stores:
        for record in store.captions().values():
            destination = target.image_path(record.id)
            if not destination.exists():
                shutil.copyfile(store.image_path(record.id), destination)
    shutil.copyfile(stores[0].root / ADAPTER_INFO_FILE, target.root / ADAPTER_INFO_FILE)
    first = parts[0]
    dataset_info = {**first.dataset, "n_selected": len(ids), "shard": None}
    provenance = {
        **first.provenance,
        "merged_from": [str(d) for d in run_dirs],
        "shard_provenance": [p.provenance for p in parts],
        "finished_at": utc_now(),
    }
    results = build_results(
        ids=ids,
        scores=scores,
        scorer_meta=meta,
        dataset=dataset_info,
        protocol=first.protocol,
        model=first.model,
        captions={r.id: r.caption for r in ordered},
        provenance=provenance,
        bootstrap_seed=first.bootstrap["seed"],
        n_resamples=first.bootstrap["n_resamples"],
    )
    write_results(target.results_path, results)
    write_samples_table(target.root / SAMPLES_TABLE, results)
    return results


def _check_shards_complete(parts: Sequence[Results], run_dirs: Sequence[Path]) -> None:
    shards = [p.dataset.get("shard") for p in parts]
    if any(s is None for s in shards):
        return  # merging whole runs (e.g. different limits) is allowed; ids must still be disjoint
    counts = {int(s.split("/")[1]) for s in shards}
    indices = sorted(int(s.split("/")[0]) for s in shards)
    if len(counts) != 1 or indices != list(range(next(iter(counts)))):
        raise InputError(
            f"merge: shards {', '.join(shards)} do not cover 0..N-1 of one N exactly once; "
            "pass every shard folder once."
        )
    limits = {p.dataset.get("limit") for p in parts}
    if len(limits) != 1:
        raise InputError("merge: shards were run with different --limit values.")
