"""Running a task: the task fills in the request; a group task runs each member into a subfolder.

The user's flags may pick weights for a task's scorers (``--scorer NAME=PATH``), the model and its
settings, the output, ``--limit``/``--shard``/``--seed``; what the task fixes (direction, dataset,
scorer names, size, caption instruction) they may not change, or the task would not mean its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unified_bench.errors import InputError
from unified_bench.io import atomic_write_json
from unified_bench.tasks import Task, find_task, load_task_file

if TYPE_CHECKING:
    from unified_bench.evaluate import Hooks, RunRequest
    from unified_bench.results import Results

SUMMARY_FILE = "summary.json"
CAPTION_PROMPT_ARG = "caption_prompt"  # the adapters' setting for the caption instruction


def task_scorers(task: Task, user_specs: tuple[str, ...] | None) -> tuple[str, ...]:
    """The task's scorer names, each replaced by the user's ``NAME=MODEL`` spec for that name."""
    from unified_bench.scorers.registry import default_scorers, parse_scorer_spec

    names = task.scorers or default_scorers(task.direction)
    chosen = {parse_scorer_spec(spec)[0]: spec for spec in user_specs or ()}
    extra = sorted(set(chosen) - set(names))
    if extra:
        raise InputError(
            f"--scorer {', '.join(extra)}: not among task {task.name}'s scorers ({', '.join(names)}); "
            "with --task, --scorer only picks the weights of the task's own scorers."
        )
    return tuple(chosen.get(name, name) for name in names)


def apply_task(request: RunRequest, task: Task) -> RunRequest:
    """``request`` as ``task`` defines it (see the module docstring)."""
    from unified_bench.datasets.base import DatasetOptions

    if request.size is not None and task.size is not None and request.size != task.size:
        raise InputError(f"--size: task {task.name} draws at {task.size[0]}x{task.size[1]}; drop --size.")
    args = dict(request.adapter_args)
    if task.caption_prompt is not None:
        if CAPTION_PROMPT_ARG in args and args[CAPTION_PROMPT_ARG] != task.caption_prompt:
            raise InputError(f"--adapter-arg caption_prompt: task {task.name} sets the caption instruction.")
        args[CAPTION_PROMPT_ARG] = task.caption_prompt
    columns = task.columns
    options = DatasetOptions(
        image_column=columns.get("image"),
        caption_column=columns.get("caption"),
        prompt_column=columns.get("prompt"),
    )
    if task.resolved["dataset"].get("split") and task.dataset.startswith("hf:") and "@" not in task.dataset:
        dataset = f"{task.dataset}@{task.resolved['dataset']['split']}"
    else:
        dataset = task.dataset
    return replace(
        request,
        dataset=dataset,
        direction=task.direction,
        size=task.size or request.size,
        adapter_args=args,
        dataset_options=options,
        scoring=replace(request.scoring, scorers=task_scorers(task, request.scoring.scorers)),
        task=task,
    )


def by_tag(results: Results, tags: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """Per tag and scorer: the mean and count of the samples carrying the tag (``aggregation.by: tag``)."""
    table: dict[str, Any] = {}
    for tag in sorted({t for ts in tags.values() for t in ts}):
        ids = [i for i in results.samples["ids"] if tag in tags.get(i, ())]
        row = {}
        for name, summary in results.scorers.items():
            values = [summary.per_sample[i] for i in ids if i in summary.per_sample]
            if values:
                row[name] = {"mean": sum(values) / len(values), "n": len(values)}
        table[tag] = row
    return table


def execute_group(request: RunRequest, task: Task, hooks: Hooks | None = None) -> dict[str, Any]:
    """Run every member of a group task into ``OUTPUT/MEMBER`` and write ``OUTPUT/summary.json``."""
    from unified_bench.evaluate import execute_run

    members = [_member(name, Path(task.source).parent) for name in task.group]
    nested = [m.name for m in members if m.group]
    if nested:
        raise InputError(f"task {task.name}: member {nested[0]} is itself a group; groups do not nest.")
    user_specs = request.scoring.scorers
    parts = []
    for member in members:
        # each member takes the user's weights for the scorers it has, and ignores the others
        from unified_bench.scorers.registry import default_scorers, parse_scorer_spec

        names = set(member.scorers or default_scorers(member.direction))
        specs = tuple(s for s in user_specs or () if parse_scorer_spec(s)[0] in names) or None
        sub = replace(
            request,
            output=request.output / member.name,
            scoring=replace(request.scoring, scorers=specs),
            task=None,
        )
        results = execute_run(apply_task(sub, member), hooks)
        parts.append((member, results))
    summary = group_summary(task, parts)
    atomic_write_json(request.output / SUMMARY_FILE, summary)
    return summary


def _member(name: str, folder: Path) -> Task:
    """A group member: ``NAME.yaml`` beside the group's file, else the installed task ``NAME``."""
    beside = folder / f"{name}.yaml"
    return load_task_file(beside) if beside.is_file() else find_task(name)


def group_summary(task: Task, parts: list[tuple[Task, Results]]) -> dict[str, Any]:
    members = []
    for member, results in parts:
        overall = results.overall
        members.append(
            {
                "task": member.name,
                "version": member.version,
                "direction": member.direction,
                "dataset": results.dataset["name"],
                "n": len(results.samples["ids"]),
                "folder": member.name,
                "overall": None
                if overall is None
                else {
                    "mean": overall.mean,
                    "ci_low": overall.ci_low,
                    "ci_high": overall.ci_high,
                    "definition": overall.definition,
                },
                "fingerprint": (results.task or {}).get("fingerprint"),
            }
        )
    return {
        "kind": "unified-bench/group-summary",
        "task": task.name,
        "version": task.version,
        "members": members,
    }


def is_group_folder(folder: Path) -> bool:
    return (folder / SUMMARY_FILE).is_file()
