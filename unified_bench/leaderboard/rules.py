"""The benchmark's rules for one results object, checked against the official registry.

Two kinds of rule, each problem one line:

* official: the official images, exactly the official ids in their order, every official scorer
  (official weights) on every id and nothing else, every value finite and in its scorer's range,
  the official bootstrap settings, a protocol, the complete ``overall``;
* recomputation: every aggregate follows from the per-sample scores (n, mean, std, min, max,
  bootstrap interval, the per-sample ``overall`` and its aggregates), recomputed here with
  ``unified_bench.stats.summarize`` as the run itself computed them;
* repeats: a ``--repeats`` claim is backed by its per-seed results, each checked like the above,
  whose per-sample mean and seed means are what the combined result says.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from unified_bench.leaderboard.registry import OfficialRegistry
from unified_bench.results import PAPER_SCORERS, Results
from unified_bench.stats import summarize

_ABS_TOLERANCE = 1e-9
# Two results are one run when most per-sample scores agree within what verify calls reproduced.
DUPLICATE_TOLERANCE = 1e-4
DUPLICATE_SHARE = 0.5
MAX_LISTED = 3


def _close(claimed: float, actual: float) -> bool:
    return math.isclose(claimed, actual, rel_tol=1e-9, abs_tol=_ABS_TOLERANCE)


def _first(items: Sequence[str]) -> str:
    shown = ", ".join(map(str, items[:MAX_LISTED]))
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def id_problems(results: Results, registry: OfficialRegistry) -> list[str]:
    """Ids unique, exactly the official ones in the official order, nothing missing."""
    ids = results.samples["ids"]
    problems = []
    repeated = [i for i, count in Counter(ids).items() if count > 1]
    if repeated:
        problems.append(f"samples.ids lists {_first(repeated)} more than once; each image counts once")
    if results.samples["missing"] or results.dataset.get("limit") is not None or results.dataset.get("shard"):
        problems.append(
            "the run does not cover the whole dataset (missing samples, --limit or an unmerged shard)"
        )
    if registry.n_samples is not None and len(ids) != registry.n_samples:
        problems.append(f"{len(ids)} samples scored, the official dataset has {registry.n_samples}")
    if registry.ids:
        official = set(registry.ids)
        strays = [i for i in dict.fromkeys(ids) if i not in official]
        absent = [i for i in registry.ids if i not in set(ids)]
        if strays:
            problems.append(f"ids not in the official dataset: {_first(strays)}")
        if absent:
            problems.append(f"official ids missing: {_first(absent)}")
        if not repeated and not strays and not absent and tuple(ids) != registry.ids:
            problems.append("samples.ids are not in the official order (the bootstrap depends on it)")
    strays = [i for i in results.samples["captions"] if i not in set(ids)]
    if strays:
        problems.append(f"captions for ids not in samples.ids: {_first(strays)}")
    return problems


def scorer_problems(results: Results, registry: OfficialRegistry) -> list[str]:
    """Exactly the official scorers, official weights, every id scored once, values in range."""
    ids = set(results.samples["ids"])
    problems = []
    absent = [name for name in registry.scorers if name not in results.scorers]
    if absent:
        problems.append(
            f"official scorers missing: {', '.join(absent)}; score with all of {', '.join(registry.scorers)}"
        )
    for name, summary in results.scorers.items():
        official = registry.scorers.get(name)
        if official is None:
            problems.append(
                f"scorer {name} is not on the leaderboard (official: {', '.join(registry.scorers)}); "
                "resubmit with `unified-bench submit`, which keeps only official scorers"
            )
            continue
        if summary.fingerprint not in official.fingerprints:
            problems.append(
                f"unknown scorer weights for {name}: {summary.fingerprint} is not an official fingerprint; "
                f"score with the official weights ({official.weights or 'see the registry'})"
            )
        if summary.higher_is_better != official.higher_is_better:
            problems.append(f"scorer {name}: higher_is_better is {summary.higher_is_better}, officially not")
        unscored = [i for i in results.samples["ids"] if i not in summary.per_sample]
        if unscored:
            problems.append(f"scorer {name}: no score for {len(unscored)} ids ({_first(unscored)})")
        strays = [i for i in summary.per_sample if i not in ids]
        if strays:
            problems.append(f"scorer {name}: per-sample scores for ids not in samples.ids ({_first(strays)})")
        outside = [i for i, value in summary.per_sample.items() if not official.contains(value)]
        if outside:
            first = outside[0]
            problems.append(
                f"scorer {name}: {len(outside)} values outside its range {official.range_text()} "
                f"(first: {first} = {summary.per_sample[first]!r})"
            )
    return problems


def official_problems(results: Results, registry: OfficialRegistry) -> list[str]:
    """Every official rule ``results`` breaks (not the recomputation)."""
    problems = []
    fingerprint = results.dataset.get("fingerprint")
    if fingerprint not in registry.dataset_fingerprints:
        listed = ", ".join(f[:19] + "…" for f in registry.dataset_fingerprints) or "none recorded yet"
        problems.append(
            f"dataset fingerprint {str(fingerprint)[:19]}… is not the official {registry.dataset_name} one "
            f"({listed}); run on the official images (--dataset {registry.dataset_name})"
        )
    if (results.direction or "i2t2i") != "i2t2i":
        problems.append(
            f"direction {results.direction}: the leaderboard ranks Unified-Bench (i2t2i) runs only; "
            "t2i2t runs are compared with `unified-bench compare`, never ranked beside i2t2i ones"
        )
    if results.protocol is None:
        problems.append(
            "missing protocol: results.protocol is null (a scored folder); submit a run made by "
            "`unified-bench run`, which records text or native"
        )
    differences = registry.bootstrap.differences(results.bootstrap)
    if differences:
        problems.append(
            f"bootstrap settings are not the official ones ({'; '.join(differences)}); "
            "score with the default settings"
        )
    problems += id_problems(results, registry)
    problems += scorer_problems(results, registry)
    overall = results.overall
    if overall is None:
        problems.append("overall is missing (null): it needs all four paper scorers on every id")
    elif not overall.complete:
        problems.append("overall is not complete: all four paper scorers must be present")
    return problems


def _aggregate_problems(label: str, claimed: Any, values: list[float], results: Results) -> list[str]:
    """Compare the claimed aggregates of ``label`` with those recomputed from ``values``."""
    boot = results.bootstrap
    actual = summarize(
        values, seed=boot["seed"], n_resamples=boot["n_resamples"], confidence=boot["confidence"]
    )
    problems = []
    if claimed.n != actual.n:
        problems.append(f"{label}: n is {claimed.n} but there are {actual.n} per-sample scores")
    # A ScoreSummary stores std, min and max; OverallSummary only derives its std (a property).
    fields = ("mean", "ci_low", "ci_high") + (("std", "min", "max") if hasattr(claimed, "min") else ())
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
    for name, summary in results.scorers.items():
        values = [summary.per_sample[i] for i in ids if i in summary.per_sample]
        if values:
            problems += _aggregate_problems(f"scorer {name}", summary, values, results)
    overall = results.overall
    if overall is None:
        return problems
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
    return problems


def results_problems(results: Results, registry: OfficialRegistry, *, label: str = "") -> list[str]:
    """Official rules, then recomputation; ``label`` prefixes each line (e.g. ``seed 1: ``)."""
    return [label + line for line in official_problems(results, registry) + recomputation_problems(results)]


def matching_vector(a: Results, b: Results) -> str | None:
    """The first scorer on which two results over the same ids are one run: more than
    ``DUPLICATE_SHARE`` of their per-sample scores agree within ``DUPLICATE_TOLERANCE``; else ``None``.

    Closeness, not equality: a copy with a few scores nudged is still a copy. Honest runs never come
    that close: on the tiny models, two seeds of one model differ by 2.8e-3 or more in the median
    (two models: 1.7e-2), see leaderboard/README.md.
    """
    if set(a.samples["ids"]) != set(b.samples["ids"]):
        return None
    for name, summary in a.scorers.items():
        other = b.scorers.get(name)
        if other is None or set(other.per_sample) != set(summary.per_sample) or not summary.per_sample:
            continue
        close = sum(
            1
            for i, value in summary.per_sample.items()
            if abs(value - other.per_sample[i]) <= DUPLICATE_TOLERANCE
        )
        if close > DUPLICATE_SHARE * len(summary.per_sample):
            return name
    return None


def repeat_problems(
    results: Results, seed_results: Sequence[Results] | None, registry: OfficialRegistry
) -> list[str]:
    """A ``repeats`` claim must come with its per-seed results, and follow from them."""
    repeats = results.repeats
    if not repeats:
        return (
            ["seed_results without a repeats claim; submit a --repeats run or drop them"]
            if seed_results
            else []
        )
    k = repeats["k"]
    if not seed_results:
        return [
            f"repeats claims {k} seeds but the submission carries no per-seed results (seed_results); "
            "resubmit the --repeats run folder with `unified-bench submit`"
        ]
    problems = []
    if not len(repeats["seeds"]) == len(repeats["runs"]) == len(seed_results) == k:
        return [
            f"repeats: k is {k} but {len(repeats['seeds'])} seeds, {len(repeats['runs'])} runs and "
            f"{len(seed_results)} per-seed results"
        ]
    if len(set(repeats["seeds"])) != k:
        problems.append(f"repeats: seeds {repeats['seeds']} are not distinct")
    for seed, part in zip(repeats["seeds"], seed_results, strict=True):
        label = f"seed {seed}: "
        problems += results_problems(part, registry, label=label)
        if part.bootstrap["seed"] != seed:
            problems.append(f"{label}its bootstrap seed is {part.bootstrap['seed']}, not its run seed")
        if part.protocol != results.protocol or part.dataset.get("fingerprint") != results.dataset.get(
            "fingerprint"
        ):
            problems.append(f"{label}protocol or dataset differs from the combined result")
    for index, part in enumerate(seed_results):
        for seed, other in zip(repeats["seeds"][:index], seed_results[:index], strict=True):
            same = matching_vector(part, other)
            if same:
                problems.append(
                    f"seed {repeats['seeds'][index]}: same per-sample {same} scores as seed {seed}; "
                    "each repeat must be its own run"
                )
    if problems:
        return problems
    for name, summary in results.scorers.items():
        wrong = [
            i
            for i, value in summary.per_sample.items()
            if not _close(value, float(np.mean([p.scorers[name].per_sample[i] for p in seed_results])))
        ]
        if wrong:
            problems.append(
                f"repeats: scorer {name} per-sample values are not the mean over the seeds "
                f"({len(wrong)} ids, first: {wrong[0]})"
            )
    spreads = dict(repeats["scorers"])
    actual_means = {name: [p.scorers[name].mean for p in seed_results] for name in results.scorers}
    if set(spreads) != set(actual_means):
        problems.append(f"repeats: spreads for {sorted(spreads)}, scorers are {sorted(actual_means)}")
    if repeats.get("overall"):
        spreads["overall"] = repeats["overall"]
        actual_means["overall"] = [p.overall.mean for p in seed_results if p.overall is not None]
    for name, spread in spreads.items():
        means = actual_means.get(name, [])
        if len(spread["means"]) != k or len(means) != k:
            problems.append(f"repeats: {name} has {len(spread['means'])} seed means, expected {k}")
            continue
        if not all(_close(c, a) for c, a in zip(spread["means"], means, strict=True)):
            problems.append(
                f"repeats: {name} seed means {spread['means']} are not the per-seed results' means"
            )
        actual = float(np.std(means, ddof=1))
        if not _close(spread["std"], actual):
            problems.append(
                f"repeats: {name} claimed spread {spread['std']!r} != std of its seed means {actual!r}"
            )
    return problems
