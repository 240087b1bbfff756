"""The library behind ``run``, ``score`` and ``merge``: dataset -> round trip -> scores -> results.json.

Each step takes the previous one's output and never reaches back; the CLI only parses and prints.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from unified_bench.adapter import AdapterOptions, manifest_config_class, run_spec_adapter_args
from unified_bench.datasets.base import Dataset, DatasetOptions, FileLocation, Sample
from unified_bench.datasets.prompts import PromptSample, PromptSet, load_prompt_set
from unified_bench.directions import DEFAULT_DIRECTION, T2I2T, check_direction
from unified_bench.errors import MissingSamplesError, UserError
from unified_bench.images import inspect_image_file, read_image, sha256_bytes
from unified_bench.io import atomic_write_json
from unified_bench.preflight import preflight
from unified_bench.provenance import collect, utc_now
from unified_bench.rescoring import check_rescore_names, plan_scoring
from unified_bench.results import Results, build_results, read_results, write_results, write_samples_table
from unified_bench.roundtrip import pending_samples, run_prompt_round_trip, run_round_trip
from unified_bench.scoring import ScoringItem
from unified_bench.sharding import Shard, select
from unified_bench.stats import DEFAULT_RESAMPLES
from unified_bench.store import (
    ADAPTER_INFO_FILE,
    REPORT_FILE,
    RESULTS_FILE,
    SAMPLES_TABLE,
    RunSpec,
    RunStore,
    check_not_busy,
    exclusive_writer,
)
from unified_bench.tasks import Task


class Hooks(Protocol):
    """How the library reports progress; the CLI renders it with rich, tests pass nothing."""

    def stage(self, name: str, total: int) -> None: ...
    def advance(self, name: str, amount: int) -> None: ...
    def note(self, text: str) -> None: ...


class SilentHooks:
    """Hooks that report nothing (library callers, and every process but the first)."""

    def stage(self, name: str, total: int) -> None: ...
    def advance(self, name: str, amount: int) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass(frozen=True)
class ScoringOptions:
    scorers: tuple[str, ...] | None = None  # None: the default set
    batch_size: int = 16
    device: str | None = None
    dtype: str | None = None
    n_resamples: int = DEFAULT_RESAMPLES
    use_cache: bool = True
    rescore: tuple[str, ...] = ()  # scorer names (or "all") whose stored scores a rerun replaces


def _check_scorer_specs(options: ScoringOptions) -> None:
    """Fail on an unknown scorer before any model is loaded, not after an hour of generation."""
    from unified_bench.scorers import parse_scorer_spec

    for spec in options.scorers or ():
        parse_scorer_spec(spec)


def _scorer_names(specs: Sequence[str]) -> list[str]:
    from unified_bench.scorers import parse_scorer_spec

    return [parse_scorer_spec(spec)[0] for spec in specs]


@dataclass(frozen=True)
class RunRequest:
    model: str
    dataset: str
    output: Path
    seed: int = 0
    batch_size: int | str = 4  # or "auto" (see resolve_batch_size)
    limit: int | None = None
    shard: Shard | None = None
    adapter_args: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    dtype: str | None = None
    size: tuple[int, int] | None = None
    protocol: str = "text"
    overwrite: bool = False
    scoring: ScoringOptions = field(default_factory=ScoringOptions)
    dataset_options: DatasetOptions = field(default_factory=DatasetOptions)
    direction: str = DEFAULT_DIRECTION
    task: Task | None = None  # set by ``unified_bench.tasks.run.apply_task``


def execute_request(
    request: RunRequest, repeats: int = 1, hooks: Hooks | None = None, *, merge_shards: bool = False
) -> Results:
    """One run, or ``repeats`` seeds combined (``execute_repeats``); with ``merge_shards`` (a
    launcher's rank), this rank's shard and, on rank 0, the merge of all shards (``launch``)."""
    if repeats != 1:
        from unified_bench.repeats import execute_repeats

        return execute_repeats(request, repeats, hooks)
    if merge_shards:
        from unified_bench.launch import execute_and_merge

        return execute_and_merge(request, hooks)
    return execute_run(request, hooks)


def run_directory(request: RunRequest) -> Path:
    """Shards write side by side under the output folder; ``merge`` joins them."""
    return request.output / request.shard.dirname if request.shard else request.output


def _device_for_local_rank(device: str | None) -> str | None:
    """Under torchrun / accelerate launch each rank takes its own GPU unless --device says otherwise."""
    local_rank = os.environ.get("LOCAL_RANK")
    if device is not None or local_rank is None:
        return device
    import torch

    return f"cuda:{int(local_rank)}" if torch.cuda.is_available() else None


# ``--batch-size auto`` starts here and halves on out-of-memory until a batch fits. On CPU memory
# does not run out as an exception (the OS swaps or kills the process), and batching gains little,
# so auto is the default size there (and still halves should an OutOfMemoryError be raised).
AUTO_BATCH_GPU, AUTO_BATCH_CPU = 32, 4


def resolve_batch_size(value: int | str, device: str | None) -> tuple[int, bool]:
    """(the first batch size, whether to halve it on out-of-memory) for ``--batch-size``."""
    if value == "auto":
        if device is None:
            import torch

            on_gpu = torch.cuda.is_available()
        else:
            on_gpu = not str(device).startswith("cpu")
        return (AUTO_BATCH_GPU if on_gpu else AUTO_BATCH_CPU), True
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise UserError(f"--batch-size {value!r}: a whole number of at least 1, or auto.") from None
    if size < 1:
        raise UserError(f"--batch-size {size}: must be at least 1 (or auto).")
    return size, False


def execute_run(request: RunRequest, hooks: Hooks | None = None) -> Results:
    """Caption, regenerate and score ``request.dataset`` with ``request.model``; resume what exists.

    Raises:
        RunFolderBusy: another process is writing the same run folder.
    """
    hooks = hooks or SilentHooks()
    request = check_request(request)  # before the lock: a refused run leaves no folder behind
    plan = _plan_run(request, hooks)
    with exclusive_writer(plan.store.root):
        return _execute_planned(plan, hooks)


def check_request(request: RunRequest) -> RunRequest:
    """Refuse what no model needs to load to refuse; fill in the direction's default scorers."""
    from unified_bench.scorers.registry import check_scorers_for_direction, default_scorers

    direction = check_direction(request.direction)
    if direction == T2I2T and request.protocol != "text":
        raise UserError(
            f"--protocol {request.protocol}: t2i2t starts from a prompt, so only the text protocol "
            "applies; drop --protocol or use --direction i2t2i."
        )
    resolve_batch_size(request.batch_size, "cpu")  # refuses a bad size before the lock
    _check_scorer_specs(request.scoring)
    specs = request.scoring.scorers or default_scorers(direction)
    check_scorers_for_direction(specs, direction)
    check_rescore_names(request.scoring.rescore, _scorer_names(specs))
    return replace(request, scoring=replace(request.scoring, scorers=tuple(specs)))


@dataclass(frozen=True)
class _RunPlan:
    """A checked run: everything ``execute_run`` needs, found without writing anything."""

    request: RunRequest
    manifest: Any
    dataset: Dataset | PromptSet
    task: Task | None
    selected: list[tuple[int, Any]]
    spec: RunSpec
    store: RunStore
    started_at: str


def _plan_run(request: RunRequest, hooks: Hooks) -> _RunPlan:
    """Every check of a run that needs the dataset or the folder; reads files, writes none."""
    from unified_bench.datasets import load_dataset
    from unified_bench.registry import default_registry

    device = _device_for_local_rank(request.device)
    request = replace(request, device=device, scoring=replace(request.scoring, device=device))
    started_at = utc_now()
    registry = default_registry()
    manifest = registry.manifest(request.model)
    if request.protocol not in manifest.protocols:
        raise UserError(
            f"--protocol {request.protocol}: adapter {manifest.name!r} offers "
            f"{', '.join(manifest.protocols)}."
        )
    dataset: Dataset | PromptSet
    if request.direction == T2I2T:
        dataset = load_prompt_set(request.dataset, options=request.dataset_options)
    else:
        dataset = load_dataset(request.dataset, options=request.dataset_options)
    for note in dataset.notes:
        hooks.note(note)
    task = request.task
    if task is not None and task.dataset_sha256 and task.dataset_sha256 != dataset.fingerprint:
        raise UserError(
            f"task {task.name}: dataset {request.dataset} has fingerprint {dataset.fingerprint[:19]}…, "
            f"the task expects {task.dataset_sha256[:19]}…; the data changed: not the task's dataset."
        )
    # Descriptors only: nothing is decoded until a batch of the selected samples needs it.
    selected = select(list(enumerate(dataset.samples)), limit=request.limit, shard=request.shard)
    store = RunStore(run_directory(request))
    spec = RunSpec(
        model=manifest.name,
        adapter_args=run_spec_adapter_args(manifest_config_class(manifest), request.adapter_args),
        protocol=request.protocol,
        seed=request.seed,
        size=request.size,
        dtype=request.dtype,
        dataset_name=dataset.name,
        dataset_fingerprint=dataset.fingerprint,
        adapter_source=registry.source_fingerprint(
            manifest.name, AdapterOptions(args=dict(request.adapter_args))
        ),
        direction=request.direction,
        task_fingerprint=task.fingerprint(dataset.fingerprint) if task is not None else None,
    )
    check_not_busy(store.root)
    existing = store.check_can_open(spec, overwrite=request.overwrite)
    # A run to be replaced redoes every sample: its adapter is needed whatever the folder holds.
    pending = pending_samples(selected, store) if existing == spec else selected
    preflight(
        request.scoring.scorers, manifest=manifest if pending else None, adapter_args=request.adapter_args
    )
    return _RunPlan(request, manifest, dataset, task, selected, spec, store, started_at)


def _execute_planned(plan: _RunPlan, hooks: Hooks) -> Results:
    from unified_bench.registry import default_registry

    request, manifest, store, selected = plan.request, plan.manifest, plan.store, plan.selected
    dataset, task, spec = plan.dataset, plan.task, plan.spec
    batch_size, auto_batch = resolve_batch_size(request.batch_size, request.device)
    store.open(spec, overwrite=request.overwrite)  # checks again, now that we hold the lock
    pending = pending_samples(selected, store)
    done = len(selected) - len(pending)
    status = _progress_status(done, len(selected))
    if pending:
        if done:
            hooks.note(status)
        hooks.note(f"Loading adapter {manifest.name} ...")
        adapter = default_registry().build(
            manifest.name,
            AdapterOptions(
                args=dict(request.adapter_args),
                device=request.device,
                dtype=request.dtype,
                protocol=request.protocol,
            ),
        )
        info = adapter.info()
        atomic_write_json(store.root / ADAPTER_INFO_FILE, info)
        for warning in info.get("warnings") or []:  # also in provenance, as adapter info
            hooks.note(f"warning: {warning}")
        hooks.stage("round trip", len(selected))
        if done:
            hooks.advance("round trip", done)
        # The stage that ends a sample: captioning in t2i2t, drawing in i2t2i.
        last = "caption" if request.direction == T2I2T else "generate"
        trip = run_prompt_round_trip if request.direction == T2I2T else run_round_trip
        trip(
            adapter,
            pending,  # type: ignore[arg-type]
            store,
            run_seed=request.seed,
            batch_size=batch_size,
            size=request.size,
            on_progress=lambda stage, n: hooks.advance("round trip", n) if stage == last else None,
            **({} if request.direction == T2I2T else {"halve_on_oom": auto_batch, "on_note": hooks.note}),
        )
        finished_info = adapter.info()  # what an adapter learnt while running (e.g. a determinism probe)
        if finished_info != info:
            atomic_write_json(store.root / ADAPTER_INFO_FILE, finished_info)
        del adapter
        _release_memory()
    adapter_info = store.read_adapter_info()
    if adapter_info is None:  # the outputs are all there: score them rather than refuse
        hooks.note(
            f"{store.root / ADAPTER_INFO_FILE}: missing or unreadable; the results will lack the adapter's "
            "info (model ids, revisions)."
        )
        adapter_info = {}

    model = {"name": manifest.name, "adapter_args": dict(request.adapter_args), "info": adapter_info}
    dataset_info = describe_dataset(dataset, len(selected), limit=request.limit, shard=request.shard)
    results = score_run(
        store,
        [s for _, s in selected],
        request.scoring,
        model=model,
        dataset_info=dataset_info,
        protocol=request.protocol,
        seed=request.seed,
        started_at=plan.started_at,
        hooks=hooks,
        extra_provenance={"run_spec": spec.to_json(), "batch_size": request.batch_size},
        direction=request.direction,
        task=task.describe(dataset.fingerprint) if task is not None else None,
        status=None if pending else status,
    )
    if task is not None and task.by_tag and isinstance(dataset, PromptSet):
        from unified_bench.tasks.run import by_tag

        tags = {s.id: s.tags for _, s in selected}  # type: ignore[union-attr]
        results = replace(results, task={**(results.task or {}), "by_tag": by_tag(results, tags)})
        write_results(store.results_path, results)
    return results


def _progress_status(done: int, total: int) -> str:
    if done == total:
        return f"all {total} samples done"
    return f"{done} of {total} samples already done; {total - done} to go"


def _release_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def describe_dataset(
    dataset: Dataset | PromptSet, n_selected: int, *, limit: int | None = None, shard: Shard | None = None
) -> dict[str, Any]:
    """The ``dataset`` section of results.json."""
    info: dict[str, Any] = {
        "name": dataset.name,
        "source": dataset.source,
        "fingerprint": dataset.fingerprint,
        "n_total": len(dataset),
        "n_selected": n_selected,
        "limit": limit,
        "shard": str(shard) if shard else None,
    }
    if dataset.card:
        info["card"] = dict(dataset.card)
    return info


def _previous_results(target: Path, hooks: Hooks) -> Results | None:
    """The results a rerun adds to; an unreadable file is named and scored afresh."""
    if not target.exists():
        return None
    try:
        return read_results(target)
    except UserError as error:
        hooks.note(f"{error} Scoring afresh.")
        return None


def _score(
    items: list[ScoringItem],
    options: ScoringOptions,
    hooks: Hooks,
    *,
    target: Path,
    use_cache: bool = True,
    status: str | None = None,
) -> tuple[dict[str, dict[str, float | None]], dict[str, tuple[str, bool]], dict[str, Any]]:
    """Scores, (fingerprint, higher_is_better) per scorer, and what text scorers truncated.

    Scores already in ``target`` are kept and only the scorers it lacks are computed (see
    ``unified_bench.rescoring``); ``status`` prefixes the note saying so.
    """
    from unified_bench.scorers import DEFAULT_SCORERS, build_scorers
    from unified_bench.scorers.base import TextPairScorer
    from unified_bench.scorers.cache import EmbeddingCache
    from unified_bench.scoring import score_items

    specs = list(options.scorers) if options.scorers else list(DEFAULT_SCORERS)
    hooks.note(f"Loading scorers: {', '.join(s.split('=')[0] for s in specs)} ...")
    scorers = build_scorers(specs, device=options.device, dtype=options.dtype)
    plan = plan_scoring(
        scorers, _previous_results(target, hooks), [i.id for i in items], options.rescore, target
    )
    if status or plan.note:
        hooks.note("; ".join(part for part in (status, plan.note) if part))
    scores: dict[str, dict[str, float | None]] = {
        name: dict(summary.per_sample) for name, summary in plan.kept.items()
    }
    meta = {name: (summary.fingerprint, summary.higher_is_better) for name, summary in plan.kept.items()}
    if plan.compute:
        hooks.stage("scoring", len(plan.compute) * len(items))
        scores.update(
            score_items(
                items,
                plan.compute,
                batch_size=options.batch_size,
                cache=EmbeddingCache(notify=hooks.note) if options.use_cache and use_cache else None,
                on_progress=lambda _name, n: hooks.advance("scoring", n),
            )
        )
        meta.update({s.name: (s.fingerprint(), s.higher_is_better) for s in plan.compute})
    truncation = {
        s.name: cut
        for s in plan.compute
        if isinstance(s, TextPairScorer) and (cut := s.truncation()) is not None
    }
    return scores, meta, truncation


def _image_items(
    ids: list[str], references: list[Sample], reconstructions: list[Path], captions: dict[str, str] | None
) -> list[ScoringItem]:
    """i2t2i: each reference against its reconstruction (images referenced, decoded per batch)."""
    return [
        ScoringItem(
            id=sample_id,
            reference=ref.load_image,
            reference_sha256=ref.image_sha256,
            reconstruction=partial(_decode_file, path),
            caption=(captions or {}).get(sample_id),
            reference_captions=ref.captions,
        )
        for sample_id, ref, path in zip(ids, references, reconstructions, strict=True)
    ]


def _prompt_items(
    store: RunStore, samples: Sequence[PromptSample], captions: dict[str, str]
) -> list[ScoringItem]:
    """t2i2t: the drawn image stands where the reference does; the prompt is the reference text."""
    items = []
    for sample in samples:
        path = store.image_path(sample.id)
        drawn = partial(_decode_file, path)
        sha = sha256_bytes(path.read_bytes())
        items.append(
            ScoringItem(
                id=sample.id,
                reference=drawn,
                reference_sha256=sha,
                reconstruction=drawn,
                reconstruction_sha256=sha,
                caption=captions.get(sample.id),
                reference_captions=(sample.prompt,),
                prompt=sample.prompt,
            )
        )
    return items


def _decode_file(path: Path) -> Any:
    return read_image(path)[0]


def score_run(
    store: RunStore,
    samples: Sequence[Sample] | Sequence[PromptSample],
    options: ScoringOptions,
    *,
    model: dict[str, Any],
    dataset_info: dict[str, Any],
    protocol: str,
    seed: int,
    started_at: str,
    hooks: Hooks | None = None,
    extra_provenance: dict[str, Any] | None = None,
    direction: str = DEFAULT_DIRECTION,
    task: dict[str, Any] | None = None,
    status: str | None = None,
) -> Results:
    """Score a finished run directory and write ``results.json`` + ``samples.csv`` into it.

    Scores already in its ``results.json`` are kept (see ``unified_bench.rescoring``); a
    ``report.html`` there is rebuilt from the new results. ``status`` prefixes the scoring note.
    """
    hooks = hooks or SilentHooks()
    captions = {sid: record.caption for sid, record in store.captions().items()}
    missing = [s.id for s in samples if s.id not in captions or not store.has_image(s.id)]
    if missing:
        raise MissingSamplesError(
            f"{store.root}: {len(missing)} samples lack a caption or image "
            f"(first: {missing[0]}); rerun the same command to finish them."
        )
    ids = [s.id for s in samples]
    prompts = {s.id: s.prompt for s in samples if isinstance(s, PromptSample)}
    if direction == T2I2T:
        # Drawn images are this run's own: they stay out of the shared reference-embedding cache.
        items = _prompt_items(store, samples, captions)  # type: ignore[arg-type]
        scores, meta, truncation = _score(
            items, options, hooks, target=store.results_path, use_cache=False, status=status
        )
    else:
        reconstructions = [store.image_path(s.id) for s in samples]
        items = _image_items(ids, list(samples), reconstructions, captions)  # type: ignore[arg-type]
        scores, meta, truncation = _score(items, options, hooks, target=store.results_path, status=status)
    provenance = collect(
        started_at=started_at,
        device=options.device,
        seeds={"run_seed": seed, "bootstrap_seed": seed},
        extra={
            **(extra_provenance or {}),
            # every scorer run, even one that found nothing to score here (a shard without quoted text)
            "scorer_fingerprints": {name: fingerprint for name, (fingerprint, _) in meta.items()},
            **({"text_truncation": truncation} if truncation else {}),
        },
    )
    results = build_results(
        ids=ids,
        scores=scores,
        scorer_meta=meta,
        dataset=dataset_info,
        protocol=protocol,
        model=model,
        captions={i: captions[i] for i in ids},
        prompt_usage=store.prompt_usage(),
        provenance=provenance,
        bootstrap_seed=seed,
        n_resamples=options.n_resamples,
        direction=direction,
        prompts=prompts or None,
        task=task,
    )
    write_results(store.results_path, results)
    write_samples_table(store.root / SAMPLES_TABLE, results)
    _refresh_report(store.root, hooks)
    return results


def _refresh_report(folder: Path, hooks: Hooks) -> None:
    """Rebuild a ``report.html`` an earlier ``report`` left, so it never shows replaced results."""
    if not (folder / REPORT_FILE).is_file():
        return
    from unified_bench.report import build_report

    try:
        build_report(folder)
    except UserError as error:  # the references may live elsewhere: say so, keep the results
        hooks.note(f"{folder / REPORT_FILE}: not rebuilt ({error}); run `unified-bench report {folder}`.")
        return
    hooks.note(f"{folder / REPORT_FILE}: rebuilt from the new results.")


def score_folder(
    generated: Path,
    references: Path,
    options: ScoringOptions,
    *,
    output: Path | None = None,
    allow_missing: bool = False,
    match: str = "unique",
    seed: int = 0,
    hooks: Hooks | None = None,
) -> Results:
    """Score a folder of reconstructions against a folder of references (``unified-bench score``).

    Files are paired as ``Score_i2i.py`` pairs them (see ``unified_bench.matching``); the pairs are
    listed in the results' provenance. Nothing is written per sample, so any file name is a valid id.

    Raises:
        RunFolderBusy: another process is writing results into the same folder.
    """
    from unified_bench.scorers import DEFAULT_SCORERS

    target = output or generated / RESULTS_FILE
    check_rescore_names(options.rescore, _scorer_names(options.scorers or DEFAULT_SCORERS))
    preflight(options.scorers)  # before the lock: a refused command creates no folder
    with exclusive_writer(target.parent, create=output is not None):
        return _score_folder_locked(
            generated,
            references,
            options,
            target=target,
            allow_missing=allow_missing,
            match=match,
            seed=seed,
            hooks=hooks,
        )


def _score_folder_locked(
    generated: Path,
    references: Path,
    options: ScoringOptions,
    *,
    target: Path,
    allow_missing: bool,
    match: str,
    seed: int,
    hooks: Hooks | None,
) -> Results:
    from unified_bench.datasets import make_dataset
    from unified_bench.datasets.folder import skipped_entries, skipped_note
    from unified_bench.matching import match_reconstructions

    hooks = hooks or SilentHooks()
    started_at = utc_now()
    matching = match_reconstructions(generated, references, mode=match)
    note = skipped_note(references, skipped_entries(references))
    if note:
        hooks.note(note)
    # References are hashed here and decoded per batch while scoring, like reconstructions.
    samples = {}
    for relative in matching.references:
        path = references / relative
        samples[relative] = Sample(relative.stem, FileLocation(path), inspect_image_file(path))
    dataset: Dataset = make_dataset(
        references.resolve().name, list(samples.values()), str(references.resolve())
    )
    refs = [replace(samples[pair.reference], id=pair.id) for pair in matching.pairs]
    reconstructions = [generated / pair.reconstruction for pair in matching.pairs]
    ids = [pair.id for pair in matching.pairs]
    missing = [ref.stem for ref in matching.missing]
    if not ids:
        raise MissingSamplesError(
            f"{generated}: no reconstruction matches any of the {len(missing)} references "
            f"in {references} (same name, same stem, or recon_<stem>)."
        )
    scores, meta, _ = _score(_image_items(ids, refs, reconstructions, None), options, hooks, target=target)
    dataset_info = describe_dataset(dataset, len(dataset))
    provenance = collect(
        started_at=started_at,
        device=options.device,
        seeds={"bootstrap_seed": seed},
        extra={
            "generated_dir": str(generated),
            "reference_dir": str(references),
            "match": match,
            "matched": {pair.id: pair.reconstruction.as_posix() for pair in matching.pairs},
            "pairs": [
                {
                    "id": pair.id,
                    "reference": pair.reference.as_posix(),
                    "reconstruction": pair.reconstruction.as_posix(),
                }
                for pair in matching.pairs
            ],
            "unmatched_reconstructions": [path.as_posix() for path in matching.unmatched],
        },
    )
    results = build_results(
        ids=ids,
        scores=scores,
        scorer_meta=meta,
        dataset=dataset_info,
        protocol=None,
        model=None,
        missing=missing,
        provenance=provenance,
        bootstrap_seed=seed,
        n_resamples=options.n_resamples,
    )
    write_results(target, results)
    if missing and not allow_missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise MissingSamplesError(
            f"{len(missing)} of {len(dataset)} references have no reconstruction in "
            f"{generated}: {shown} (results written to {target}, missing ones counted); "
            "pass --allow-missing to accept."
        )
    return results
