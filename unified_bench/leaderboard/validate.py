"""``unified-bench leaderboard validate``: every check a submission must pass, one line per problem.

A submission is accepted only if

* it follows ``leaderboard/schema/submission.schema.json`` and its ``results`` the results schema;
* its file is named after its ``name`` and no other submission has that name;
* it was run on the official images (dataset fingerprint in the registry), all of them, with a
  protocol recorded, and scored by the paper's four scorers with official weights (each scorer
  fingerprint in the registry; scorers the leaderboard does not list are refused);
* every aggregate follows from the per-sample scores: n, mean, std, min, max and the bootstrap
  interval (recomputed with the recorded seed and resamples) per scorer, and the per-sample
  ``overall``, its mean and interval. A claimed number that does not follow is rejected.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from unified_bench.leaderboard.layout import LeaderboardDir
from unified_bench.leaderboard.registry import OfficialRegistry
from unified_bench.results import PAPER_SCORERS, OverallSummary, Results, ScoreSummary, results_schema
from unified_bench.stats import summarize

SUBMISSION_KIND = "unified-bench/submission"
MAX_SCHEMA_PROBLEMS = 10
_ABS_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Problem:
    """Why a file is rejected: ``where`` (the file) and one line saying what to fix."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Submission:
    """A submission file that passed every check."""

    path: Path
    name: str
    metadata: dict[str, Any]
    results: Results


