"""Statistics and comparison details that mutation testing found unchecked (docs/testing.md).

Known answers and references written out here; tests/test_stats.py and tests/test_compare.py hold
the main specification.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

import unified_bench
from tests._synthetic import base_scores, make_results
from unified_bench.compare import (
    CompareReport,
    CompareSettings,
    Comparison,
    ScorerComparison,
    compare_results,
    format_mde,
    format_p,
    method_note,
    p_label,
    recommend_sample_sizes,
    to_markdown,
)
from unified_bench.errors import InputError, UserError
from unified_bench.repeats import combine_repeats
from unified_bench.results import write_results
from unified_bench.stats import (
    PAIRED_T,
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
    # the residue threshold scales with the differences: 1e-10 is residue next to 600
    large = np.array([300.0, -100.0, 200.0, 400.0, 1e-10, 500.0, -200.0, 600.0])
    cleaned = np.where(np.abs(large) < 1e-9, 0.0, large)
    assert float(wilcoxon_p_value(large)) == pytest.approx(float(scipy_stats.wilcoxon(cleaned).pvalue))
    rows = np.stack([np.zeros(8), np.array([0.3, -0.1, 0.2, 0.4, 0.7, 0.5, -0.2, 0.6])])
    p = wilcoxon_p_value(rows)
    assert p.shape == (2,) and p[0] == 1.0
    assert p[1] == pytest.approx(float(scipy_stats.wilcoxon(rows[1]).pvalue))


def test_holm_multiplies_the_k_th_smallest_p_by_m_minus_k_and_keeps_it_monotone():
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.04, 0.001, 0.2, 0.6]) == pytest.approx([0.12, 0.004, 0.4, 0.6])
    assert holm_adjust([0.6, 0.7]) == [1.0, 1.0]  # 2 x 0.6 capped at 1
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
    recommended = recommended_sample_size(effect, sd, alpha=alpha, power=power)
    assert isinstance(recommended, int) and recommended == expected


def test_an_effect_exactly_at_an_mde_needs_exactly_that_n():
    effect = float(minimum_detectable_effect(1.0, 50, alpha=0.05))
    assert recommended_sample_size(effect, 1.0, alpha=0.05) == 50


def test_recommended_sample_size_refuses_a_non_positive_effect_and_gives_up_past_max_n():
    with pytest.raises(ValueError, match=r"^effect must be > 0$"):
        recommended_sample_size(0.0, 1.0, alpha=0.05)
    assert recommended_sample_size(1e-4, 1.0, alpha=0.05, max_n=1000) is None


# -- compare: rendering, exit codes, JSON ----------------------------------------------------------
def row(scorer="overall", role="gate", verdict="tied", mde=0.0123456, higher_is_better=True, n=40, p=0.2):
    return ScorerComparison(
        scorer=scorer, higher_is_better=higher_is_better, role=role, n=n, baseline_mean=0.5,
        candidate_mean=0.49, difference=-0.01, ci_low=-0.02, ci_high=0.001, test=PAIRED_T, p_value=p,
        p_adjusted=p, sd_difference=0.03, mde=mde, verdict=verdict,
    )  # fmt: skip


def report(*rows, settings=None, gate_can_fail=True, warnings=(), skipped=(), models=(None, None)):
    comparison = Comparison(
        baseline="base", candidate="cand", baseline_model=models[0], candidate_model=models[1], n_paired=40,
        n_unpaired=0, rows=list(rows), skipped=list(skipped), warnings=list(warnings),
        gate_can_fail=gate_can_fail,
    )  # fmt: skip
    return CompareReport(settings=settings or CompareSettings(), comparisons=[comparison])


def test_p_values_and_mdes_are_printed_as_written_here():
    assert [format_p(p) for p in (0.0009, 0.001, 0.01234, 1.0)] == ["<0.001", "0.001", "0.012", "1.000"]
    assert format_mde(row(mde=None)) == "—"
    assert format_mde(row(mde=math.inf)) == "∞ (cannot fail)"
    assert format_mde(row(mde=0.0123456)) == "0.0123"
    assert p_label(CompareSettings()) == "p (Holm)" and p_label(CompareSettings(correction="none")) == "p"


def test_the_method_note_states_every_setting():
    settings = CompareSettings(
        alpha=0.01, min_effect=0.002, confidence=0.9, n_resamples=500, seed=7, correction="none",
        gate=("clip", "overall"),
    )  # fmt: skip
    assert method_note(settings) == (
        "Paired by sample id; Δ = candidate − baseline with a 90% paired bootstrap interval (500 resamples, "
        "seed 7). Gate: clip, overall; p is unadjusted, for the gated rows and, separately, the secondary "
        "rows. Test by n: exact sign-flip (n ≤ 16), paired t (n ≥ 17). A row is better/worse when p < 0.01 "
        "and |Δ| ≥ 0.002; only gated rows fail the job (secondary rows too with --fail-on any). MDE: the "
        "change a gated row finds with 80% power."
    )
    assert "p is Holm-adjusted within the gated rows" in method_note(CompareSettings())


REGRESSION = "❌ significant regression on the gate (overall); exit {}"
NO_REGRESSION = "✅ no significant regression on the gate (overall); exit 0"
SECONDARY_BETTER = (row(), row("clip", "secondary", "better"))


@pytest.mark.parametrize(
    ("rows", "gate_can_fail", "fail_on", "code", "headline"),
    [
        ((row(verdict="worse"),), True, "regression", 1, REGRESSION.format(1)),
        ((row(verdict="worse"),), True, "never", 0, REGRESSION.format(0)),
        (SECONDARY_BETTER, True, "regression", 0, NO_REGRESSION),
        (SECONDARY_BETTER, True, "any", 1, "❌ significant change (--fail-on any); exit 1"),
        ((row(), row("clip", "secondary")), True, "any", 0, NO_REGRESSION),
        (
            (row(n=4), row("clip", "secondary", n=3)),
            False,
            "regression",
            2,
            "⚠️ no verdict: the gate (overall) cannot fail at n = 4 (alpha 0.05); exit 2",
        ),
        ((row(n=4),), False, "never", 0, NO_REGRESSION),
    ],
)
def test_exit_code_and_headline_for_each_outcome(rows, gate_can_fail, fail_on, code, headline):
    compared = report(*rows, gate_can_fail=gate_can_fail)
    assert compared.exit_code(fail_on) == code
    assert compared.headline(fail_on) == headline


def test_an_unknown_fail_on_is_a_user_error():
    with pytest.raises(UserError, match=r"^--fail-on sometimes: use one of regression, any, never\.$"):
        report(row()).exit_code("sometimes")


def test_json_carries_the_verdict_flags_and_turns_infinity_into_null():
    compared = report(row(verdict="worse", mde=math.inf), row("clip", "secondary", "better"))
    obj = compared.to_json("regression")
    assert obj["verdict"] == compared.headline("regression") and obj["exit_code"] == 1
    assert obj["regressed"] is True and list(obj["settings"]["gate"]) == ["overall"]
    (comparison,) = obj["comparisons"]
    assert comparison["regressed"] is True and comparison["changed"] is True
    assert comparison["rows"][0]["mde"] is None and comparison["rows"][1]["mde"] == 0.0123456
    json.dumps(obj, allow_nan=False)  # strict JSON
    assert report(row()).to_json("any")["comparisons"][0]["changed"] is False


def test_the_markdown_summary_as_a_reviewer_reads_it():
    compared = report(
        row(verdict="worse", p=0.0004),
        row("lpips", "secondary", "better", mde=None, higher_is_better=False),
        warnings=["the gate is underpowered"],
        skipped=["ssim", "psnr"],
        models=("uae", "uae-v2"),
    )
    assert to_markdown(compared) == (
        "## unified-bench compare: ❌ significant regression on the gate (overall); exit 1\n"
        "\n"
        "> ⚠️ the gate is underpowered\n"
        "\n"
        "**Baseline** `base` vs **candidate** `cand` (uae → uae-v2), 40 paired samples\n"
        "\n"
        "| role | scorer | baseline | candidate | Δ mean [95% CI] | p (Holm) | test | MDE (80%) | verdict |\n"
        "|---|---|---:|---:|---:|---:|---|---:|---|\n"
        "| gate | **overall** | 0.5000 | 0.4900 | -0.0100 [-0.0200, +0.0010] | <0.001 | paired t | 0.0123 "
        "| 🔴 worse |\n"
        "| secondary | lpips (lower is better) | 0.5000 | 0.4900 | -0.0100 [-0.0200, +0.0010] | 0.200 | "
        "paired t | — | 🟢 better |\n"
        "\n"
        "> Not compared: ssim, psnr.\n"
        "\n"
        f"<sub>{method_note(CompareSettings())} Made by `unified-bench compare`.</sub>\n"
    )
    plain = to_markdown(report(row()))
    assert "**Baseline** `base` vs **candidate** `cand`, 40 paired samples\n" in plain
    assert "> ⚠️" not in plain and "Not compared" not in plain


# -- compare --recommend-n -----------------------------------------------------------------------
def brute_force_n(effect: float, sd: float, alpha: float) -> int:
    return next(n for n in range(2, 100_000) if reference_mde(sd, n, alpha) <= effect)


def test_recommend_n_from_a_plain_baseline_uses_each_gated_scorers_spread(tmp_path):
    scores = base_scores(30, 1)
    write_results(tmp_path / "base" / "results.json", make_results(scores))
    settings = CompareSettings(gate=("clip", "dinov2"), alpha=0.1)
    advice = recommend_sample_sizes(tmp_path / "base", [], 0.02, settings=settings)
    assert [item.scorer for item in advice] == ["clip", "dinov2"]
    for item, name in zip(advice, ("clip", "dinov2"), strict=True):
        sd = float(np.std(scores[name], ddof=1))
        assert item.sd == pytest.approx(sd) and item.effect == 0.02
        assert item.n == brute_force_n(0.02, sd, 0.05)  # Holm's first step over two gated rows
        assert (
            item.source
            == f"{tmp_path / 'base'}'s per-sample scores, assuming correlation 0.5 with the candidate"
        )


def test_recommend_n_with_a_candidate_uses_the_paired_differences(tmp_path):
    scores = base_scores(30, 2)
    shifted = {name: values + np.random.default_rng(3).normal(0, 0.01, 30) for name, values in scores.items()}
    write_results(tmp_path / "base.json", make_results(scores))
    write_results(tmp_path / "cand.json", make_results(shifted))
    settings = CompareSettings(gate=("clip",), n_resamples=200)
    (advice,) = recommend_sample_sizes(
        tmp_path / "base.json", [tmp_path / "cand.json"], 0.005, settings=settings
    )
    sd = float(np.std(shifted["clip"] - scores["clip"], ddof=1))
    assert advice.scorer == "clip" and advice.sd == pytest.approx(sd)
    assert advice.n == brute_force_n(0.005, sd, 0.05)
    assert advice.source == f"the paired differences with {tmp_path / 'cand.json'}"


def test_recommend_n_of_a_repeats_baseline_uses_the_first_two_seeds(tmp_path):
    scores = base_scores(20, 4)
    rng = np.random.default_rng(5)
    parts = [make_results({k: v + rng.normal(0, 0.02, 20) for k, v in scores.items()}) for _ in range(3)]
    run = tmp_path / "base"
    names = ["repeat-1", "repeat-2", "repeat-3"]
    for name, part in zip(names, parts, strict=True):
        write_results(run / name / "results.json", part)
    write_results(run / "results.json", combine_repeats(parts, runs=names, seeds=[0, 1, 2]))
    settings = CompareSettings(gate=("clip", "dinov2"))
    advice = recommend_sample_sizes(run, [], 0.01, settings=settings)
    assert [item.scorer for item in advice] == ["clip", "dinov2"]  # every gated scorer, in order
    for item in advice:
        first = parts[0].scorers[item.scorer].per_sample
        second = parts[1].scorers[item.scorer].per_sample
        sd = float(np.std([second[i] - first[i] for i in first], ddof=1)) / np.sqrt(3)
        assert item.sd == pytest.approx(sd)
        assert item.source == f"the seed noise between {run}/repeat-1 and {run}/repeat-2 / sqrt(3)"
    (run / "repeat-2" / "results.json").unlink()  # a seed folder gone: fall back to the per-sample spread
    assert "per-sample scores" in recommend_sample_sizes(run, [], 0.01, settings=settings)[0].source


def test_recommend_n_refuses_a_non_positive_effect(tmp_path):
    with pytest.raises(
        UserError, match=r"^--recommend-n 0: give the effect to detect, > 0, in the scorer's units\.$"
    ):
        recommend_sample_sizes(tmp_path / "nothing", [], 0)


def test_the_default_fail_on_is_regression():
    compared = report(row(), row("clip", "secondary", "better"))
    assert compared.exit_code() == compared.exit_code("regression") == 0  # "any" would give 1
    assert compared.headline() == NO_REGRESSION
    assert compared.to_json()["exit_code"] == 0


def test_a_row_uses_the_settings_bootstrap():
    scores = base_scores(30, 6)
    noise = np.random.default_rng(7).normal(0, 0.01, 30)
    shifted = {name: values + 0.01 + noise for name, values in scores.items()}
    settings = CompareSettings(gate=("clip",), n_resamples=300, confidence=0.8, seed=3)
    comparison = compare_results(make_results(scores), make_results(shifted), settings=settings)
    clip = next(item for item in comparison.rows if item.scorer == "clip")
    expected = reference_bootstrap(shifted["clip"] - scores["clip"], 3, 300, 0.8)
    assert (clip.ci_low, clip.ci_high) == pytest.approx(expected, abs=1e-12)
    assert clip.verdict == "better"


@pytest.mark.parametrize(
    ("difference", "p", "higher_is_better", "verdict"),
    [
        (0.01, 0.05, True, "tied"),  # p must be below alpha, not equal to it
        (0.002, 0.001, True, "better"),  # |Δ| equal to min_effect counts
        (-0.002, 0.001, False, "better"),
        (0.002, 0.001, False, "worse"),
    ],
)
def test_verdict_boundaries(difference, p, higher_is_better, verdict):
    from unified_bench.compare import _verdict

    settings = CompareSettings(alpha=0.05, min_effect=0.002)
    assert _verdict(difference, p, higher_is_better, settings) == verdict


# -- bad input held in memory, partial overlap, the gated rows' MDE (issue 19) ------------------
def in_memory_pair(n: int = 24, seed: int = 5):
    """Two runs on the same ids, built in memory (as ``run``/``score`` return them), never read from disk."""
    scores = base_scores(n, seed)
    shifted = {name: values + 0.01 for name, values in scores.items()}
    return make_results(scores), make_results(shifted, model="candidate")


def with_per_sample(results, scorer: str, table: dict[str, float]):
    """``results`` with the per-sample table of ``scorer`` replaced, nothing else recomputed."""
    summaries = {**results.scorers, scorer: replace(results.scorers[scorer], per_sample=table)}
    return replace(results, scorers=summaries)


def nan_in_clip(results, sample_id: str = "img003"):
    table = dict(results.scorers["clip"].per_sample)
    table[sample_id] = math.nan
    return with_per_sample(results, "clip", table)


NOT_FINITE = r"'clip' of sample 'img003' is nan \(not a finite number\)"


def test_a_nan_in_an_in_memory_baseline_is_refused_naming_the_baseline():
    baseline, candidate = in_memory_pair()
    baseline = nan_in_clip(baseline)
    with pytest.raises(InputError, match=rf"^baseline: {NOT_FINITE}"):
        compare_results(baseline, candidate, settings=CompareSettings(gate=("clip",)))
    with pytest.raises(InputError, match=rf"^baseline: {NOT_FINITE}"):  # a secondary row too
        compare_results(baseline, candidate, settings=CompareSettings(gate=("dinov2",)), scorers=["clip"])
    with pytest.raises(InputError, match=rf"^synthetic: {NOT_FINITE}"):  # the API labels it by its model
        unified_bench.compare_runs(baseline, candidate, gate=["clip"])


def test_an_empty_in_memory_baseline_is_refused_naming_the_baseline():
    baseline, candidate = in_memory_pair()
    no_clip = with_per_sample(baseline, "clip", {})
    with pytest.raises(InputError, match=r"^baseline: the per-sample table of 'clip' is empty"):
        compare_results(no_clip, candidate, settings=CompareSettings(gate=("clip",)))
    no_ids = replace(baseline, samples={**baseline.samples, "ids": []})
    with pytest.raises(InputError, match=r"^baseline: no sample ids \(samples.ids is empty\)"):
        compare_results(no_ids, candidate, settings=CompareSettings(gate=("clip",)))


def test_a_candidate_that_only_lacks_ids_is_refused_without_allow_partial():
    baseline, candidate = in_memory_pair()
    kept = [i for i in candidate.samples["ids"] if i not in ("img005", "img010")]
    fewer = replace(candidate, samples={**candidate.samples, "ids": kept})
    with pytest.raises(
        InputError,
        match=r"^candidate: its sample ids differ from baseline's \(2 of the baseline's "
        r"24 missing, 0 extra; first missing: 'img005'\)",
    ):
        compare_results(baseline, fewer, settings=CompareSettings(gate=("clip",)))
    partial = compare_results(baseline, fewer, settings=CompareSettings(gate=("clip",), allow_partial=True))
    assert partial.n_paired == 22 and partial.n_unpaired == 2


def test_a_candidate_that_only_lacks_one_score_is_refused_without_allow_partial():
    baseline, candidate = in_memory_pair()
    table = {i: v for i, v in candidate.scorers["clip"].per_sample.items() if i != "img007"}
    lacking = with_per_sample(candidate, "clip", table)
    with pytest.raises(
        InputError, match=r"^candidate: no 'clip' score for sample 'img007', which baseline scored"
    ):
        compare_results(baseline, lacking, settings=CompareSettings(gate=("clip",)))
    partial = compare_results(baseline, lacking, settings=CompareSettings(gate=("clip",), allow_partial=True))
    assert partial.rows[0].n == 23


def test_each_of_several_gated_rows_gets_the_mde_at_the_first_holm_step():
    """Three gated rows at alpha 0.05: each row's MDE is at 0.05 / 3, the level it must reach alone."""
    baseline, candidate = in_memory_pair(n=40)
    rng = np.random.default_rng(11)
    noisy = {
        name: np.array([candidate.scorers[name].per_sample[i] for i in candidate.samples["ids"]])
        + rng.normal(0, 0.02, 40)
        for name in ("clip", "dinov2", "dinov3")
    }
    candidate = make_results(
        {
            **{n: [s.per_sample[i] for i in candidate.samples["ids"]] for n, s in candidate.scorers.items()},
            **noisy,
        },
        model="candidate",
    )
    gate = ("clip", "dinov2", "dinov3")
    compared = compare_results(baseline, candidate, settings=CompareSettings(gate=gate, alpha=0.05))
    rows = {row.scorer: row for row in compared.rows if row.role == "gate"}
    assert set(rows) == set(gate)
    for name, row in rows.items():
        base = np.array([baseline.scorers[name].per_sample[i] for i in baseline.samples["ids"]])
        sd = float(np.std(noisy[name] - base, ddof=1))
        assert row.mde == pytest.approx(reference_mde(sd, 40, 0.05 / 3)), name
        assert row.mde > reference_mde(sd, 40, 0.05) * 1.05  # visibly not the unadjusted level
    alone = compare_results(baseline, candidate, settings=CompareSettings(gate=("clip",), alpha=0.05))
    assert alone.rows[0].mde == pytest.approx(reference_mde(rows["clip"].sd_difference, 40, 0.05))
