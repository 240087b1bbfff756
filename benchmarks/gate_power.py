"""False-alarm rate and power of the default `unified-bench compare` gate, by simulation.

Each trial is one CI comparison: n images, a per-image paired difference
``d = candidate - baseline = -effect + noise`` with noise of sd ``--noise-sd`` (0.03 by default: the
spread of per-image differences between checkpoints of one model, as in issue 10), and the default
gate's decision on it: ``overall`` alone (no multiplicity), the test chosen for n
(``unified_bench.stats.paired_test_p_value``, the function `compare` calls), "worse" when p < alpha
and the mean difference is at most ``-min_effect``. Effects are in units of the noise sd.

* false alarm = share of trials with no shift (effect 0) that fail the gate (exit 1);
* power = share of trials with the candidate worse by the effect that fail the gate;
* MDE = the minimum detectable effect the gate reports at that n (80% power, noise-sd units).

Trials are vectorised (one array of trials x n per cell), seeded, and a few of them are replayed
through ``compare_results`` on real ``Results`` objects to check that the vectorised decision is the
gate's. ``--noise t3`` uses Student t noise with 3 df (heavy tails), scaled to the same sd.

``--compare-tests`` prints why the gate uses the tests it does: the power of each candidate test
(exact sign-flip, Wilcoxon signed-rank, paired t) at half a noise sd, under normal noise, heavy-tailed
noise, and a sparse regression (10% of the images 5 noise sds worse, the rest unchanged: the same
mean drop, concentrated where a checkpoint broke), plus each test's false-alarm rate.

    python benchmarks/gate_power.py                 # 2000 seeds per cell, under a minute
    python benchmarks/gate_power.py --seeds 500 --noise t3
    python benchmarks/gate_power.py --compare-tests
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from unified_bench.compare import DEFAULT_ALPHA, DEFAULT_MIN_EFFECT, CompareSettings, compare_results
from unified_bench.results import build_results
from unified_bench.stats import (
    PAIRED_T,
    SIGN_FLIP,
    SIGN_FLIP_MAX_N,
    WILCOXON,
    choose_paired_test,
    minimum_detectable_effect,
    paired_t_p_value,
    paired_test_p_value,
    sign_flip_p_value,
    wilcoxon_p_value,
)

SAMPLE_SIZES = (8, 16, 32, 100)
EFFECTS = (0.0, 0.25, 0.5, 1.0)  # in noise sds; 0 = no change


def paired_noise(rng: np.random.Generator, shape: tuple[int, int], sd: float, kind: str) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0.0, sd, shape)
    # Student t with 3 df has variance 3: rescale so the sd matches the normal case.
    return rng.standard_t(3, shape) * sd / np.sqrt(3.0)


def gate_fails(differences: np.ndarray, *, alpha: float, min_effect: float) -> np.ndarray:
    """The default gate's decision per trial (row): `overall` worse, i.e. exit 1."""
    _, p = paired_test_p_value(differences)
    return (p < alpha) & (differences.mean(axis=-1) <= -min_effect)


def replay_through_compare(differences: np.ndarray, *, alpha: float, min_effect: float) -> np.ndarray:
    """The same decision made by ``compare_results`` on results files' contents (slow: a few trials)."""
    n = differences.shape[-1]
    ids = [f"img{i:03d}" for i in range(n)]
    baseline_scores = np.linspace(0.6, 0.9, n)
    settings = CompareSettings(alpha=alpha, min_effect=min_effect, n_resamples=100)

    def results(values: np.ndarray):
        return build_results(
            ids=ids,
            scores={"clip": dict(zip(ids, map(float, values), strict=True))},
            scorer_meta={"clip": ("clip:benchmark", True)},
            dataset={"name": "benchmark", "fingerprint": "sha256:benchmark"},
            protocol="text",
            model=None,
            n_resamples=100,
        )

    decisions = []
    for row in differences:
        comparison = compare_results(
            results(baseline_scores), results(baseline_scores + row), settings=settings
        )
        decisions.append(comparison.regressed)
    return np.array(decisions)


