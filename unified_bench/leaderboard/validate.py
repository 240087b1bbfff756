"""``unified-bench leaderboard validate``: every check a submission must pass, one line per problem.

A submission is accepted only if

* it follows ``leaderboard/schema/submission.schema.json`` and its ``results`` the results schema;
  its dates and versions are well-formed;
* its file is named after its ``name``, no other submission has that name, and no other
  submission has the same per-sample scores (the same results under a second name);
* its results follow the benchmark's rules (``unified_bench.leaderboard.rules``): official images,
  exactly the official ids, the official scorers and weights on every id, values in range,
  official bootstrap settings, every aggregate recomputed from the per-sample scores, and a
  ``repeats`` claim backed by its per-seed results;
* a verification record (``verified/NAME.json``, written by ``leaderboard verify``), if any, still
  matches the submission file and its outputs archive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from unified_bench.images import sha256_bytes
from unified_bench.io import DuplicateKeyError, loads_strict
from unified_bench.leaderboard.layout import LeaderboardDir
from unified_bench.leaderboard.outputs import part_prefixes
from unified_bench.leaderboard.plausibility import caption_suspicions
from unified_bench.leaderboard.registry import OfficialRegistry
from unified_bench.leaderboard.rules import matching_vector, repeat_problems, results_problems
from unified_bench.results import OverallSummary, Results, ScoreSummary, results_schema

SUBMISSION_KIND = "unified-bench/submission"
VERIFICATION_KIND = "unified-bench/verification"
VERIFICATION_SCHEMA_VERSION = 2
VERIFICATION_TOLERANCE = 1e-4  # re-scored and submitted per-sample scores agree within this
_RECORD_FIELDS = (
    "name",
    "submission_sha256",
    "outputs_sha256",
    "dataset_fingerprint",
    "scorers",
    "compared",
    "rescored",
    "rescored_sha256",
    "verified_at",
    "unified_bench_version",
)
MAX_SCHEMA_PROBLEMS = 10
# PEP 440 release versions as unified-bench writes them (1.2.3, 1.2.3rc1, 1.2.3.dev4+gabc).
_VERSION = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[A-Za-z0-9]+(\.[A-Za-z0-9]+)*)?$")
_CLOCK_SKEW = timedelta(days=1)


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
    seed_results: tuple[Results, ...] = ()
    outputs: dict[str, Any] | None = None
    file_sha256: str = ""
    verification: dict[str, Any] | None = None  # a matching verified/NAME.json
    suspicions: tuple[str, ...] = ()  # why the captions look made up (``plausibility``): shown on the site

    @property
    def verified(self) -> bool:
        return self.verification is not None

    def parts(self) -> list[tuple[str, Results]]:
        """(archive prefix, results) of each run the outputs hold: one, or each seed of a repeats run."""
        runs = list(self.seed_results) if self.results.repeats else [self.results]
        return list(zip(part_prefixes(self.results), runs, strict=True))


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


# -- dates and versions --------------------------------------------------------------------------
def parse_moment(value: Any) -> datetime | None:
    """An ISO 8601 date-time with a time zone, else ``None``."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def finished_at(results: Results) -> datetime | None:
    return parse_moment(results.provenance.get("finished_at"))


def _date_problem(label: str, value: Any, *, now: datetime) -> str | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return f"{label} {value!r} is not an ISO 8601 date-time (e.g. 2026-01-31T12:00:00+00:00)"
    if moment.tzinfo is None:
        return f"{label} {value!r} has no time zone (e.g. +00:00)"
    if moment > now + _CLOCK_SKEW:
        return f"{label} {value!r} is in the future"
    return None


def _version_problem(label: str, value: Any) -> str | None:
    if not isinstance(value, str) or not _VERSION.match(value):
        return f"{label} {value!r} is not a version number (e.g. 0.3.1)"
    return None


def date_and_version_problems(obj: dict[str, Any], results: Sequence[Results]) -> list[str]:
    """``metadata.submitted_at`` and ``unified_bench_version``, and the results' provenance dates/versions."""
    now = datetime.now(timezone.utc)
    meta = obj["metadata"]
    found = [
        _date_problem("metadata.submitted_at", meta["submitted_at"], now=now),
        _version_problem("metadata.unified_bench_version", meta["unified_bench_version"]),
    ]
    for part in results:
        provenance = part.provenance
        for key in ("started_at", "finished_at"):
            if provenance.get(key) is not None:
                found.append(_date_problem(f"results provenance.{key}", provenance[key], now=now))
        if provenance.get("unified_bench_version") is not None:
            found.append(
                _version_problem(
                    "results provenance.unified_bench_version", provenance["unified_bench_version"]
                )
            )
    submitted = parse_moment(meta["submitted_at"])
    finished = [moment for moment in map(finished_at, results) if moment is not None]
    if submitted is not None and finished and submitted < max(finished):
        found.append(
            f"metadata.submitted_at {meta['submitted_at']!r} precedes the run's finished_at "
            f"{max(finished).isoformat()}; a submission cannot be older than its run"
        )
    return list(dict.fromkeys(p for p in found if p))


