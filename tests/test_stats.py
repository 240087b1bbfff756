"""The bootstrap interval of the mean: seeded, correct, and calibrated."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from unified_bench.stats import bootstrap_mean_ci, summarize


def test_same_seed_gives_the_same_interval_and_another_seed_a_different_one():
    values = np.random.default_rng(1).normal(size=50)
    assert bootstrap_mean_ci(values, seed=3) == bootstrap_mean_ci(values, seed=3)
    assert bootstrap_mean_ci(values, seed=3) != bootstrap_mean_ci(values, seed=4)


def test_constant_scores_have_a_zero_width_interval():
    assert bootstrap_mean_ci([0.7] * 20, seed=0) == pytest.approx((0.7, 0.7))


def test_interval_agrees_with_scipys_percentile_bootstrap():
    values = np.random.default_rng(2).uniform(0.5, 0.9, size=100)
    ours = bootstrap_mean_ci(values, seed=0, n_resamples=20_000)
    theirs = scipy_stats.bootstrap(
        (values,), np.mean, method="percentile", n_resamples=20_000, random_state=np.random.default_rng(0)
    ).confidence_interval
    assert ours[0] == pytest.approx(theirs.low, abs=2e-3)
    assert ours[1] == pytest.approx(theirs.high, abs=2e-3)


def test_95_percent_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(5)
    trials = 300
    covered = sum(
        low <= 0.0 <= high
        for low, high in (
            bootstrap_mean_ci(rng.normal(size=60), seed=t, n_resamples=1_000) for t in range(trials)
        )
    )
    assert 0.88 <= covered / trials <= 0.99


def test_summary_reports_mean_spread_and_extremes():
    summary = summarize([0.2, 0.4, 0.9], seed=0, n_resamples=500)
    assert summary.n == 3
    assert summary.mean == pytest.approx(0.5)
    assert summary.std == pytest.approx(np.std([0.2, 0.4, 0.9], ddof=1))
    assert (summary.min, summary.max) == (0.2, 0.9)
    assert summary.ci_low <= summary.mean <= summary.ci_high


def test_empty_input_is_rejected():
    with pytest.raises(ValueError):
        bootstrap_mean_ci([], seed=0)