def compare_tests(seeds: int, alpha: float, seed: int) -> None:
    """Power (half a noise sd, worse) and false alarms of each test, by n and kind of change."""
    tests = {SIGN_FLIP: sign_flip_p_value, WILCOXON: wilcoxon_p_value, PAIRED_T: paired_t_p_value}
    scenarios = ("normal", "t3", "sparse")
    header = ["n", "test", *(f"power, {s}" for s in scenarios), "false alarm, normal", "false alarm, t3"]
    lines = ["| " + " | ".join(header) + " |", "|---:|---|" + "---:|" * (len(header) - 2)]
    for n in SAMPLE_SIZES:
        rng = np.random.Generator(np.random.PCG64([seed, n, 99]))
        normal, heavy = rng.normal(0, 1, (seeds, n)), paired_noise(rng, (seeds, n), 1.0, "t3")
        broken = rng.random((seeds, n)) < 0.1
        shifted = {"normal": normal - 0.5, "t3": heavy - 0.5, "sparse": normal - broken * 5.0}
        for name, test in tests.items():
            if name == SIGN_FLIP and n > SIGN_FLIP_MAX_N:
                continue

            def rate(d: np.ndarray, test=test) -> str:
                return f"{np.mean((test(d) < alpha) & (d.mean(axis=-1) < 0)):.1%}"

            cells = [rate(shifted[s]) for s in scenarios] + [rate(normal), rate(heavy)]
            chosen = " (chosen)" if choose_paired_test(n) == name else ""
            lines.append("| " + " | ".join([str(n), name + chosen, *cells]) + " |")
    print(
        f"Each test alone, two-sided alpha {alpha:g}, a failure = p < alpha with a lower mean; change of "
        f"0.5 noise sd; {seeds} seeded trials per cell (seed {seed})."
    )
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2000, help="Trials per cell (>= 500).")
    parser.add_argument("--noise-sd", type=float, default=0.03, help="Sd of the per-image differences.")
    parser.add_argument("--noise", choices=("normal", "t3"), default="normal")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA)
    parser.add_argument("--min-effect", type=float, default=DEFAULT_MIN_EFFECT)
    parser.add_argument("--replay", type=int, default=10, help="Trials per cell replayed via compare.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-tests", action="store_true", help="Power of each test, then exit.")
    args = parser.parse_args()
    if args.seeds < 500:
        parser.error("--seeds: use at least 500 per cell (binomial sd of a 5% rate is then 1%)")
    if args.compare_tests:
        compare_tests(args.seeds, args.alpha, args.seed)
        return

    started = time.perf_counter()
    header = ["n", "test", "false alarm", *(f"power {e:g} sd" for e in EFFECTS[1:]), "MDE (sd)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * 2 + "---:|" * (len(header) - 2)]
    mismatches = 0
    for n in SAMPLE_SIZES:
        cells = []
        for index, effect in enumerate(EFFECTS):
            rng = np.random.Generator(np.random.PCG64([args.seed, n, index]))
            noise = paired_noise(rng, (args.seeds, n), args.noise_sd, args.noise)
            differences = -effect * args.noise_sd + noise
            fails = gate_fails(differences, alpha=args.alpha, min_effect=args.min_effect)
            cells.append(f"{fails.mean():.1%}")
            replayed = differences[: args.replay]
            mismatches += int(
                np.sum(
                    replay_through_compare(replayed, alpha=args.alpha, min_effect=args.min_effect)
                    != fails[: args.replay]
                )
            )
        mde = minimum_detectable_effect(1.0, n, alpha=args.alpha)
        row = [str(n), choose_paired_test(n), *cells, f"{mde:.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    print(
        f"Default gate (overall only, alpha {args.alpha:g}, --min-effect {args.min_effect:g}); paired noise "
        f"{args.noise} with sd {args.noise_sd:g}; {args.seeds} seeded trials per cell (seed {args.seed})."
    )
    print("\n".join(lines))
    replayed_total = args.replay * len(SAMPLE_SIZES) * len(EFFECTS)
    print(
        f"\nReplayed {replayed_total} trials through compare_results: {mismatches} decisions differ. "
        f"{time.perf_counter() - started:.0f} s."
    )
    if mismatches:
        raise SystemExit("the vectorised decision differs from compare_results: fix the benchmark")


if __name__ == "__main__":
    main()
