"""compare: paired statistics, verdicts, exit codes, refusals; --repeats combines seeds."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from tests._synthetic import PIXEL_SCORER, base_scores, make_results, sample_ids, scorer_fingerprint
from unified_bench.compare import (
    CompareSettings,
    ComparisonRefused,
    compare_results,
    holm_adjust,
    sign_flip_p_value,
    to_markdown,
)
from unified_bench.errors import InputError
from unified_bench.repeats import combine_repeats
from unified_bench.results import PAPER_SCORERS, read_results, write_results

FAST = CompareSettings(n_resamples=1000)


def _pair(n=100, seed=0, shift=0.0, noise=0.02, scorers=(*PAPER_SCORERS, PIXEL_SCORER), **kwargs):
    """Baseline and candidate scores: candidate = baseline + shift (direction-aware) + paired noise."""
    rng = np.random.default_rng(seed + 10_000)
    base = base_scores(n, seed, scorers)
    cand = {}
    for name, values in base.items():
        sign = -1.0 if name == PIXEL_SCORER else 1.0  # a "better" candidate has lower lpips
        cand[name] = values + sign * shift + rng.normal(0, noise, n)
    return make_results(base, **kwargs), make_results(cand, **kwargs)


def _write_pair(tmp_path, baseline, candidate):
    write_results(tmp_path / "base" / "results.json", baseline)
    write_results(tmp_path / "cand.json", candidate)
    return tmp_path / "base", tmp_path / "cand.json"


# -- the gate ------------------------------------------------------------------------------------
def test_planted_regression_fails_the_gate_with_exit_1(cli, tmp_path):
    baseline, candidate = _pair(shift=-0.03)
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    result = cli("compare", base_path, cand_path, "--resamples", "1000")
    assert result.code == 1
    assert "worse" in result.out and "significant regression" in result.err


def test_noise_only_passes_the_gate_with_exit_0(cli, tmp_path):
    baseline, candidate = _pair(shift=0.0)
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    result = cli("compare", base_path, cand_path, "--resamples", "1000")
    assert result.code == 0, result.out
    assert "no significant regression" in result.err


def test_false_alarm_rate_on_noise_stays_near_alpha():
    """200 noise-only comparisons: a single scorer flags about alpha of them, the whole gate no more."""
    alpha, trials = 0.05, 200
    settings = CompareSettings(alpha=alpha, min_effect=0.0, n_resamples=500)
    single_flags = gate_flags = 0
    for seed in range(trials):
        baseline, candidate = _pair(n=60, seed=seed, noise=0.05)
        single = compare_results(baseline, candidate, scorers=["clip"], settings=settings)
        single_flags += single.rows[0].verdict != "tied"
        gate_flags += compare_results(baseline, candidate, settings=settings).changed
    single_rate, gate_rate = single_flags / trials, gate_flags / trials
    # binomial sd at p=0.05, n=200 is 0.015: these bounds are ~2.5 sd wide
    assert 0.015 <= single_rate <= 0.09, single_rate
    assert gate_rate <= 0.10, gate_rate  # Holm keeps the family of 6 rows at alpha, not 6 x alpha


def test_improvement_is_better_and_fails_only_with_fail_on_any(cli, tmp_path):
    baseline, candidate = _pair(shift=0.03)
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    assert cli("compare", base_path, cand_path, "--resamples", "1000").code == 0
    assert cli("compare", base_path, cand_path, "--resamples", "1000", "--fail-on", "any").code == 1
    assert cli("compare", cand_path, base_path, "--resamples", "1000", "--fail-on", "never").code == 0


def test_direction_comes_from_higher_is_better():
    baseline, candidate = _pair(shift=0.05, noise=0.01)  # lpips went down: better
    rows = {r.scorer: r for r in compare_results(baseline, candidate, settings=FAST).rows}
    assert rows[PIXEL_SCORER].difference < 0 and rows[PIXEL_SCORER].verdict == "better"
    assert rows["clip"].difference > 0 and rows["clip"].verdict == "better"
    reverse = {r.scorer: r for r in compare_results(candidate, baseline, settings=FAST).rows}
    assert reverse[PIXEL_SCORER].verdict == "worse" and reverse["overall"].verdict == "worse"


def test_min_effect_turns_a_significant_but_tiny_drop_into_a_tie():
    baseline, candidate = _pair(shift=-0.002, noise=0.001)
    strict = compare_results(baseline, candidate, scorers=["clip"], settings=replace(FAST, min_effect=0.0))
    lenient = compare_results(baseline, candidate, scorers=["clip"], settings=replace(FAST, min_effect=0.005))
    assert strict.rows[0].p_adjusted < 0.05 and strict.rows[0].verdict == "worse"
    assert lenient.rows[0].verdict == "tied"


def test_overall_row_comes_first_and_interval_brackets_the_mean_difference():
    baseline, candidate = _pair(shift=-0.02)
    comparison = compare_results(baseline, candidate, settings=FAST)
    assert comparison.rows[0].scorer == "overall"
    for row in comparison.rows:
        assert row.ci_low <= row.difference <= row.ci_high
        assert row.difference == pytest.approx(row.candidate_mean - row.baseline_mean)
        assert row.p_value <= row.p_adjusted <= 1.0


def test_pairs_by_sample_id_not_by_position():
    baseline, candidate = _pair(shift=-0.03)
    obj = candidate.to_json()
    obj["samples"]["ids"] = list(reversed(obj["samples"]["ids"]))
    shuffled = replace(candidate, samples=obj["samples"])
    a = compare_results(baseline, candidate, settings=FAST)
    b = compare_results(baseline, shuffled, settings=FAST)
    assert [r.difference for r in a.rows] == pytest.approx([r.difference for r in b.rows])


def test_only_shared_ids_are_paired_and_the_rest_is_reported():
    n = 40
    baseline = make_results(base_scores(n, 1))
    part = {k: v[:30] for k, v in base_scores(n, 1).items()}
    candidate = make_results(part, ids=sample_ids(n)[:30])
    comparison = compare_results(baseline, candidate, settings=FAST)
    assert comparison.n_paired == 30 and comparison.n_unpaired == 10
    assert all(r.n == 30 and r.verdict == "tied" and r.difference == 0 for r in comparison.rows)


def test_same_seed_gives_the_same_numbers():
    baseline, candidate = _pair(shift=-0.01)
    assert compare_results(baseline, candidate, settings=FAST) == compare_results(
        baseline, candidate, settings=FAST
    )


# -- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dataset_fingerprint": "sha256:" + "1" * 64}, "different images"),
        ({"protocol": "native"}, "protocol"),
        (
            {"fingerprints": {"dinov2": scorer_fingerprint("dinov2", "other weights")}},
            "scorer 'dinov2' differs",
        ),
    ],
)
def test_mismatched_dataset_protocol_or_scorer_weights_are_refused_with_exit_2(
    cli, tmp_path, change, message
):
    baseline = make_results(base_scores(20, 0))
    candidate = make_results(base_scores(20, 1), **change)
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    result = cli("compare", base_path, cand_path)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    with pytest.raises(ComparisonRefused):
        compare_results(baseline, candidate)


def test_a_requested_scorer_missing_from_one_run_is_refused(cli, tmp_path):
    baseline = make_results(base_scores(20, 0))
    candidate = make_results(base_scores(20, 1, scorers=("clip",)))
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    assert cli("compare", base_path, cand_path, "--scorer", "dinov2").code == 2
    only_clip = compare_results(baseline, candidate, settings=FAST)  # default: what both have
    assert [r.scorer for r in only_clip.rows] == ["clip"]
    assert "overall (averages different scorers)" in only_clip.skipped


def test_overall_over_different_components_is_refused():
    baseline = make_results(base_scores(20, 0))
    candidate = make_results(base_scores(20, 1, scorers=("clip", "dinov2")))
    with pytest.raises(ComparisonRefused, match="overall averages"):
        compare_results(baseline, candidate, scorers=["overall"])


def test_an_unreadable_baseline_exits_2_with_one_line(cli, tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    result = cli("compare", tmp_path / "bad.json", tmp_path / "bad.json")
    assert result.code == 2 and "not valid JSON" in result.err


# -- output formats ------------------------------------------------------------------------------
def test_markdown_is_a_pr_comment_table(cli, tmp_path):
    baseline, candidate = _pair(shift=-0.03)
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    result = cli("compare", base_path, cand_path, "--format", "markdown", "--resamples", "1000")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith("## unified-bench compare: ❌ significant regression")
    assert "| scorer | baseline | candidate | Δ mean [95% CI] | p (adj.) | verdict |" in lines
    assert any(line.startswith("| **overall** |") and "worse" in line for line in lines)
    assert "lpips (lower is better)" in result.out


def test_json_output_carries_every_number_and_the_exit_code(cli, tmp_path):
    baseline, candidate = _pair(shift=0.0)
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    result = cli("compare", base_path, cand_path, "--format", "json", "--resamples", "1000")
    obj = json.loads(result.out)
    assert obj["exit_code"] == result.code == 0
    rows = obj["comparisons"][0]["rows"]
    assert {r["scorer"] for r in rows} == {"overall", *PAPER_SCORERS, PIXEL_SCORER}
    assert all(
        {"difference", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict"} <= r.keys() for r in rows
    )


def test_several_candidates_are_each_compared_with_the_baseline(tmp_path):
    from unified_bench.compare import compare_paths

    baseline, worse = _pair(shift=-0.03)
    _, same = _pair(shift=0.0)
    write_results(tmp_path / "b.json", baseline)
    write_results(tmp_path / "w.json", worse)
    write_results(tmp_path / "s.json", same)
    report = compare_paths(tmp_path / "b.json", [tmp_path / "s.json", tmp_path / "w.json"], settings=FAST)
    assert [c.regressed for c in report.comparisons] == [False, True]
    assert report.exit_code("regression") == 1
    assert "w.json" in to_markdown(report)


# -- the statistics themselves -------------------------------------------------------------------
def test_sign_flip_test_is_exact_for_small_samples():
    assert sign_flip_p_value([1.0] * 5, seed=0) == pytest.approx(2 / 32)  # only all-plus and all-minus
    assert sign_flip_p_value([1.0, -1.0, 1.0, -1.0], seed=0) == 1.0


def test_sign_flip_test_never_reports_zero_and_detects_a_shift():
    p = sign_flip_p_value(np.full(200, 0.01), seed=3, n_resamples=999)
    assert p == pytest.approx(1 / 1000)


def test_holm_adjustment_is_monotone_and_capped_at_one():
    assert holm_adjust([0.01, 0.02, 0.5]) == pytest.approx([0.03, 0.04, 0.5])
    assert holm_adjust([0.9, 0.8]) == [1.0, 1.0]
    assert holm_adjust([0.04, 0.03]) == [0.06, 0.06]


def test_bad_settings_are_user_errors(cli, tmp_path):
    baseline, candidate = _pair()
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    assert cli("compare", base_path, cand_path, "--alpha", "1.5").code == 2
    assert cli("compare", base_path, cand_path, "--min-effect", "-1").code == 2


# -- repeats -------------------------------------------------------------------------------------
def _repeat_parts(k=3, n=30):
    scores = base_scores(n, 5)
    rng = np.random.default_rng(9)
    return [make_results({name: v + rng.normal(0, 0.02, n) for name, v in scores.items()}) for _ in range(k)]


def test_repeats_average_each_sample_over_seeds_and_report_the_seed_spread():
    parts = _repeat_parts()
    combined = combine_repeats(parts, runs=["repeat-1", "repeat-2", "repeat-3"], seeds=[0, 1, 2])
    first_id = combined.samples["ids"][0]
    expected = np.mean([p.scorers["clip"].per_sample[first_id] for p in parts])
    assert combined.scorers["clip"].per_sample[first_id] == pytest.approx(expected)
    means = [p.scorers["clip"].mean for p in parts]
    assert combined.repeats["scorers"]["clip"]["means"] == pytest.approx(means)
    assert combined.repeats["scorers"]["clip"]["std"] == pytest.approx(np.std(means, ddof=1))
    assert combined.scorers["clip"].mean == pytest.approx(np.mean(means))
    assert combined.repeats["overall"]["std"] == pytest.approx(
        np.std([p.overall.mean for p in parts], ddof=1)
    )


def test_repeats_field_round_trips_and_plain_results_stay_without_it(tmp_path):
    parts = _repeat_parts(k=2)
    combined = combine_repeats(parts, runs=["repeat-1", "repeat-2"], seeds=[4, 5])
    write_results(tmp_path / "combined.json", combined)
    assert read_results(tmp_path / "combined.json") == combined
    write_results(tmp_path / "plain.json", parts[0])
    assert "repeats" not in json.loads((tmp_path / "plain.json").read_text())
    assert read_results(tmp_path / "plain.json").repeats is None


def test_compare_of_repeats_runs_uses_every_seed():
    base_parts, cand_parts = _repeat_parts(k=2), _repeat_parts(k=2)
    cand_parts = [replace(p) for p in cand_parts]
    base = combine_repeats(base_parts, runs=["r1", "r2"], seeds=[0, 1])
    cand_scores = {
        name: [s.per_sample[i] - 0.03 for i in s.per_sample] for name, s in base.scorers.items()
    }  # every seed of the candidate 0.03 worse on average
    candidate = make_results({n: np.asarray(v) for n, v in cand_scores.items()})
    comparison = compare_results(base, candidate, settings=FAST)
    clip = next(r for r in comparison.rows if r.scorer == "clip")
    assert clip.baseline_mean == pytest.approx(np.mean([p.scorers["clip"].mean for p in base_parts]))
    assert clip.verdict == "worse"


def test_repeats_of_different_configurations_are_not_combined():
    parts = _repeat_parts(k=2)
    other = make_results(base_scores(30, 5), protocol="native")
    with pytest.raises(InputError, match="repeats must share"):
        combine_repeats([parts[0], other], runs=["a", "b"], seeds=[0, 1])


def test_repeats_refuse_shards_and_a_single_repeat(cli, tmp_path):
    result = cli(
        "run",
        "--model",
        "uae-tiny",
        "--dataset",
        "samples",
        "--repeats",
        "2",
        "--shard",
        "0/2",
        "--output",
        tmp_path / "r",
    )
    assert result.code == 2 and "--repeats cannot be combined with --shard" in result.err
    result = cli(
        "run", "--model", "uae-tiny", "--dataset", "samples", "--repeats", "0", "--output", tmp_path / "r"
    )
    assert result.code == 2 and "--repeats 0" in result.err


@pytest.mark.slow
def test_run_with_repeats_writes_each_seed_and_the_combined_result(cli, tmp_path):
    output = tmp_path / "repeats"
    args = (
        "run",
        "--model",
        "uae-tiny",
        "--dataset",
        "samples",
        "--limit",
        "2",
        "--repeats",
        "2",
        "--scorer",
        "ssim",
        "--scorer",
        "psnr",
        "--output",
        output,
    )
    result = cli(*args)
    assert result.code == 0, result.err
    assert "across 2 seeds" in result.out
    combined = read_results(output)
    parts = [read_results(output / f"repeat-{k}") for k in (1, 2)]
    assert combined.repeats["seeds"] == [0, 1] and [p.provenance["seeds"]["run_seed"] for p in parts] == [
        0,
        1,
    ]
    sample_id = combined.samples["ids"][0]
    assert combined.scorers["ssim"].per_sample[sample_id] == pytest.approx(
        np.mean([p.scorers["ssim"].per_sample[sample_id] for p in parts])
    )
    assert parts[0].samples["captions"] != parts[1].samples["captions"]  # the seeds really differ
    assert compare_results(parts[0], combined, settings=FAST).n_paired == 2


def test_caption_length_is_reported_but_never_gated():
    baseline_scores = base_scores(40, seed=1)
    candidate_scores = {name: values.copy() for name, values in baseline_scores.items()}
    baseline_scores["caption_words"] = np.full(40, 80.0)
    candidate_scores["caption_words"] = np.full(40, 20.0) + np.arange(40) * 0.01  # much shorter captions
    comparison = compare_results(make_results(baseline_scores), make_results(candidate_scores), settings=FAST)
    assert "caption_words" not in {row.scorer for row in comparison.rows}
    assert any(name.startswith("caption_words") for name in comparison.skipped)
