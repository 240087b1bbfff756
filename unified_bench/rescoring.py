"""Reruns add scores, never drop them: which scorers a rerun computes and which it keeps.

A rerun over a results file that scored the same samples keeps every score already there, computes
the scorers it lacks, and refuses a scorer whose fingerprint changed (other weights, dtype,
preprocessing) unless ``--rescore NAME`` (or ``--rescore all``) asks to replace those scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unified_bench.errors import RunConfigMismatch, UserError
from unified_bench.results import Results, ScoreSummary

RESCORE_ALL = "all"


@dataclass(frozen=True)
class ScoringPlan:
    compute: list[Any]  # built scorers to run over the samples
    kept: dict[str, ScoreSummary]  # scores taken over from the previous results
    note: str | None  # what was computed and kept, for the user; None without previous results


def check_rescore_names(rescore: Sequence[str], requested: Sequence[str]) -> None:
    """Refuse a ``--rescore`` name that is not one of this run's scorers (before anything runs)."""
    for name in rescore:
        if name != RESCORE_ALL and name not in requested:
            raise UserError(
                f"--rescore {name}: not among this run's scorers ({', '.join(requested)}); add "
                f"--scorer {name} or use --rescore {RESCORE_ALL}."
            )


def plan_scoring(
    scorers: Sequence[Any], previous: Results | None, ids: Sequence[str], rescore: Sequence[str], target: Path
) -> ScoringPlan:
    """What to compute with ``scorers`` over ``ids`` given the ``previous`` results at ``target``.

    Raises:
        RunConfigMismatch: a scorer's fingerprint differs from the one its stored scores were made
            with, and ``rescore`` does not name it.
    """
    if previous is None:
        return ScoringPlan(list(scorers), {}, None)
    names = [scorer.name for scorer in scorers]
    if list(previous.samples["ids"]) != list(ids):
        dropped = sorted(set(previous.scorers) - set(names))
        note = (
            f"{target}: scored other samples ({len(previous.samples['ids'])}, now {len(ids)}); scoring afresh"
        )
        if dropped:
            note += f"; {', '.join(dropped)} not requested this time, dropped (add --scorer to keep them)"
        return ScoringPlan(list(scorers), {}, note)
    everything = RESCORE_ALL in rescore
    compute, new, rescored = [], [], []
    for scorer in scorers:
        stored = previous.scorers.get(scorer.name)
        if stored is None:
            compute.append(scorer)
            new.append(scorer.name)
        elif everything or scorer.name in rescore:
            compute.append(scorer)
            rescored.append(scorer.name)
        elif stored.fingerprint != scorer.fingerprint():
            raise RunConfigMismatch(
                f"{target}: {scorer.name} was scored as {stored.fingerprint}, this run's {scorer.name} is "
                f"{scorer.fingerprint()}; pass --rescore {scorer.name} to replace those scores, or give the "
                "weights and dtype they were made with."
            )
    kept = {name: summary for name, summary in previous.scorers.items() if name not in new + rescored}
    scoring = [f"{name} (new)" for name in new] + [f"{name} (rescored)" for name in rescored]
    parts = [f"scoring {', '.join(scoring)}" if scoring else "nothing to score"]
    if kept:
        parts.append(f"{', '.join(kept)} kept")
    return ScoringPlan(compute, kept, "; ".join(parts))