@cache
def _read_schema(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def submission_schema(leaderboard: LeaderboardDir) -> dict[str, Any]:
    """The JSON Schema in ``leaderboard/schema/submission.schema.json``."""
    return _read_schema(leaderboard.submission_schema.resolve())


def _schema_problems(obj: Any, schema: dict[str, Any], prefix: str) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    lines = []
    for error in errors[:MAX_SCHEMA_PROBLEMS]:
        where = "/".join(str(p) for p in error.absolute_path)
        location = f"{prefix}/{where}" if where else prefix or "(top level)"
        lines.append(f"schema: {location.strip('/') or '(top level)'}: {error.message}")
    if len(errors) > MAX_SCHEMA_PROBLEMS:
        lines.append(f"schema: {len(errors) - MAX_SCHEMA_PROBLEMS} more schema errors not shown")
    return lines


def results_from_json(obj: dict[str, Any]) -> Results:
    """A ``Results`` from an already schema-valid results object."""
    scorers = {name: ScoreSummary(**value) for name, value in obj["scorers"].items()}
    overall = OverallSummary(**obj["overall"]) if obj.get("overall") else None
    return Results(**{**obj, "scorers": scorers, "overall": overall})


def _close(claimed: float, actual: float) -> bool:
    return math.isclose(claimed, actual, rel_tol=1e-9, abs_tol=_ABS_TOLERANCE)


def _aggregate_problems(label: str, claimed: Any, values: list[float], results: Results) -> list[str]:
    """Compare the claimed aggregates of ``label`` with those recomputed from ``values``."""
    boot = results.bootstrap
    actual = summarize(
        values, seed=boot["seed"], n_resamples=boot["n_resamples"], confidence=boot["confidence"]
    )
    problems = []
    if claimed.n != actual.n:
        problems.append(f"{label}: n is {claimed.n} but there are {actual.n} per-sample scores")
    fields = ("mean", "ci_low", "ci_high") + (("std", "min", "max") if hasattr(claimed, "std") else ())
    for name in fields:
        claimed_value, actual_value = getattr(claimed, name), getattr(actual, name)
        if not _close(claimed_value, actual_value):
            problems.append(
                f"{label}: claimed {name} {claimed_value!r} does not follow from the per-sample scores "
                f"(recomputed {actual_value!r})"
            )
    return problems


def recomputation_problems(results: Results) -> list[str]:
    """Every aggregate that does not follow from the per-sample scores (empty when all do)."""
    problems: list[str] = []
    ids = results.samples["ids"]
    known = set(ids)
    for name, summary in results.scorers.items():
        strays = [i for i in summary.per_sample if i not in known]
        if strays:
            problems.append(
                f"scorer {name}: per-sample scores for ids not in samples.ids (first: {strays[0]})"
            )
        values = [summary.per_sample[i] for i in ids if i in summary.per_sample]
        if values:
            problems += _aggregate_problems(f"scorer {name}", summary, values, results)
    overall = results.overall
    if overall is not None:
        components = [c for c in PAPER_SCORERS if c in results.scorers]
        if overall.components != components:
            problems.append(
                f"overall: components {overall.components} but the paper scorers present are {components}"
            )
        expected = {
            i: sum(results.scorers[c].per_sample[i] for c in components) / len(components)
            for i in ids
            if components and all(i in results.scorers[c].per_sample for c in components)
        }
        if set(overall.per_sample) != set(expected):
            problems.append("overall: per-sample ids differ from the samples all paper scorers scored")
        else:
            wrong = [i for i in expected if not _close(overall.per_sample[i], expected[i])]
            if wrong:
                first = wrong[0]
                problems.append(
                    f"overall: per-sample value of {first} ({overall.per_sample[first]!r}) is not the mean "
                    f"of its paper scorers ({expected[first]!r}); {len(wrong)} such samples"
                )
        if expected:
            problems += _aggregate_problems(
                "overall", overall, [expected[i] for i in ids if i in expected], results
            )
    if results.repeats:
        problems += _repeat_problems(results)
    return problems


def _repeat_problems(results: Results) -> list[str]:
    repeats = results.repeats or {}
    k = repeats["k"]
    problems = []
    if len(repeats["seeds"]) != k or len(repeats["runs"]) != k:
        problems.append(
            f"repeats: k is {k} but {len(repeats['seeds'])} seeds and {len(repeats['runs'])} runs"
        )
    spreads = dict(repeats["scorers"])
    if repeats.get("overall"):
        spreads["overall"] = repeats["overall"]
    for name, spread in spreads.items():
        means = spread["means"]
        if len(means) != k:
            problems.append(f"repeats: {name} has {len(means)} seed means, expected {k}")
            continue
        actual = float(np.std(means, ddof=1))
        if not _close(spread["std"], actual):
            problems.append(
                f"repeats: {name} claimed spread {spread['std']!r} != std of its seed means {actual!r}"
            )
    return problems


def _official_problems(results: Results, registry: OfficialRegistry) -> list[str]:
    problems = []
    fingerprint = results.dataset.get("fingerprint")
    if fingerprint not in registry.dataset_fingerprints:
        listed = ", ".join(f[:19] + "…" for f in registry.dataset_fingerprints) or "none recorded yet"
        problems.append(
            f"dataset fingerprint {str(fingerprint)[:19]}… is not the official {registry.dataset_name} one "
            f"({listed}); run on the official images (--dataset {registry.dataset_name})"
        )
    n_ids = len(results.samples["ids"])
    if results.samples["missing"] or results.dataset.get("limit") is not None or results.dataset.get("shard"):
        problems.append(
            "the run does not cover the whole dataset (missing samples, --limit or an unmerged shard)"
        )
    elif registry.n_samples is not None and n_ids != registry.n_samples:
        problems.append(f"{n_ids} samples scored, the official dataset has {registry.n_samples}")
    if results.protocol is None:
        problems.append(
            "missing protocol: results.protocol is null (a scored folder); submit a run made by "
            "`unified-bench run`, which records text or native"
        )
    for name, summary in results.scorers.items():
        official = registry.scorers.get(name)
        if official is None:
            problems.append(
                f"scorer {name} is not on the leaderboard (official: {', '.join(registry.scorers)}); "
                "resubmit with `unified-bench submit`, which keeps only official scorers"
            )
        elif summary.fingerprint not in official.fingerprints:
            problems.append(
                f"unknown scorer weights for {name}: {summary.fingerprint} is not an official fingerprint; "
                f"score with the official weights ({official.weights or 'see the registry'})"
            )
        elif summary.higher_is_better != official.higher_is_better:
            problems.append(f"scorer {name}: higher_is_better is {summary.higher_is_better}, officially not")
    absent = [name for name in PAPER_SCORERS if name not in results.scorers]
    if absent:
        problems.append(f"paper scorers missing: {', '.join(absent)}; the overall score needs all four")
    return problems


def validate_submission(
    obj: Any, *, where: str, registry: OfficialRegistry, schema: dict[str, Any], file_stem: str | None = None
) -> tuple[list[Problem], Submission | None]:
    """All problems of one submission object (none: it is accepted and returned as a ``Submission``)."""
    lines = _schema_problems(obj, schema, "")
    if not lines:
        lines = _schema_problems(obj["results"], results_schema(), "results")
    if lines:
        return [Problem(where, line) for line in lines], None
    name = obj["name"]
    if file_stem is not None and file_stem != name:
        lines.append(f"file name {file_stem}.json does not match its name {name!r}; rename it to {name}.json")
    results = results_from_json(obj["results"])
    lines += _official_problems(results, registry)
    lines += recomputation_problems(results)
    if lines:
        return [Problem(where, line) for line in lines], None
    return [], Submission(path=Path(where), name=name, metadata=obj["metadata"], results=results)


def _read_json(path: Path) -> tuple[Any, Problem | None]:
    try:
        return json.loads(path.read_text("utf-8")), None
    except FileNotFoundError:
        return None, Problem(str(path), "no such file")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return None, Problem(str(path), f"not valid JSON ({error})")


def _expand(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.json")) if path.is_dir() else [path]
    return files


def validate_paths(
    paths: Sequence[Path] | None = None,
    *,
    leaderboard: LeaderboardDir | None = None,
    registry: OfficialRegistry | None = None,
) -> tuple[list[Problem], list[Submission]]:
    """Validate submission files (default: every file in ``leaderboard/submissions``).

    Names must be unique across the files given and the submissions already in the leaderboard.

    Returns:
        (problems, accepted submissions); the files are valid when ``problems`` is empty.
    """
    leaderboard = (leaderboard or LeaderboardDir()).check()
    registry = registry or OfficialRegistry.read(leaderboard.registry)
    schema = submission_schema(leaderboard)
    files = _expand(paths) if paths else leaderboard.submission_files()
    problems: list[Problem] = []
    accepted: list[Submission] = []
    names: dict[str, Path] = {}
    for path in files:
        obj, problem = _read_json(path)
        if problem is not None:
            problems.append(problem)
            continue
        found, submission = validate_submission(
            obj, where=str(path), registry=registry, schema=schema, file_stem=path.stem
        )
        problems += found
        name = obj.get("name") if isinstance(obj, dict) else None
        if isinstance(name, str):
            key = name.lower()
            if key in names:
                problems.append(Problem(str(path), f"duplicate name {name!r}: also used by {names[key]}"))
                submission = None
            names[key] = path
        if submission is not None:
            accepted.append(submission)
    given = {p.resolve() for p in files}
    for existing in leaderboard.submission_files():
        if existing.resolve() in given:
            continue
        obj, problem = _read_json(existing)
        name = obj.get("name") if problem is None and isinstance(obj, dict) else None
        if isinstance(name, str) and name.lower() in names:
            clash = names[name.lower()]
            problems.append(Problem(str(clash), f"duplicate name {name!r}: {existing} already uses it"))
            accepted = [s for s in accepted if s.path != clash]
    return problems, accepted
