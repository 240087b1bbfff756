"""The official registry: the images, ids, scorer weights, value ranges and bootstrap settings a
leaderboard entry must have used (``leaderboard/official-fingerprints.json``)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from unified_bench.errors import InputError, UserError
from unified_bench.io import atomic_write_json, read_json_strict
from unified_bench.results import PAPER_SCORERS, Results
from unified_bench.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES

REGISTRY_KIND = "unified-bench/official-fingerprints"
# float32 rounding: an exact copy's cosine comes out as 1.0000000064, and that is not out of range
RANGE_TOLERANCE = 1e-6
RECORD_COMMAND = "unified-bench leaderboard record-official RUN"
# What each scorer can possibly return (None: unbounded). A registry entry's "range" overrides it;
# a scorer in neither place cannot be registered, so no value goes unchecked.
KNOWN_RANGES: dict[str, tuple[float | None, float | None]] = {
    "clip": (-1.0, 1.0),  # cosine similarities
    "dinov2": (-1.0, 1.0),
    "dinov3": (-1.0, 1.0),
    "longclip": (-1.0, 1.0),
    "ssim": (-1.0, 1.0),
    "lpips": (0.0, None),  # a distance
    "psnr": (0.0, 100.0),  # dB, capped at 100 by the scorer
    "bleu4": (0.0, 1.0),
    "rougeL": (0.0, 1.0),
    "cider": (0.0, None),
}


class UnrecordedRegistry(UserError):
    """The registry lists no official fingerprints yet, so no submission can be accepted."""

    exit_code = 1


@dataclass(frozen=True)
class OfficialScorer:
    higher_is_better: bool
    fingerprints: tuple[str, ...]
    weights: str = ""
    value_range: tuple[float | None, float | None] = (None, None)

    def contains(self, value: float) -> bool:
        """In range, up to ``RANGE_TOLERANCE`` of float rounding (a cosine of 1.0000000064 is 1)."""
        low, high = self.value_range
        return (
            math.isfinite(value)
            and (low is None or value >= low - RANGE_TOLERANCE)
            and (high is None or value <= high + RANGE_TOLERANCE)
        )

    def range_text(self) -> str:
        low, high = self.value_range
        return f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"


@dataclass(frozen=True)
class OfficialBootstrap:
    method: str = "percentile"
    n_resamples: int = DEFAULT_RESAMPLES
    confidence: float = DEFAULT_CONFIDENCE

    def differences(self, claimed: dict[str, Any]) -> list[str]:
        """``key claimed X, official Y`` for every setting that differs (the seed is free)."""
        return [
            f"{key} {claimed.get(key)!r}, official {value!r}"
            for key, value in (
                ("method", self.method),
                ("n_resamples", self.n_resamples),
                ("confidence", self.confidence),
            )
            if claimed.get(key) != value
        ]


def _range(name: str, entry: dict[str, Any]) -> tuple[float | None, float | None]:
    if "range" not in entry:
        if name not in KNOWN_RANGES:
            raise ValueError(
                f'scorer {name}: no value range known; add "range": [LOW, HIGH] (null: unbounded)'
            )
        return KNOWN_RANGES[name]
    low, high = entry["range"]
    return (None if low is None else float(low), None if high is None else float(high))


@dataclass(frozen=True)
class OfficialRegistry:
    """Accepted dataset fingerprints and ids, and per scorer the accepted weight fingerprints.

    ``notice`` (optional) is shown on top of a site built against this registry, e.g. for a demo.
    """

    dataset_name: str
    n_samples: int | None
    dataset_fingerprints: tuple[str, ...]
    scorers: dict[str, OfficialScorer]
    ids: tuple[str, ...] = ()
    bootstrap: OfficialBootstrap = OfficialBootstrap()
    notice: str | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        absent = [name for name in PAPER_SCORERS if name not in self.scorers]
        if absent:
            raise ValueError(
                f"scorers {', '.join(absent)} missing: the overall score is the mean of all four"
            )
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("dataset ids are not unique")
        if self.ids and self.n_samples is not None and self.n_samples != len(self.ids):
            raise ValueError(f"n_samples is {self.n_samples} but {len(self.ids)} ids are listed")
        if self.dataset_fingerprints and not self.ids:
            raise ValueError("dataset fingerprints are listed without the official ids (dataset.ids)")

    def unrecorded(self) -> list[str]:
        """What still has no official fingerprint (``dataset`` and scorer names); empty when complete."""
        missing = [] if self.dataset_fingerprints else ["dataset"]
        return missing + [name for name, scorer in self.scorers.items() if not scorer.fingerprints]

    def require_recorded(self) -> None:
        """Raise one line when no submission can pass because official fingerprints are missing."""
        missing = self.unrecorded()
        if missing:
            raise UnrecordedRegistry(
                f"{self.source or 'registry'}: no official fingerprints recorded for {', '.join(missing)}, "
                f"so no submission can be accepted yet; a maintainer records them from a reference run with "
                f"`{RECORD_COMMAND}` (see leaderboard/README.md), or pass --registry FILE for a private "
                "leaderboard."
            )

    # -- JSON ------------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, obj: dict[str, Any], source: str = "") -> OfficialRegistry:
        try:
            if obj.get("kind") != REGISTRY_KIND or obj.get("schema_version") != 1:
                raise KeyError("kind")
            dataset = obj["dataset"]
            scorers = {
                name: OfficialScorer(
                    higher_is_better=bool(entry["higher_is_better"]),
                    fingerprints=tuple(str(f) for f in entry["fingerprints"]),
                    weights=str(entry.get("weights", "")),
                    value_range=_range(name, entry),
                )
                for name, entry in obj["scorers"].items()
            }
            boot = obj.get("bootstrap") or {}
            return cls(
                dataset_name=str(dataset["name"]),
                n_samples=dataset.get("n_samples"),
                dataset_fingerprints=tuple(str(f) for f in dataset["fingerprints"]),
                ids=tuple(str(i) for i in dataset.get("ids", ())),
                scorers=scorers,
                bootstrap=OfficialBootstrap(
                    method=str(boot.get("method", "percentile")),
                    n_resamples=int(boot.get("n_resamples", DEFAULT_RESAMPLES)),
                    confidence=float(boot.get("confidence", DEFAULT_CONFIDENCE)),
                ),
                notice=obj.get("notice"),
                source=source,
            )
        except ValueError as error:
            raise InputError(f"{source or 'registry'}: {error}.") from None
        except (KeyError, TypeError, AttributeError):
            raise InputError(
                f"{source or 'registry'}: not an official-fingerprints file (kind {REGISTRY_KIND!r}, "
                "schema_version 1, dataset{name, ids, fingerprints}, "
                "scorers{NAME: {higher_is_better, fingerprints}})."
            ) from None

    @classmethod
    def read(cls, path: Path) -> OfficialRegistry:
        if not Path(path).is_file():
            raise InputError(f"{path}: no official-fingerprints file.")
        obj = read_json_strict(path)
        if not isinstance(obj, dict):
            raise InputError(f"{path}: expected a JSON object.")
        return cls.from_json(obj, source=str(path))

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "schema_version": 1,
            "kind": REGISTRY_KIND,
            "dataset": {
                "name": self.dataset_name,
                "n_samples": self.n_samples,
                "fingerprints": list(self.dataset_fingerprints),
                "ids": list(self.ids),
            },
            "bootstrap": {
                "method": self.bootstrap.method,
                "n_resamples": self.bootstrap.n_resamples,
                "confidence": self.bootstrap.confidence,
            },
            "scorers": {
                name: {
                    "higher_is_better": s.higher_is_better,
                    "weights": s.weights,
                    "range": list(s.value_range),
                    "fingerprints": list(s.fingerprints),
                }
                for name, s in self.scorers.items()
            },
        }
        if self.notice:
            obj["notice"] = self.notice
        return obj

    # -- recording the official values -----------------------------------------------------------
    @classmethod
    def of_run(cls, results: Results, *, notice: str | None = None) -> OfficialRegistry:
        """A registry whose official values are exactly one complete run's: its images, ids, paper
        scorers' weights and bootstrap settings (a demo or a private leaderboard).

        Raises:
            InputError: the run is partial or lacks a paper scorer.
        """
        empty = cls(
            dataset_name=str(results.dataset["name"]),
            n_samples=None,
            dataset_fingerprints=(),
            scorers={
                name: OfficialScorer(True, (), value_range=KNOWN_RANGES[name]) for name in PAPER_SCORERS
            },
            bootstrap=OfficialBootstrap(
                method=results.bootstrap["method"],
                n_resamples=results.bootstrap["n_resamples"],
                confidence=results.bootstrap["confidence"],
            ),
            notice=notice,
        )
        return empty.recorded_from(results)[0]

    def recorded_from(self, results: Results) -> tuple[OfficialRegistry, list[str]]:
        """This registry plus the dataset and scorer fingerprints of a complete reference run.

        Returns:
            (the extended registry, one line per value added).

        Raises:
            InputError: the run is partial, its ids differ from the recorded ones, or it lacks a
                registered scorer.
        """
        ids = tuple(results.samples["ids"])
        if (
            results.samples["missing"]
            or results.dataset.get("limit") is not None
            or results.dataset.get("shard")
        ):
            raise InputError(
                "the reference run does not cover the whole dataset (missing, --limit or --shard)."
            )
        if self.ids and ids != self.ids:
            raise InputError(
                f"the reference run scored {len(ids)} ids, not the {len(self.ids)} recorded ones; "
                "record runs of the same dataset only."
            )
        if self.n_samples is not None and len(ids) != self.n_samples:
            raise InputError(
                f"the reference run has {len(ids)} samples, the registry expects {self.n_samples}."
            )
        absent = [name for name in self.scorers if name not in results.scorers]
        if absent:
            raise InputError(
                f"the reference run lacks scorers {', '.join(absent)}; score it with all of them."
            )
        added = []
        fingerprint = results.dataset["fingerprint"]
        dataset_fingerprints = self.dataset_fingerprints
        if fingerprint not in dataset_fingerprints:
            dataset_fingerprints += (fingerprint,)
            added.append(f"dataset {self.dataset_name}: {fingerprint}")
        scorers = dict(self.scorers)
        for name, official in self.scorers.items():
            value = results.scorers[name].fingerprint
            if value not in official.fingerprints:
                scorers[name] = replace(official, fingerprints=(*official.fingerprints, value))
                added.append(f"scorer {name}: {value}")
        registry = replace(
            self,
            dataset_fingerprints=dataset_fingerprints,
            ids=ids,
            n_samples=len(ids),
            scorers=scorers,
        )
        return registry, added

    def write(self, path: Path) -> None:
        """Write atomically, keeping the file's ``about`` and ``source`` notes."""
        obj = self.to_json()
        try:
            previous = json.loads(Path(path).read_text("utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            previous = {}
        if isinstance(previous, dict):
            if "about" in previous:
                obj = {"schema_version": 1, "kind": REGISTRY_KIND, "about": previous["about"], **obj}
            source = (previous.get("dataset") or {}).get("source")
            if source:
                obj["dataset"]["source"] = source
        atomic_write_json(path, obj)
