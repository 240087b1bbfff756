"""The official fingerprints: which images and scorer weights a leaderboard entry must use."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unified_bench.errors import InputError

REGISTRY_KIND = "unified-bench/official-fingerprints"


@dataclass(frozen=True)
class OfficialScorer:
    higher_is_better: bool
    fingerprints: tuple[str, ...]
    weights: str = ""


@dataclass(frozen=True)
class OfficialRegistry:
    """Accepted dataset fingerprints and, per scorer, accepted weight fingerprints.

    ``notice`` (optional) is shown on top of a site built against this registry, e.g. for a demo.
    """

    dataset_name: str
    n_samples: int | None
    dataset_fingerprints: tuple[str, ...]
    scorers: dict[str, OfficialScorer]
    notice: str | None = None
    source: str = field(default="", compare=False)

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
                )
                for name, entry in obj["scorers"].items()
            }
            return cls(
                dataset_name=str(dataset["name"]),
                n_samples=dataset.get("n_samples"),
                dataset_fingerprints=tuple(str(f) for f in dataset["fingerprints"]),
                scorers=scorers,
                notice=obj.get("notice"),
                source=source,
            )
        except (KeyError, TypeError, AttributeError):
            raise InputError(
                f"{source or 'registry'}: not an official-fingerprints file (kind {REGISTRY_KIND!r}, "
                "schema_version 1, dataset{name, fingerprints}, "
                "scorers{NAME: {higher_is_better, fingerprints}})."
            ) from None

    @classmethod
    def read(cls, path: Path) -> OfficialRegistry:
        try:
            obj = json.loads(Path(path).read_text("utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path}: no official-fingerprints file.") from None
        except json.JSONDecodeError as error:
            raise InputError(f"{path}: not valid JSON ({error.msg}, line {error.lineno}).") from None
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
            },
            "scorers": {
                name: {
                    "higher_is_better": s.higher_is_better,
                    "weights": s.weights,
                    "fingerprints": list(s.fingerprints),
                }
                for name, s in self.scorers.items()
            },
        }
        if self.notice:
            obj["notice"] = self.notice
        return obj
