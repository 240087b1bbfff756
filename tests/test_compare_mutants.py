"""Statistics and comparison details that mutation testing found unchecked (docs/testing.md).

Known answers and references written out here; tests/test_stats.py and tests/test_compare.py hold
the main specification.
"""

from __future__ import annotations

import numpy as np
import pytest

from unified_bench.stats import (
    SIGN_FLIP,
    bootstrap_mean_ci,
    holm_adjust,
    minimum_detectable_effect,
    paired_test_p_value,
    recommended_sample_size,
    sign_flip_p_value,
    smallest_n_reaching,
    smallest_p_value,
    summarize,
    wilcoxon_p_value,
)


def reference_bootstrap(
    values: np.ndarray, seed: int, n_resamples: int, confidence: float
) -> tuple[float, float]:
    """The recorded protocol in one go: PCG64(seed) draws an n_resamples x n index matrix of
    0..n-1, row means, then the (1 - c) / 2 and (1 + c) / 2 quantiles (numpy's default, linear)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    indices = rng.integers(0, values.size, size=(n_resamples, values.size))
    means = values[indices].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


# -- the bootstrap ------------------------------------------------------------------------------
@pytest.mark.parametrize(("size", "n_resamples", "confidence"), [(7, 400, 0.95), (1500, 3000, 0.8)])
def test_bootstrap_interval_is_the_seeded_percentile_protocol_exactly(size, n_resamples, confidence):
    # 1500 values make the implementation draw in chunks of 1333 resamples; the draws must not change
    values = np.random.default_rng(size).normal(size=size)
    ours = bootstrap_mean_ci(values, seed=11, n_resamples=n_resamples, confidence=confidence)
    assert ours == pytest.approx(reference_bootstrap(values, 11, n_resamples, confidence), abs=1e-12)


def test_summary_passes_its_seed_resamples_and_confidence_to_the_interval():
    values = np.random.default_rng(3).normal(size=12)
    summary = summarize(values, seed=5, n_resamples=300, confidence=0.7)
    assert (summary.ci_low, summary.ci_high) == pytest.approx(
        reference_bootstrap(values, 5, 300, 0.7), abs=1e-12
    )


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.1])
def test_a_confidence_outside_0_1_is_refused(confidence):
    with pytest.raises(ValueError, match=r"^confidence must be in \(0, 1\)$"):
        bootstrap_mean_ci([0.1, 0.2], seed=0, confidence=confidence)


@pytest.mark.parametrize("values", [[], [[0.1, 0.2]]])
def test_an_empty_or_2d_input_is_refused(values):
    with pytest.raises(ValueError, match=r"^bootstrap needs a non-empty 1-D sequence$"):
        bootstrap_mean_ci(values, seed=0)


def test_summary_std_is_zero_for_one_value_and_the_sample_std_for_two():
    assert summarize([0.5], seed=0, n_resamples=50).std == 0.0
    assert summarize([0.2, 0.6], seed=0, n_resamples=50).std == pytest.approx(0.4 / np.sqrt(2))


# -- the paired tests -----------------------------------------------------------------------------
def test_the_smallest_p_of_each_test():
    assert smallest_p_value(16) == 2.0 / 2.0**16
    assert smallest_p_value(17) == 0.0


@pytest.mark.parametrize(("alpha", "n"), [(0.05, 6), (0.1, 5), (0.0625, 6), (0.6, 2)])
def test_smallest_n_reaching_alpha_is_the_first_with_2_over_2_to_the_n_below_it(alpha, n):
    assert smallest_n_reaching(alpha) == n


def test_sign_flip_takes_one_to_sixteen_differences():
    assert sign_flip_p_value([0.3]) == 1.0  # one difference: both signs are as extreme
    for bad in ([], [0.1] * 17):
        with pytest.raises(ValueError, match=r"^the exact sign-flip test takes 1\.\.16 differences, got"):
            sign_flip_p_value(bad)


def test_one_row_gives_a_float_and_leading_axes_give_one_p_per_row():
    differences = np.random.default_rng(4).normal(0.1, 1.0, size=(2, 3, 70, 16))
    p = sign_flip_p_value(differences)  # 420 rows of 16: several chunks of rows
    assert p.shape == (2, 3, 70)
    rows = differences.reshape(-1, 16)
    expected = [sign_flip_p_value(row) for row in rows[::37]]
    assert p.reshape(-1)[::37].tolist() == pytest.approx(expected)
    assert isinstance(sign_flip_p_value(rows[0]), float)


def test_the_chosen_test_is_the_exact_sign_flip_up_to_16_differences():
    assert paired_test_p_value([-0.05] * 8) == (SIGN_FLIP, pytest.approx(2.0 / 2.0**8))
    with pytest.raises(ValueError, match=r"^a paired test needs at least 2 differences$"):
        paired_test_p_value([0.1])


def test_wilcoxon_zeroes_float_residue_and_tests_each_row():
    from scipy import stats as scipy_stats

    residue = np.array([0.3, -0.1, 0.2, 0.4, 1e-17, 0.5, -0.2, 0.6])
    cleaned = np.where(np.abs(residue) < 1e-9, 0.0, residue)
    assert float(wilcoxon_p_value(residue)) == pytest.approx(float(scipy_stats.wilcoxon(cleaned).pvalue))
    rows = np.stack([np.zeros(8), np.array([0.3, -0.1, 0.2, 0.4, 0.7, 0.5, -0.2, 0.6])])
    p = wilcoxon_p_value(rows)
    assert p.shape == (2,) and p[0] == 1.0
    assert p[1] == pytest.approx(float(scipy_stats.wilcoxon(rows[1]).pvalue))


def test_holm_multiplies_the_k_th_smallest_p_by_m_minus_k_and_keeps_it_monotone():
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.04, 0.001, 0.2, 0.6]) == pytest.approx([0.12, 0.004, 0.4, 0.6])
    assert holm_adjust([0.5, 0.7]) == [1.0, 1.0]  # capped
    assert holm_adjust([0.02]) == [0.02] and holm_adjust([]) == []


# -- power ---------------------------------------------------------------------------------------
def reference_mde(sd: float, n: int, alpha: float, power: float = 0.8) -> float:
    """(t_{1-alpha/2} + t_power) sd / sqrt(n), df = n - 1; infinite where p < alpha is out of reach."""
    from scipy import stats as scipy_stats

    if n < 2 or (n <= 16 and 2.0 / 2.0**n >= alpha):
        return float("inf")
    df = n - 1
    return float((scipy_stats.t.ppf(1 - alpha / 2, df) + scipy_stats.t.ppf(power, df)) * sd / np.sqrt(n))


@pytest.mark.parametrize(
    ("n", "alpha"),
    [(2, 0.6), (3, 0.3), (5, 0.0625), (5, 0.07), (16, 1e-5), (16, 1e-4), (20, 0.05), (1, 0.9)],
)
def test_minimum_detectable_effect_is_the_t_formula_where_alpha_is_reachable(n, alpha):
    assert minimum_detectable_effect(0.3, n, alpha=alpha) == pytest.approx(reference_mde(0.3, n, alpha))


def test_minimum_detectable_effect_keeps_the_shape_of_n():
    scalar = minimum_detectable_effect(1.0, 30, alpha=0.05, power=0.9)
    assert isinstance(scalar, float) and scalar == pytest.approx(reference_mde(1.0, 30, 0.05, 0.9))
    array = minimum_detectable_effect(1.0, np.array([30, 40]), alpha=0.05)
    assert isinstance(array, np.ndarray) and array.tolist() == pytest.approx(
        [reference_mde(1.0, 30, 0.05), reference_mde(1.0, 40, 0.05)]
    )


@pytest.mark.parametrize(
    ("effect", "sd", "alpha", "power"),
    [(0.5, 1.0, 0.05, 0.8), (0.21, 1.0, 0.01, 0.9), (1.7, 1.0, 0.05, 0.8), (0.05, 0.2, 0.05, 0.95)],
)
def test_recommended_sample_size_is_the_first_n_whose_mde_reaches_the_effect(effect, sd, alpha, power):
    expected = next(n for n in range(2, 10_000) if reference_mde(sd, n, alpha, power) <= effect)
    assert recommended_sample_size(effect, sd, alpha=alpha, power=power) == expected


def test_an_effect_exactly_at_an_mde_needs_exactly_that_n():
    effect = float(minimum_detectable_effect(1.0, 50, alpha=0.05))
    assert recommended_sample_size(effect, 1.0, alpha=0.05) == 50


def test_recommended_sample_size_refuses_a_non_positive_effect_and_gives_up_past_max_n():
    with pytest.raises(ValueError, match=r"^effect must be > 0$"):
        recommended_sample_size(0.0, 1.0, alpha=0.05)
    assert recommended_sample_size(1e-4, 1.0, alpha=0.05, max_n=1000) is None
