"""results.json: the one versioned result format, written and read only here.

Everything downstream (merge, compare, report, leaderboard) reads results through ``read_results``
and everything upstream writes through ``build_results`` + ``write_results``, so the schema lives in
one place (plus its JSON Schema, ``unified_bench/schema/results.schema.json``).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from unified_bench.directions import T2I2T
from unified_bench.errors import InputError, SchemaVersionError
from unified_bench.io import DuplicateKeyError, atomic_write_json, atomic_write_text, loads_strict
from unified_bench.results_paths import check_inside_folder, check_results_ids
from unified_bench.scorers.registry import PAPER_SCORERS, T2I2T_PRIMARY
from unified_bench.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, summarize
from unified_bench.store import RESULTS_FILE

SCHEMA_VERSION = 1
OVERALL = "overall"  # i2t2i: the mean of the paper's scorers; t2i2t: the primary scorer's mean
RESULTS_KIND = "unified-bench/results"


@dataclass(frozen=True)
class ScoreSummary:
    """One scorer's numbers: aggregates over samples plus every per-sample value, keyed by id."""

    fingerprint: str
    higher_is_better: bool
    n: int
    mean: float
    std: float
    min: float
    max: float
    ci_low: float
    ci_high: float
    per_sample: dict[str, float]


@dataclass(frozen=True)
class OverallSummary:
    """Mean of the paper scorers' per-sample scores (= mean of their means when none is missing)."""

    components: list[str]
    complete: bool  # all four paper scorers present: only then is it the paper's Unified-Bench score
    n: int
    mean: float
    ci_low: float
    ci_high: float
    per_sample: dict[str, float]
    definition: str | None = None  # what ``overall`` is, in words (absent in files before directions)

    @property
    def std(self) -> float:
        """Sample std (ddof=1; 0 for one value) of the per-sample overall, as ``ScoreSummary.std``."""
        values = list(self.per_sample.values())
        return statistics.stdev(values) if len(values) > 1 else 0.0

    @property
    def description(self) -> str:
        """What it averages, e.g. ``mean of clip+dinov2`` (only all four is the paper's score)."""
        return f"mean of {'+'.join(self.components)}" + (" (the paper's score)" if self.complete else "")


@dataclass(frozen=True)
class Results:
    schema_version: int
    kind: str
    protocol: str | None
    model: dict[str, Any] | None
    dataset: dict[str, Any]
    samples: dict[str, Any]  # {"ids": [...in dataset order], "missing": [...], "captions": {id: text}}
    scorers: dict[str, ScoreSummary]
    overall: OverallSummary | None
    captions: dict[str, Any] | None
    bootstrap: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)
    # Only for `run --repeats K`: across-seed spread (see unified_bench.repeats). Optional: absent
    # from single runs, so files without it stay valid.
    repeats: dict[str, Any] | None = None
    # ``i2t2i`` or ``t2i2t`` (``unified_bench.directions``); ``None`` (absent): i2t2i, as before.
    direction: str | None = None
    # The resolved task's name, version and fingerprint (``unified_bench.tasks``), when run as a task.
    task: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        obj = asdict(self)
        for optional in ("repeats", "direction", "task"):
            if obj[optional] is None:
                del obj[optional]
        if obj["overall"] is not None and obj["overall"]["definition"] is None:
            del obj["overall"]["definition"]
        return obj


def build_results(
    *,
    ids: Sequence[str],
    scores: Mapping[str, Mapping[str, float | None]],
    scorer_meta: Mapping[str, tuple[str, bool]],
    dataset: dict[str, Any],
    protocol: str | None,
    model: dict[str, Any] | None,
    captions: Mapping[str, str] | None = None,
    prompt_usage: Mapping[str, Mapping[str, Any]] | None = None,
    missing: Sequence[str] = (),
    provenance: dict[str, Any] | None = None,
    bootstrap_seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    direction: str | None = None,
    prompts: Mapping[str, str] | None = None,
    task: dict[str, Any] | None = None,
) -> Results:
    """Aggregate per-sample scores into ``Results``.

    Args:
        ids: the scored sample ids in dataset order (the order makes the bootstrap reproducible).
        scores: scorer name -> {sample id: value or None (not applicable)}.
        scorer_meta: scorer name -> (fingerprint, higher_is_better).
        missing: ids that were expected but could not be scored (reported, never silently dropped).
        direction: ``t2i2t`` makes ``overall`` the primary scorer's mean; ``None``/``i2t2i``: the paper's.
        prompts: t2i2t: the prompt of each sample (kept beside its caption).
    """
    summaries: dict[str, ScoreSummary] = {}
    for name, values in scores.items():
        present = {i: float(values[i]) for i in ids if values.get(i) is not None}
        if not present:
            continue
        stats = summarize(
            list(present.values()), seed=bootstrap_seed, n_resamples=n_resamples, confidence=confidence
        )
        fingerprint, higher_is_better = scorer_meta[name]
        summaries[name] = ScoreSummary(
            fingerprint=fingerprint, higher_is_better=higher_is_better, per_sample=present, **asdict(stats)
        )
    return Results(
        schema_version=SCHEMA_VERSION,
        kind=RESULTS_KIND,
        protocol=protocol,
        model=model,
        dataset=dataset,
        samples={
            "ids": list(ids),
            "missing": list(missing),
            "captions": dict(captions or {}),
            **({"prompts": {i: prompts[i] for i in ids if i in prompts}} if prompts else {}),
        },
        scorers=summaries,
        overall=_overall(ids, summaries, bootstrap_seed, n_resamples, confidence, direction),
        captions=_caption_stats(ids, captions, prompt_usage),
        bootstrap={
            "method": "percentile",
            "n_resamples": n_resamples,
            "confidence": confidence,
            "seed": bootstrap_seed,
        },
        provenance=provenance or {},
        direction=direction,
        task=task,
    )