# -- one submission ------------------------------------------------------------------------------
def validate_submission(
    obj: Any, *, where: str, registry: OfficialRegistry, schema: dict[str, Any], file_stem: str | None = None
) -> tuple[list[Problem], Submission | None]:
    """All problems of one submission object (none: it is accepted and returned as a ``Submission``)."""
    lines = _schema_problems(obj, schema, "")
    if not lines:
        lines = _schema_problems(obj["results"], results_schema(), "results")
        for index, part in enumerate(obj.get("seed_results", [])):
            lines += _schema_problems(part, results_schema(), f"seed_results/{index}")
    if lines:
        return [Problem(where, line) for line in lines], None
    name = obj["name"]
    if file_stem is not None and file_stem != name:
        lines.append(f"file name {file_stem}.json does not match its name {name!r}; rename it to {name}.json")
    results = results_from_json(obj["results"])
    seed_results = tuple(results_from_json(part) for part in obj.get("seed_results", []))
    lines += date_and_version_problems(obj, (results, *seed_results))
    lines += results_problems(results, registry)
    lines += repeat_problems(results, seed_results, registry)
    if lines:
        return [Problem(where, line) for line in lines], None
    return [], Submission(
        path=Path(where),
        name=name,
        metadata=obj["metadata"],
        results=results,
        seed_results=seed_results,
        outputs=obj.get("outputs"),
        suspicions=_suspicions(results, seed_results),
    )


def _suspicions(results: Results, seed_results: Sequence[Results]) -> tuple[str, ...]:
    parts = [("", results)] + [(f"seed {s.bootstrap['seed']}: ", s) for s in seed_results]
    found = [
        label + reason
        for label, part in parts
        for reason in caption_suspicions(part.samples["ids"], part.samples["captions"])
    ]
    return tuple(dict.fromkeys(found))


def _read_json(path: Path) -> tuple[Any, bytes, Problem | None]:
    try:
        data = path.read_bytes()
        return loads_strict(data), data, None
    except FileNotFoundError:
        return None, b"", Problem(str(path), "no such file")
    except IsADirectoryError:
        return None, b"", Problem(str(path), "a folder, not a submission file")
    except DuplicateKeyError as error:
        return None, b"", Problem(str(path), str(error))
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        return None, b"", Problem(str(path), f"not valid JSON ({error})")


