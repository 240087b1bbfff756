"""The Python API: what the CLI's ``run``, ``score``, ``compare`` and ``report`` do, as functions.

Each returns the objects the CLI writes and reads (``Results``, ``CompareReport``, a report path),
so a notebook or a training loop gets the same numbers as the command line. Use it as
``import unified_bench`` (``unified_bench.run(...)``); the heavy libraries load on the first call.
``compare_runs`` and ``write_report`` are not called ``compare`` and ``report``: those are the
modules ``unified_bench.compare`` and ``unified_bench.report``, and importing either would replace
a function of that name on the package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unified_bench.errors import UserError

if TYPE_CHECKING:
    from unified_bench.compare import CompareReport
    from unified_bench.evaluate import Hooks
    from unified_bench.results import Results
    from unified_bench.tasks import Task


def check_names(
    *,
    model: str | None = None,
    dataset: str | None = None,
    scorers: Sequence[str] | None = None,
    scorer_set: str | None = None,
    direction: str | None = None,
    task: bool = False,
) -> None:
    """Refuse a misspelt adapter, dataset, scorer or scorer set in one line, before torch or any
    model library is imported (``run`` and ``score`` call it first; so does the CLI). The dataset is
    checked as an image dataset (i2t2i, no ``task``); prompt sets are checked when they load."""
    from unified_bench.scorers import parse_scorer_spec
    from unified_bench.scorers.sets import check_scorer_set

    if model is not None:
        from unified_bench.registry import default_registry

        default_registry().manifest(model)
    if dataset is not None and direction in (None, "i2t2i") and not task:
        from unified_bench.datasets import check_dataset_spec

        check_dataset_spec(dataset)
    check_scorer_set(scorer_set)
    for spec in scorers or ():
        parse_scorer_spec(spec)


def run(
    model: str,
    dataset: str | None = None,
    output: str | Path | None = None,
    *,
    scorers: Sequence[str] | None = None,
    scorer_set: str | None = None,
    seed: int = 0,
    batch_size: int | str = 4,
    limit: int | None = None,
    shard: str | None = None,
    adapter_args: Mapping[str, str] | None = None,
    size: tuple[int, int] | None = None,
    protocol: str = "text",
    repeats: int = 1,
    device: str | None = None,
    dtype: str | None = None,
    score_batch_size: int = 16,
    score_dtype: str | None = None,
    rescore: Sequence[str] = (),
    overwrite: bool = False,
    image_column: str | None = None,
    caption_column: str | None = None,
    streaming: bool = False,
    direction: str | None = None,
    prompt_column: str | None = None,
    task: str | None = None,
    task_file: str | Path | None = None,
    merge: bool = True,
    verbose: bool = False,
    hooks: Hooks | None = None,
) -> Results | dict[str, Any]:
    """Caption, regenerate and score ``dataset`` with ``model`` (``unified-bench run``); resumes.

    Args:
        model: adapter name (``unified-bench adapters list``).
        dataset: ``unibench`` (the default; t2i2t: ``unified-prompts``), ``samples``, a folder of
            images, a JSONL manifest or
            ``hf:OWNER/NAME[:CONFIG][@SPLIT]`` (with ``image_column``, ``caption_column``, ``streaming``).
        output: the run folder (default ``runs/MODEL``); ``results.json`` is written there.
        scorers: ``NAME`` or ``NAME=MODEL`` specs (default: every scorer).
        scorer_set: ``tiny`` (offline random-weight scorers, as the demo), ``paper`` or ``all``;
            ``scorers`` are added to it (``unified_bench.scorers.sets``).
        shard: ``"I/N"``: this process's share of the dataset (written under ``output``).
        batch_size: samples per adapter call, or ``"auto"`` (``--batch-size auto``: the largest that
            fits, from 32 on a GPU or 4 on CPU, halved on out-of-memory).
        adapter_args: the adapter's settings, as ``--adapter-arg KEY=VALUE`` would give them.
        repeats: ``K`` seeds, combined with the across-seed spread.
        direction: ``i2t2i`` (image -> caption -> image) or ``t2i2t`` (prompt -> image -> caption,
            ``dataset`` a prompt set: ``unified-prompts``, a JSONL of ``{"id", "prompt"}``, a folder of
            ``.txt``, or ``hf:`` with ``prompt_column``). Default: i2t2i.
        task: a task name (``unified-bench tasks list``) or ``task_file`` a task YAML: the task sets
            the direction, dataset, scorers, size and caption instruction; ``scorers`` then only picks
            weights for the task's scorer names. A group task returns its summary (a dict).
        merge: under torchrun / accelerate launch / srun (no ``shard`` given), rank 0 waits for every
            shard and returns them merged into ``output`` (``unified_bench.launch``); ``False``: each
            rank returns its own shard.
        dtype: the model's dtype (``--dtype``); the scorers keep theirs.
        score_dtype: the scorers' dtype (``--score-dtype``; default: each scorer's official one).
        rescore: scorer names (or ``"all"``) whose scores in an earlier results.json are replaced;
            the others are kept, and a scorer whose fingerprint changed is refused (``--rescore``).
        verbose: let third-party progress bars, logging and warnings through (default: silenced
            for the call and restored after it, as the CLI does without ``--verbose``).
        hooks: progress callbacks (``stage``, ``advance``, ``note``); default: silent.

    Raises:
        UserError: anything the user can fix (unknown names, missing weights, bad settings), found
            before any model loads where possible.

    Example:
        >>> import unified_bench
        >>> results = unified_bench.run(  # doctest: +SKIP
        ...     "uae-tiny", "samples", "runs/tiny", limit=2, scorers=["ssim", "psnr"]
        ... )
        >>> sorted(results.scorers), results.samples["ids"]  # doctest: +SKIP
        (['psnr', 'ssim'], ['astronaut', 'camera'])
    """
    uses_task = task is not None or task_file is not None
    check_names(
        model=model,
        dataset=dataset,
        scorers=scorers,
        scorer_set=scorer_set,
        direction=direction,
        task=uses_task,
    )
    from unified_bench.datasets.base import DatasetOptions
    from unified_bench.directions import DEFAULT_DIRECTION, default_dataset
    from unified_bench.evaluate import RunRequest, ScoringOptions, execute_request
    from unified_bench.scorers.sets import resolve_scorers
    from unified_bench.sharding import parse_shard, shard_from_environment

    chosen = _chosen_task(task, task_file, dataset=dataset, direction=direction, prompt_column=prompt_column)
    direction = direction or DEFAULT_DIRECTION
    # The one request builder: ``unified-bench run`` calls this function too.
    launched = shard_from_environment() if not shard else None
    request = RunRequest(
        model=model,
        dataset=dataset or default_dataset(direction),
        output=Path(output) if output is not None else Path("runs") / model,
        seed=seed,
        batch_size=batch_size,
        limit=limit,
        shard=parse_shard(shard) if shard else launched,
        adapter_args=dict(adapter_args or {}),
        device=device,
        dtype=dtype,
        size=size,
        protocol=protocol,
        overwrite=overwrite,
        scoring=ScoringOptions(
            scorers=resolve_scorers(scorers, scorer_set, direction),
            batch_size=score_batch_size,
            device=device,
            dtype=score_dtype,  # the model's dtype never changes the scorers' (nor their fingerprints)
            rescore=tuple(rescore),
        ),
        dataset_options=DatasetOptions(image_column, caption_column, streaming, prompt_column),
        direction=direction,
    )
    merge_shards = merge and launched is not None
    from unified_bench.quiet import third_party_silenced

    with third_party_silenced(not verbose):
        if chosen is None:
            return execute_request(request, repeats, hooks, merge_shards=merge_shards)
        from unified_bench.tasks.run import apply_task, execute_group

        if chosen.group:
            if repeats != 1:
                raise UserError(f"--repeats with group task {chosen.name}: run its member tasks one by one.")
            return execute_group(request, chosen, hooks)
        return execute_request(apply_task(request, chosen), repeats, hooks, merge_shards=merge_shards)


def _chosen_task(
    task: str | None,
    task_file: str | Path | None,
    *,
    dataset: str | None,
    direction: str | None,
    prompt_column: str | None,
) -> Task | None:
    """The task named by ``task`` or ``task_file``; refuses flags the task itself decides."""
    if task is None and task_file is None:
        return None
    if task is not None and task_file is not None:
        raise UserError("--task and --task-file: give one of them.")
    flag = "--task" if task is not None else "--task-file"
    for given, name in (
        (dataset, "--dataset"),
        (direction, "--direction"),
        (prompt_column, "--prompt-column"),
    ):
        if given is not None:
            raise UserError(f"{name} with {flag}: the task sets it; drop {name} or run without a task.")
    from unified_bench.tasks import find_task, load_task_file

    return find_task(task) if task is not None else load_task_file(task_file)  # type: ignore[arg-type]


def score(
    generated: str | Path,
    references: str | Path,
    *,
    scorers: Sequence[str] | None = None,
    scorer_set: str | None = None,
    rescore: Sequence[str] = (),
    output: str | Path | None = None,
    allow_missing: bool = False,
    match: str = "unique",
    seed: int = 0,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int = 16,
    verbose: bool = False,
    hooks: Hooks | None = None,
) -> Results:
    """Score a folder of reconstructions against a folder of references (``unified-bench score``).

    Files are matched by name (same name, same stem, or ``recon_<stem>``); ``results.json`` goes to
    ``output`` (default ``GENERATED/results.json``).

    Raises:
        MissingSamplesError: some references have no reconstruction (unless ``allow_missing``).

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> import unified_bench
        >>> references, generated = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
        >>> for name, colour in (("a", "red"), ("b", "blue")):
        ...     for folder in (references, generated):
        ...         Image.new("RGB", (32, 32), colour).save(folder / f"{name}.png")
        >>> results = unified_bench.score(generated, references, scorers=["psnr"])
        >>> results.scorers["psnr"].mean  # identical images: PSNR is capped at 100 dB
        100.0
    """
    check_names(scorers=scorers, scorer_set=scorer_set)
    from unified_bench.evaluate import ScoringOptions, score_folder
    from unified_bench.scorers.sets import resolve_scorers

    options = ScoringOptions(
        scorers=resolve_scorers(scorers, scorer_set),
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        rescore=tuple(rescore),
    )
    from unified_bench.quiet import third_party_silenced

    with third_party_silenced(not verbose):
        return score_folder(
            Path(generated),
            Path(references),
            options,
            output=Path(output) if output is not None else None,
            allow_missing=allow_missing,
            match=match,
            seed=seed,
            hooks=hooks,
        )


def compare_runs(
    baseline: str | Path | Results,
    *candidates: str | Path | Results,
    gate: Sequence[str] = ("overall",),
    scorers: Sequence[str] | None = None,
    alpha: float = 0.05,
    min_effect: float = 0.005,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> CompareReport:
    """Compare candidates with a baseline sample by sample (``unified-bench compare``).

    Each argument is a ``Results`` (as ``run``/``score`` return), a ``results.json`` or a run folder.
    ``gate`` names the scorers that decide (``--gate``; default ``overall``, the paper's mean);
    ``report.regressed`` is what makes the CLI exit 1.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> import unified_bench
        >>> refs, same, gens = (pathlib.Path(tempfile.mkdtemp()) for _ in range(3))
        >>> for i in range(6):
        ...     for folder in (refs, same):
        ...         Image.new("RGB", (32, 32), (40 * i, 90, 200)).save(folder / f"{i}.png")
        ...     Image.new("RGB", (32, 32), (40 * i + 30, 90, 200)).save(gens / f"{i}.png")
        >>> perfect = unified_bench.score(same, refs, scorers=["psnr"])
        >>> shifted = unified_bench.score(gens, refs, scorers=["psnr"])
        >>> report = unified_bench.compare_runs(perfect, shifted, gate=["psnr"], n_resamples=1000)
        >>> report.regressed, report.comparisons[0].rows[0].verdict
        (True, 'worse')
    """
    from unified_bench.compare import CompareReport, CompareSettings, compare_results
    from unified_bench.errors import UserError
    from unified_bench.results import Results, read_results

    if not candidates:
        raise UserError("compare: give a baseline and at least one candidate.")
    settings = CompareSettings(
        alpha=alpha, min_effect=min_effect, n_resamples=n_resamples, seed=seed, gate=tuple(gate)
    )

    def loaded(item: str | Path | Results) -> tuple[Results, str]:
        if isinstance(item, Results):
            return item, (item.model or {}).get("name") or "results"
        return read_results(item), str(item)

    base, base_label = loaded(baseline)
    comparisons = []
    for candidate in candidates:
        results, label = loaded(candidate)
        comparisons.append(
            compare_results(base, results, scorers=scorers, settings=settings, labels=(base_label, label))
        )
    return CompareReport(settings=settings, comparisons=comparisons)


def write_report(
    run_dir: str | Path, output: str | Path | None = None, *, dataset: str | None = None
) -> Path:
    """Write the run's self-contained HTML report (``unified-bench report``); returns its path."""
    from unified_bench.report import build_report

    return build_report(run_dir, output, dataset=dataset)