def overall_components(direction: str | None) -> tuple[tuple[str, ...], str]:
    """The scorers ``overall`` averages in ``direction``, and what it is, in words."""
    if direction == T2I2T:
        return (T2I2T_PRIMARY,), f"t2i2t: the mean of the primary scorer {T2I2T_PRIMARY} (caption vs prompt)"
    return PAPER_SCORERS, "i2t2i: the mean of the paper's scorers " + ", ".join(PAPER_SCORERS)


def _overall(
    ids: Sequence[str],
    summaries: Mapping[str, ScoreSummary],
    seed: int,
    n_resamples: int,
    confidence: float,
    direction: str | None = None,
) -> OverallSummary | None:
    wanted, definition = overall_components(direction)
    components = [name for name in wanted if name in summaries]
    if not components:
        return None
    per_sample = {
        i: sum(summaries[c].per_sample[i] for c in components) / len(components)
        for i in ids
        if all(i in summaries[c].per_sample for c in components)
    }
    if not per_sample:
        return None
    stats = summarize(list(per_sample.values()), seed=seed, n_resamples=n_resamples, confidence=confidence)
    return OverallSummary(
        components=components,
        complete=len(components) == len(wanted),
        n=stats.n,
        mean=stats.mean,
        ci_low=stats.ci_low,
        ci_high=stats.ci_high,
        per_sample=per_sample,
        definition=definition if direction is not None else None,
    )


def _caption_stats(
    ids: Sequence[str],
    captions: Mapping[str, str] | None,
    prompt_usage: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any] | None:
    if not captions:
        return None
    words = [len(captions[i].split()) for i in ids if i in captions]
    if not words:
        return None
    stats: dict[str, Any] = {
        "n": len(words),
        "mean_words": sum(words) / len(words),
        "min_words": min(words),
        "max_words": max(words),
        "empty": sum(1 for w in words if w == 0),
    }
    usage = {i: prompt_usage[i] for i in ids if prompt_usage and i in prompt_usage}
    if usage:
        encoders = sorted({name for per_sample in usage.values() for name in per_sample})
        stats["truncated"] = {
            "n": sum(1 for per_sample in usage.values() if any(e["truncated"] for e in per_sample.values())),
            "of": len(usage),
            "by_encoder": {
                name: sum(1 for u in usage.values() if u.get(name, {}).get("truncated")) for name in encoders
            },
        }
        stats["prompt_usage"] = usage  # per sample: tokens each text encoder had and kept
    return stats


@lru_cache(maxsize=1)
def results_schema() -> dict[str, Any]:
    text = resources.files("unified_bench").joinpath("schema/results.schema.json").read_text("utf-8")
    return json.loads(text)


def _validate(obj: Any, source: str) -> None:
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(results_schema()).iter_errors(obj), key=lambda e: e.path)
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise InputError(f"{source}: not a valid results file at {where}: {first.message}")


def write_results(path: str | Path, results: Results) -> None:
    """Validate against the JSON Schema, then write atomically."""
    obj = results.to_json()
    _validate(obj, str(path))
    atomic_write_json(path, obj)


def _first_non_finite(obj: Any, where: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], float] | None:
    """(keys to, value of) the first NaN or infinity in parsed JSON (Python's json reads them)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return where, obj
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        found = _first_non_finite(value, (*where, key))
        if found is not None:
            return found
    return None


def read_results(path: str | Path) -> Results:
    """Read and validate a results file (or a run dir containing results.json)."""
    path = Path(path)
    if path.is_dir():
        path = check_inside_folder(path / RESULTS_FILE, path)
    try:
        obj = loads_strict(path.read_bytes(), allow_non_finite=True)  # a NaN is named below
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{path}: no results file; run `unified-bench run` or `score` first.") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror}).") from None
    except DuplicateKeyError as error:
        raise InputError(f"{path}: {error}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error}).") from None
    non_finite = _first_non_finite(obj)
    if non_finite is not None:
        where, value = non_finite
        raise InputError(
            f"{path}: {value} at {' / '.join(map(repr, where))}; a results file holds finite numbers only."
        )
    if not isinstance(obj, dict) or obj.get("kind") != RESULTS_KIND:
        raise InputError(f"{path}: not a unified-bench results file (no kind {RESULTS_KIND!r}).")
    if obj.get("schema_version") != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: results schema version {obj.get('schema_version')!r}, this unified-bench reads version "
            f"{SCHEMA_VERSION}; rescore with this version (rerunning `unified-bench run` rescores) or use "
            "a matching unified-bench release."
        )
    _validate(obj, str(path))
    check_results_ids(obj, str(path))  # ids become file names in every reader
    scorers = {name: ScoreSummary(**value) for name, value in obj["scorers"].items()}
    overall = OverallSummary(**obj["overall"]) if obj.get("overall") else None
    return Results(**{**obj, "scorers": scorers, "overall": overall})


def write_samples_table(path: str | Path, results: Results) -> None:
    """A flat per-sample CSV: id, caption, one column per scorer, overall."""
    import pandas as pd

    rows = []
    for sample_id in results.samples["ids"]:
        row: dict[str, Any] = {"id": sample_id}
        if "prompts" in results.samples:
            row["prompt"] = results.samples["prompts"].get(sample_id)
        row["caption"] = results.samples["captions"].get(sample_id)
        for name, summary in results.scorers.items():
            row[name] = summary.per_sample.get(sample_id)
        if results.overall is not None:
            row["overall"] = results.overall.per_sample.get(sample_id)
        rows.append(row)
    atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))
