"""Statistics: the bootstrap interval, the paired tests chosen by n, and their power."""

import itertools

import numpy as np
import pytest
from scipy import stats as scipy_stats

from unified_bench.stats import (
    PAIRED_T,
    SIGN_FLIP,
    bootstrap_mean_ci,
    choose_paired_test,
    minimum_detectable_effect,
    paired_t_p_value,
    paired_test_p_value,
    recommended_sample_size,
    sign_flip_p_value,
    smallest_n_reaching,
    smallest_p_value,
    summarize,
    wilcoxon_p_value,
)


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


# -- paired tests: each against an independent reference -----------------------------------------
def _enumerated_sign_flip_p(d):
    """Reference: loop over every sign pattern with itertools, count |sum| >= observed."""
    observed = abs(sum(d))
    patterns = list(itertools.product((1, -1), repeat=len(d)))
    hits = sum(
        abs(sum(s * x for s, x in zip(signs, d, strict=True))) >= observed - 1e-12 for signs in patterns
    )
    return hits / len(patterns)


def test_sign_flip_p_is_the_share_of_sign_patterns_at_least_as_extreme():
    rng = np.random.default_rng(3)
    batch = rng.normal(0.3, 1.0, size=(5, 9))
    expected = [_enumerated_sign_flip_p(row) for row in batch]
    assert sign_flip_p_value(batch) == pytest.approx(expected)  # leading axis: independent tests
    assert float(sign_flip_p_value([0.1] * 5)) == 2 / 2**5  # the smallest p at n = 5 is above 0.05
    assert float(sign_flip_p_value([1e-18, -1e-18, 0.0])) == 1.0  # float noise is no change


def _exact_signed_rank_p(d):
    """Reference: the exact null distribution of W+ by enumerating which ranks are positive."""
    ranks = scipy_stats.rankdata(np.abs(d))
    w_plus = ranks[d > 0].sum()
    positive = ((np.arange(2 ** len(d))[:, None] >> np.arange(len(d))) & 1).astype(bool)
    null = (positive * ranks).sum(axis=1)
    return min(1.0, 2 * min(np.mean(null <= w_plus), np.mean(null >= w_plus)))


def test_wilcoxon_p_matches_the_enumerated_exact_distribution():
    d = np.random.default_rng(4).normal(0.4, 1.0, size=17)
    assert float(wilcoxon_p_value(d)) == pytest.approx(_exact_signed_rank_p(d), rel=1e-9)
    assert float(wilcoxon_p_value(np.zeros(20))) == 1.0


def test_paired_t_matches_the_textbook_one_sample_t_test():
    d = np.random.default_rng(5).normal(0.1, 1.0, size=(3, 60))
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / np.sqrt(60))
    expected = [2 * scipy_stats.t.sf(abs(v), df=59) for v in t]
    assert paired_t_p_value(d) == pytest.approx(expected, rel=1e-9)
    assert float(paired_t_p_value(np.full(60, -0.05))) == 0.0  # a uniform shift: no spread, certain
    assert float(paired_t_p_value(np.zeros(60))) == 1.0


@pytest.mark.parametrize(("n", "test"), [(2, SIGN_FLIP), (16, SIGN_FLIP), (17, PAIRED_T), (100, PAIRED_T)])
def test_the_test_is_chosen_by_n(n, test):
    assert choose_paired_test(n) == test
    assert paired_test_p_value(np.linspace(-1, 2, n))[0] == test


def test_the_sign_flip_floor_decides_when_alpha_is_reachable():
    assert smallest_p_value(5) == 2 / 32 and smallest_p_value(6) == 2 / 64
    assert smallest_n_reaching(0.05) == 6  # 2/2^5 = 0.0625, 2/2^6 = 0.031
    assert smallest_n_reaching(0.05 / 5) == 8  # five gated rows: 2/2^8 = 0.0078 < 0.01
    assert minimum_detectable_effect(1.0, 5, alpha=0.05) == np.inf


def _noncentral_t_power(effect, sd, n, alpha):
    """Reference: exact power of the two-sided one-sample t-test (noncentral t distribution)."""
    critical = scipy_stats.t.ppf(1 - alpha / 2, n - 1)
    noncentrality = effect / sd * np.sqrt(n)
    return scipy_stats.nct.sf(critical, n - 1, noncentrality) + scipy_stats.nct.cdf(
        -critical, n - 1, noncentrality
    )


@pytest.mark.parametrize("n", [50, 100, 400])
def test_minimum_detectable_effect_has_80_percent_power(n):
    mde = minimum_detectable_effect(0.03, n, alpha=0.05)
    assert _noncentral_t_power(mde, 0.03, n, 0.05) == pytest.approx(0.80, abs=0.01)


def test_minimum_detectable_effect_of_the_sign_flip_test_holds_in_simulation():
    """n = 12 (exact sign-flip): simulated power at the MDE is close to 80%."""
    rng = np.random.default_rng(6)
    mde = minimum_detectable_effect(1.0, 12, alpha=0.05)
    p = sign_flip_p_value(rng.normal(mde, 1.0, size=(2000, 12)))
    assert 0.70 <= np.mean(p < 0.05) <= 0.85  # the discrete test loses a little power


def test_recommended_sample_size_is_the_smallest_n_with_80_percent_power():
    n = recommended_sample_size(0.01, 0.03, alpha=0.05)
    assert n is not None and n > 16  # paired t region
    assert _noncentral_t_power(0.01, 0.03, n, 0.05) >= 0.795
    assert _noncentral_t_power(0.01, 0.03, n - 2, 0.05) < 0.80
    assert recommended_sample_size(0.01, 0.0, alpha=0.05) == 6  # no spread: only the sign-flip floor
    assert recommended_sample_size(1e-6, 1.0, alpha=0.05, max_n=1000) is None