def _expand(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.json")) if path.is_dir() else [path]
    return files


# -- verification records ------------------------------------------------------------------------
def rescored_digest(rescored: Any) -> str:
    """sha256 of the re-scored per-sample vectors (part -> scorer -> id -> value) as canonical JSON."""
    return sha256_bytes(json.dumps(rescored, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def _reproduction_problem(record: dict[str, Any], submission: Submission) -> str | None:
    """The record's re-scored vectors must be intact (their digest) and reproduce every submitted score."""
    rescored = record["rescored"]
    if not isinstance(rescored, dict) or rescored_digest(rescored) != record["rescored_sha256"]:
        return "its re-scored scores do not match their digest (the record was edited)"
    off, total = [], 0
    for prefix, part in submission.parts():
        for name, summary in part.scorers.items():
            table = rescored.get(prefix, {}).get(name, {}) if isinstance(rescored.get(prefix), dict) else {}
            for sample_id, claimed in summary.per_sample.items():
                total += 1
                value = table.get(sample_id) if isinstance(table, dict) else None
                if not isinstance(value, (int, float)) or abs(value - claimed) > VERIFICATION_TOLERANCE:
                    off.append(f"{prefix}{name} {sample_id}")
    if off:
        return f"its re-scored scores do not reproduce this submission ({len(off)} of {total}: {off[0]}, ...)"
    if record["compared"] != total:
        return f"it compared {record['compared']!r} scores, the submission has {total}"
    return None


def _record_problem(record: Any, submission: Submission) -> str | None:
    """Why ``record`` is not a verification of ``submission`` as it is now (None: it is)."""
    if not isinstance(record, dict) or record.get("kind") != VERIFICATION_KIND:
        return "is not a verification record"
    missing = [key for key in _RECORD_FIELDS if key not in record]
    if missing or record.get("schema_version") != VERIFICATION_SCHEMA_VERSION:
        shown = f" (no {', '.join(missing)})" if missing else ""
        return f"is not a complete verification record{shown}"
    if record["name"] != submission.name:
        return f"verifies {record['name']!r}, not {submission.name!r}"
    if record["submission_sha256"] != submission.file_sha256 or record["outputs_sha256"] != (
        submission.outputs or {}
    ).get("sha256"):
        return "verified another version of this submission or its outputs"
    if record["dataset_fingerprint"] != submission.results.dataset.get("fingerprint"):
        return "verified against other images than the submission's"
    if record["scorers"] != {name: s.fingerprint for name, s in submission.results.scorers.items()}:
        return "verified with other scorer weights than the submission's"
    now = datetime.now(timezone.utc)
    for problem in (
        _date_problem("verified_at", record["verified_at"], now=now),
        _version_problem("unified_bench_version", record["unified_bench_version"]),
    ):
        if problem:
            return problem
    verified_at, submitted_at = (
        parse_moment(record["verified_at"]),
        parse_moment(submission.metadata["submitted_at"]),
    )
    if verified_at is not None and submitted_at is not None and verified_at < submitted_at:
        return f"verified_at {record['verified_at']!r} precedes the submission"
    return _reproduction_problem(record, submission)


def _verification(
    leaderboard: LeaderboardDir, submission: Submission
) -> tuple[dict[str, Any] | None, str | None]:
    """(the record, None) when ``verified/NAME.json`` matches the submission, (None, problem) when it
    exists but does not, (None, None) when there is none."""
    path = leaderboard.verification_path(submission.name)
    if not path.is_file():
        return None, None
    record, _, problem = _read_json(path)
    why = problem.message if problem is not None else _record_problem(record, submission)
    if why is None:
        return record, None
    return None, (
        f"{path}: {why}; a maintainer reruns `unified-bench leaderboard verify {submission.name}` "
        "(or deletes the record)"
    )


# -- many files ----------------------------------------------------------------------------------
def validate_paths(
    paths: Sequence[Path] | None = None,
    *,
    leaderboard: LeaderboardDir | None = None,
    registry: OfficialRegistry | None = None,
) -> tuple[list[Problem], list[Submission]]:
    """Validate submission files (default: every file in ``leaderboard/submissions``).

    Names must be unique across the files given and the submissions already in the leaderboard, and
    no two submissions may carry the same per-sample scores.

    Returns:
        (problems, accepted submissions); the files are valid when ``problems`` is empty.
    """
    leaderboard = (leaderboard or LeaderboardDir()).check(registry is None)
    registry = registry or OfficialRegistry.read(leaderboard.registry)
    schema = submission_schema(leaderboard)
    files = _expand(paths) if paths else leaderboard.submission_files()
    given = {p.resolve() for p in files}
    existing = [p for p in leaderboard.submission_files() if p.resolve() not in given]
    problems: list[Problem] = []
    accepted: list[Submission] = []
    names: dict[str, Path] = {}
    for path in files:
        obj, data, problem = _read_json(path)
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
            submission = replace(submission, file_sha256=sha256_bytes(data))
            record, stale = _verification(leaderboard, submission)
            if stale:
                problems.append(Problem(str(path), stale))
                submission = None
            else:
                submission = replace(submission, verification=record)
        if submission is not None:
            accepted.append(submission)
    for path in existing:
        obj, _, problem = _read_json(path)
        name = obj.get("name") if problem is None and isinstance(obj, dict) else None
        if isinstance(name, str) and name.lower() in names:
            clash = names[name.lower()]
            problems.append(Problem(str(clash), f"duplicate name {name!r}: {path} already uses it"))
            accepted = [s for s in accepted if s.path != clash]
    problems += _duplicate_results(accepted, existing, schema)
    refused = {p.where for p in problems}
    problems += _orphan_records(leaderboard, paths)
    return problems, [s for s in accepted if str(s.path) not in refused]


def _duplicate_results(
    accepted: Sequence[Submission], existing: Sequence[Path], schema: dict[str, Any]
) -> list[Problem]:
    """One run's per-sample scores (within ``rules.matching_vector``) under two names: the later
    submission, by its run's own ``finished_at`` (then ``submitted_at``), and any given file that copies
    an existing one, is refused. A forger can edit both dates; ``validate --base`` orders by git history
    instead (the submissions already in the base are the earlier ones)."""
    earlier: list[tuple[str, Results]] = []
    for path in existing:  # only parsed: their own problems are reported when they are validated
        obj, _, problem = _read_json(path)
        if (
            problem is None
            and not _schema_problems(obj, schema, "")
            and not _schema_problems(obj["results"], results_schema(), "results")
        ):
            earlier.append((obj["name"], results_from_json(obj["results"])))
    problems = []

    def run_order(s: Submission) -> tuple[datetime, datetime, str]:
        submitted = parse_moment(s.metadata["submitted_at"]) or datetime.max.replace(tzinfo=timezone.utc)
        return finished_at(s.results) or submitted, submitted, s.name

    for submission in sorted(accepted, key=run_order):
        for other_name, other in earlier:
            scorer = matching_vector(submission.results, other)
            if scorer:
                problems.append(
                    Problem(
                        str(submission.path),
                        f"same per-sample {scorer} scores as {other_name!r}: the same results under a second "
                        "name are refused",
                    )
                )
                break
        earlier.append((submission.name, submission.results))
    return problems


def _orphan_records(leaderboard: LeaderboardDir, paths: Sequence[Path] | None) -> list[Problem]:
    if paths or not leaderboard.verified.is_dir():
        return []
    names = {p.stem for p in leaderboard.submission_files()}
    return [
        Problem(str(record), "a verification record without its submission; delete it")
        for record in sorted(leaderboard.verified.glob("*.json"))
        if record.stem not in names
    ]
