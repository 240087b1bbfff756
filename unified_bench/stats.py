"""Statistics of per-sample scores: summaries with a seeded bootstrap interval, paired tests, power."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Aggregates of one score over the samples that have it."""

    n: int
    mean: float
    std: float
    min: float
    max: float
    ci_low: float
    ci_high: float


def bootstrap_mean_ci(
    values: Sequence[float],
    *,
    seed: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean: resample with replacement ``n_resamples`` times.

    Deterministic for a given ``seed`` and order of ``values``.

    >>> low, high = bootstrap_mean_ci([0.1, 0.2, 0.3, 0.4], seed=0)
    >>> 0.1 <= low <= 0.25 <= high <= 0.4
    True
    """
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError("bootstrap needs a non-empty 1-D sequence")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    rng = np.random.Generator(np.random.PCG64(seed))
    # Resample in chunks so 10k x 100k samples never materialises one huge index matrix.
    means = np.empty(n_resamples, dtype=np.float64)
    chunk = max(1, 2_000_000 // data.size)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        indices = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[indices].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def summarize(
    values: Sequence[float],
    *,
    seed: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Summary:
    """Mean, sample std (ddof=1; 0 for one value), min, max and the bootstrap interval of the mean."""
    data = np.asarray(values, dtype=np.float64)
    low, high = bootstrap_mean_ci(data, seed=seed, n_resamples=n_resamples, confidence=confidence)
    return Summary(
        n=int(data.size),
        mean=float(data.mean()),
        std=float(data.std(ddof=1)) if data.size > 1 else 0.0,
        min=float(data.min()),
        max=float(data.max()),
        ci_low=low,
        ci_high=high,
    )


# -- paired tests --------------------------------------------------------------------------------
# Which test a paired comparison of n samples uses, and why (docs/ci-gating.md has the measurements):
# * n <= 16: exact sign-flip. Every one of the 2^n sign patterns is enumerated, so p is exact under
#   "no change" (baseline and candidate exchangeable per image, so d is symmetric about 0) without
#   a normality assumption that such n cannot check. Its smallest p is 2 / 2^n.
# * n >= 17: paired t. 2^n patterns are too many to enumerate; the t-test tests the mean (the number
#   the benchmark reports), is deterministic, keeps its level for symmetric differences, and its
#   power has a closed form, which the minimum detectable effect and --recommend-n use.
# * The Wilcoxon signed-rank test was measured and not chosen (benchmarks/gate_power.py
#   --compare-tests): it gains power when noise is heavy-tailed, but tests the pseudo-median, and a
#   regression concentrated in a few images (a checkpoint that breaks some prompts) moves the mean
#   far more than the median: at n = 100 it found such a regression 35% of the time, the t-test 82%.
SIGN_FLIP = "exact sign-flip"
WILCOXON = "Wilcoxon signed-rank"
PAIRED_T = "paired t"
SIGN_FLIP_MAX_N = 16
DEFAULT_POWER = 0.8


def choose_paired_test(n: int) -> str:
    """The test a comparison of ``n`` paired samples uses (see the comment above for why).

    >>> choose_paired_test(16), choose_paired_test(17)
    ('exact sign-flip', 'paired t')
    """
    return SIGN_FLIP if n <= SIGN_FLIP_MAX_N else PAIRED_T


def smallest_p_value(n: int) -> float:
    """The smallest two-sided p the test chosen for ``n`` can give: 2/2^n for the sign-flip, else 0."""
    return 2.0 / 2.0**n if choose_paired_test(n) == SIGN_FLIP else 0.0


def _zero_tolerance(d: np.ndarray) -> np.ndarray:
    # Differences of recomputed floats (an `overall` of unchanged scorers) are ~1e-17, not 0.
    return 1e-12 * np.maximum(1.0, np.abs(d).max(axis=-1, keepdims=True))


def sign_flip_p_value(differences: ArrayLike) -> np.ndarray:
    """Exact two-sided paired sign-flip test of ``mean(d) = 0`` over the last axis (n <= 16).

    Under the null each pair's difference is as likely positive as negative: p is the share of the
    2^n sign patterns whose |sum| reaches the observed one. Leading axes are independent tests.

    >>> float(sign_flip_p_value([0.1] * 5)), float(sign_flip_p_value([0.0, 0.0, 0.0]))
    (0.0625, 1.0)
    """
    d = np.asarray(differences, dtype=np.float64)
    n = d.shape[-1]
    if n == 0 or n > SIGN_FLIP_MAX_N:
        raise ValueError(f"the exact sign-flip test takes 1..{SIGN_FLIP_MAX_N} differences, got {n}")
    flat = d.reshape(-1, n)
    tolerance = _zero_tolerance(flat)[:, 0]
    observed = np.abs(flat.sum(axis=1))
    patterns = (((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1).astype(np.float64)
    p = np.empty(flat.shape[0])
    chunk = max(1, 2**22 // 2**n)  # bounds the (patterns x tests) matrix to ~32 MB
    for start in range(0, flat.shape[0], chunk):
        stop = start + chunk
        sums = np.abs(patterns @ flat[start:stop].T)
        p[start:stop] = np.mean(sums >= observed[start:stop] - tolerance[start:stop], axis=0)
    p = np.where(observed <= tolerance, 1.0, p)
    return p.reshape(d.shape[:-1]) if d.ndim > 1 else p[0]


def wilcoxon_p_value(differences: ArrayLike) -> np.ndarray:
    """Two-sided Wilcoxon signed-rank test over the last axis (scipy; exact without ties or zeros).

    Not chosen by the gate (see above); benchmarks/gate_power.py --compare-tests measures it.
    """
    import warnings

    from scipy import stats as scipy_stats

    d = np.asarray(differences, dtype=np.float64)
    d = np.where(np.abs(d) <= _zero_tolerance(d), 0.0, d)
    all_zero = np.all(d == 0.0, axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-zero row: p is nan, set to 1 below
        p = scipy_stats.wilcoxon(d, axis=-1).pvalue
    return np.where(all_zero, 1.0, p)


def paired_t_p_value(differences: ArrayLike) -> np.ndarray:
    """Two-sided one-sample t-test of ``mean(d) = 0`` over the last axis (zero spread: p is 0 or 1)."""
    from scipy import stats as scipy_stats

    d = np.asarray(differences, dtype=np.float64)
    n = d.shape[-1]
    mean = d.mean(axis=-1)
    sd = d.std(axis=-1, ddof=1)
    tolerance = _zero_tolerance(d)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(mean) / (sd / np.sqrt(n))
    p = 2.0 * scipy_stats.t.sf(t, df=n - 1)
    no_spread = sd <= tolerance
    return np.where(no_spread, np.where(np.abs(mean) <= tolerance, 1.0, 0.0), p)


def paired_test_p_value(differences: ArrayLike) -> tuple[str, np.ndarray]:
    """(test name, two-sided p) of the test chosen for the last axis' length; leading axes vectorise.

    >>> test, p = paired_test_p_value([-0.05] * 8)
    >>> test, float(p)
    ('exact sign-flip', 0.0078125)
    """
    d = np.asarray(differences, dtype=np.float64)
    n = d.shape[-1]
    if n < 2:
        raise ValueError("a paired test needs at least 2 differences")
    test = choose_paired_test(n)
    return test, sign_flip_p_value(d) if test == SIGN_FLIP else paired_t_p_value(d)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error control, any dependence between tests).

    >>> holm_adjust([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


# -- power ---------------------------------------------------------------------------------------
def minimum_detectable_effect(
    sd: float, n: int | np.ndarray, *, alpha: float, power: float = DEFAULT_POWER
) -> float | np.ndarray:
    """Smallest true mean difference the test chosen for ``n`` finds with probability ``power``.

    ``sd`` is the spread of the paired differences; ``alpha`` the two-sided level a single row must
    reach (``alpha / k`` for the first Holm step over k gated rows). Normal-theory approximation
    ``(t_{1-alpha/2} + t_{power}) sd / sqrt(n)`` with n - 1 degrees of freedom (the sign-flip test
    has about the t-test's power); infinite where the test cannot reach ``alpha`` at all (sign-flip,
    2/2^n >= alpha). benchmarks/gate_power.py measures how close this is.

    >>> round(float(minimum_detectable_effect(1.0, 100, alpha=0.05)), 3)
    0.283
    """
    from scipy import stats as scipy_stats

    n_array = np.asarray(n, dtype=np.float64)
    df = np.maximum(n_array - 1.0, 1.0)
    effect = (scipy_stats.t.ppf(1 - alpha / 2, df) + scipy_stats.t.ppf(power, df)) * sd / np.sqrt(n_array)
    unreachable = (n_array < 2) | ((n_array <= SIGN_FLIP_MAX_N) & (np.exp2(1.0 - n_array) >= alpha))
    effect = np.where(unreachable, np.inf, effect)
    return float(effect) if effect.ndim == 0 else effect


def recommended_sample_size(
    effect: float, sd: float, *, alpha: float, power: float = DEFAULT_POWER, max_n: int = 1_000_000
) -> int | None:
    """Smallest n whose minimum detectable effect is at most ``effect`` (None beyond ``max_n``).

    >>> recommended_sample_size(0.5, 1.0, alpha=0.05)  # half a noise sd
    34
    """
    if effect <= 0:
        raise ValueError("effect must be > 0")

    def detects(n: int) -> bool:
        return bool(minimum_detectable_effect(sd, n, alpha=alpha, power=power) <= effect)

    # The MDE never grows with n (the sign-flip floor only adds infinities at small n), so double
    # until it is small enough, then bisect: ~40 evaluations instead of max_n.
    if not detects(max_n):
        return None
    too_small, enough = 1, 2
    while not detects(enough):
        too_small, enough = enough, min(2 * enough, max_n)
    while enough - too_small > 1:
        middle = (too_small + enough) // 2
        too_small, enough = (too_small, middle) if detects(middle) else (middle, enough)
    return enough


def smallest_n_reaching(alpha: float) -> int:
    """Smallest n at which the test chosen for n can give p < ``alpha`` (6 for alpha 0.05)."""
    n = 2
    while smallest_p_value(n) >= alpha:
        n += 1
    return n
