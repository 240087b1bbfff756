"""compare: the pre-declared gate, its power, bad input as exit 2, sizing --limit; repeats."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats as scipy_stats

from tests._synthetic import PIXEL_SCORER, base_scores, make_results, scorer_fingerprint
from tests.conftest import subprocess_env
from unified_bench.compare import (
    CompareSettings,
    ComparisonRefused,
    compare_results,
    holm_adjust,
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


# Every row of a default run: 12 scorers + overall, as in the issue (p adj. = 13 x 2/2^8 = 0.102).
DEFAULT_RUN_SCORERS = (*PAPER_SCORERS, PIXEL_SCORER, "ssim", "psnr", "clipscore", "longclipscore", "bleu4")
DEFAULT_RUN_SCORERS += ("rougeL", "cider")


def _default_run(n, seed=0):
    return make_results(base_scores(n, seed, scorers=DEFAULT_RUN_SCORERS))


def _write(path, results):
    write_results(path, results)
    return path


def _edited_copy(source, target, change):
    """Edit a results file as JSON, the way the issue made its bad inputs (NaN written as NaN)."""
    obj = json.loads(source.read_text())
    change(obj)
    target.write_text(json.dumps(obj))
    return target


def _lower(amount, names, sign=1.0):
    """Every per-sample score of ``names`` (``overall`` allowed) lowered by ``amount``."""

    def change(obj):
        for name in names:
            table = obj["overall"] if name == "overall" else obj["scorers"][name]
            table["per_sample"] = {i: v - sign * amount for i, v in table["per_sample"].items()}

    return change


def _json_row(obj, scorer, comparison=0):
    return next(row for row in obj["comparisons"][comparison]["rows"] if row["scorer"] == scorer)


# -- the gate: a pre-declared primary endpoint ---------------------------------------------------
def test_a_uniform_drop_of_005_at_n_8_fails_the_gate_with_exit_1(cli, tmp_path):
    """The issue's case: every paper scorer and overall 0.05 lower on an 8-sample, 13-row run."""
    base_path = _write(tmp_path / "base.json", _default_run(8))
    cand_path = _edited_copy(base_path, tmp_path / "cand.json", _lower(0.05, [*PAPER_SCORERS, "overall"]))
    result = cli("compare", base_path, cand_path, "--resamples", "1000", "--format", "json")
    assert result.code == 1
    obj = json.loads(result.out)
    overall = _json_row(obj, "overall")
    assert overall["role"] == "gate" and overall["verdict"] == "worse"
    assert overall["test"] == "exact sign-flip"
    assert overall["p_adjusted"] == overall["p_value"] == 2 / 2**8  # one gated row: no multiplicity
    table = cli("compare", base_path, cand_path, "--resamples", "1000")
    assert table.code == 1 and table.out.splitlines()[0].startswith("❌ significant regression on the gate")
    assert "overall (gate)" in table.out and "-0.0500 [-0.0500, -0.0500]" in table.out  # never squeezed


def test_gating_every_paper_scorer_at_n_8_still_fails(cli, tmp_path):
    base_path = _write(tmp_path / "base.json", _default_run(8))
    cand_path = _edited_copy(base_path, tmp_path / "cand.json", _lower(0.05, [*PAPER_SCORERS, "overall"]))
    gates = [arg for name in ("overall", *PAPER_SCORERS) for arg in ("--gate", name)]
    result = cli("compare", base_path, cand_path, *gates, "--resamples", "1000", "--format", "json")
    assert result.code == 1
    assert _json_row(json.loads(result.out), "clip")["p_adjusted"] == pytest.approx(5 * 2 / 2**8)


def test_noise_only_at_n_100_passes_the_gate_with_exit_0(cli, tmp_path):
    base_path, cand_path = _write_pair(tmp_path, *_pair(n=100, shift=0.0))
    result = cli("compare", base_path, cand_path, "--resamples", "1000")
    assert result.code == 0, result.out
    assert result.out.splitlines()[0].startswith("✅ no significant regression on the gate (overall)")


def test_planted_regression_at_n_100_fails_the_gate_with_exit_1(cli, tmp_path):
    base_path, cand_path = _write_pair(tmp_path, *_pair(n=100, shift=-0.01, noise=0.03))
    result = cli("compare", base_path, cand_path, "--resamples", "1000", "--format", "json")
    assert result.code == 1
    assert _json_row(json.loads(result.out), "overall")["test"] == "paired t"


def test_n_4_cannot_reach_alpha_warns_and_exits_2(cli, tmp_path):
    base_path = _write(tmp_path / "base.json", _default_run(4))
    cand_path = _edited_copy(base_path, tmp_path / "cand.json", _lower(0.05, [*PAPER_SCORERS, "overall"]))
    result = cli("compare", base_path, cand_path, "--resamples", "1000", "--format", "markdown")
    assert result.code == 2  # docs/ci-gating.md: 2 = no verdict
    assert "n = 4 cannot reach alpha 0.05" in result.err and "2/2^4 = 0.125" in result.err
    assert "--limit 6 or more" in result.err
    assert result.out.splitlines()[0].startswith("## unified-bench compare: ⚠️ no verdict")
    assert "Traceback" not in result.err
    as_json = cli("compare", base_path, cand_path, "--resamples", "1000", "--format", "json")
    obj = json.loads(as_json.out)  # strict JSON: the infinite MDE is written as null
    assert as_json.code == obj["exit_code"] == 2 and _json_row(obj, "overall")["mde"] is None
    # The floor depends on alpha, not on a hard-coded n: at alpha 0.2 the same drop fails the gate.
    assert cli("compare", base_path, cand_path, "--resamples", "1000", "--alpha", "0.2").code == 1
    assert cli("compare", base_path, cand_path, "--fail-on", "never").code == 0


def test_holm_runs_across_the_gated_rows_only():
    baseline, candidate = _pair(n=40, shift=-0.004, noise=0.01)
    one = compare_results(baseline, candidate, settings=FAST)
    gated = [row for row in one.rows if row.role == "gate"]
    assert [row.scorer for row in gated] == ["overall"]
    assert gated[0].p_adjusted == gated[0].p_value  # the 5 secondary rows cost the gate nothing
    two = compare_results(baseline, candidate, settings=replace(FAST, gate=("overall", "clip")))
    rows = {row.scorer: row for row in two.rows}
    low, high = sorted((rows["overall"].p_value, rows["clip"].p_value))
    expected = {low: min(1.0, 2 * low), high: max(min(1.0, 2 * low), high)}  # Holm for two, by hand
    for name in ("overall", "clip"):
        assert rows[name].role == "gate"
        assert rows[name].p_adjusted == pytest.approx(expected[rows[name].p_value])
    secondary = [row for row in two.rows if row.role == "secondary"]
    assert {row.scorer for row in secondary} == {"dinov2", "dinov3", "longclip", PIXEL_SCORER}
    raw = sorted(row.p_value for row in secondary)
    assert min(row.p_adjusted for row in secondary) == pytest.approx(min(1.0, 4 * raw[0]))


def test_a_secondary_regression_fails_only_with_fail_on_any(cli, tmp_path):
    base_path = _write(tmp_path / "base.json", make_results(base_scores(40, 0)))
    cand_path = _edited_copy(base_path, tmp_path / "cand.json", _lower(0.05, [PIXEL_SCORER], sign=-1.0))
    # lpips 0.05 higher (worse) on every image; the gate (overall) did not move.
    result = cli("compare", base_path, cand_path, "--resamples", "1000", "--format", "json")
    assert result.code == 0
    assert _json_row(json.loads(result.out), PIXEL_SCORER)["verdict"] == "worse"
    assert cli("compare", base_path, cand_path, "--resamples", "1000", "--fail-on", "any").code == 1
    assert cli("compare", base_path, cand_path, "--resamples", "1000", "--gate", PIXEL_SCORER).code == 1


def test_the_minimum_detectable_effect_is_reported_and_warned_about(cli, tmp_path):
    base_path, cand_path = _write_pair(tmp_path, *_pair(n=8, shift=0.0, noise=0.03))
    result = cli("compare", base_path, cand_path, "--resamples", "1000", "--format", "json")
    overall = _json_row(json.loads(result.out), "overall")
    expected = (
        (scipy_stats.t.ppf(0.975, 7) + scipy_stats.t.ppf(0.8, 7)) * overall["sd_difference"] / np.sqrt(8)
    )
    assert overall["mde"] == pytest.approx(expected)
    assert "overall: at n = 8 the gate detects changes of about" in result.err
    assert "so it cannot detect --min-effect 0.005" in result.err
    assert _json_row(json.loads(result.out), "clip")["mde"] is None  # secondary rows: no power claim
    loose = cli("compare", base_path, cand_path, "--resamples", "1000", "--min-effect", "0.2")
    assert "cannot detect --min-effect" not in loose.err


def test_false_alarm_rate_of_the_default_gate_stays_near_alpha():
    """200 noise-only comparisons: the gate fails about alpha/2 of them (a regression is one-sided)."""
    settings = CompareSettings(min_effect=0.0, n_resamples=200)
    trials = 200
    alarms = changed = 0
    for seed in range(trials):
        baseline, candidate = _pair(n=60, seed=seed, noise=0.05)
        comparison = compare_results(baseline, candidate, scorers=["clip"], settings=settings)
        alarms += comparison.regressed
        changed += comparison.rows[0].verdict != "tied"
    # binomial sd at p=0.05, n=200 is 0.015: these bounds are ~2.5 sd wide
    assert 0.015 <= changed / trials <= 0.09, changed / trials
    assert alarms / trials <= 0.06, alarms / trials


def test_direction_comes_from_higher_is_better():
    baseline, candidate = _pair(shift=0.05, noise=0.01)  # lpips went down: better
    rows = {r.scorer: r for r in compare_results(baseline, candidate, settings=FAST).rows}
    assert rows[PIXEL_SCORER].difference < 0 and rows[PIXEL_SCORER].verdict == "better"
    assert rows["clip"].difference > 0 and rows["clip"].verdict == "better"
    reverse = {r.scorer: r for r in compare_results(candidate, baseline, settings=FAST).rows}
    assert reverse[PIXEL_SCORER].verdict == "worse" and reverse["overall"].verdict == "worse"


def test_min_effect_turns_a_significant_but_tiny_drop_into_a_tie():
    baseline, candidate = _pair(shift=-0.002, noise=0.001)
    clip = replace(FAST, gate=("clip",))
    strict = compare_results(baseline, candidate, scorers=["clip"], settings=replace(clip, min_effect=0.0))
    lenient = compare_results(baseline, candidate, scorers=["clip"], settings=replace(clip, min_effect=0.005))
    assert strict.rows[0].p_adjusted < 0.05 and strict.rows[0].verdict == "worse"
    assert lenient.rows[0].verdict == "tied"


def test_gated_rows_come_first_and_interval_brackets_the_mean_difference():
    baseline, candidate = _pair(shift=-0.02)
    comparison = compare_results(baseline, candidate, settings=replace(FAST, gate=("clip", "overall")))
    assert [row.scorer for row in comparison.rows[:3]] == ["clip", "overall", "dinov2"]
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


def test_same_seed_gives_the_same_numbers():
    baseline, candidate = _pair(shift=-0.01)
    assert compare_results(baseline, candidate, settings=FAST) == compare_results(
        baseline, candidate, settings=FAST
    )


# -- bad input is never a verdict: exit 2, one line naming the file and the first offender ----------
def _set(scorer, sample_id, value):
    def change(obj):
        table = obj["overall"] if scorer == "overall" else obj["scorers"][scorer]
        table["per_sample"][sample_id] = value

    return change


def _empty_tables(obj):
    for summary in obj["scorers"].values():
        summary["per_sample"] = {}
    obj["overall"]["per_sample"] = {}


def _ids_four_times(obj):
    obj["samples"]["ids"] = obj["samples"]["ids"] * 4


def _half_the_ids_replaced(obj):
    for old in obj["samples"]["ids"][4:]:
        new = old.replace("img", "new")
        for table in [*obj["scorers"].values(), obj["overall"]]:
            table["per_sample"][new] = table["per_sample"].pop(old)
    obj["samples"]["ids"] = obj["samples"]["ids"][:4] + [
        i.replace("img", "new") for i in obj["samples"]["ids"][4:]
    ]


def _drop_dinov2_and_dinov3(obj):
    for name in ("dinov2", "dinov3"):
        del obj["scorers"][name]
    obj["overall"]["components"] = ["clip", "longclip"]


BAD_INPUTS = {
    "nan in the candidate": ("cand", _set("clip", "img003", float("nan")), ["'clip'", "'img003'", "nan"]),
    "nan in the baseline": ("base", _set("clip", "img005", float("nan")), ["'clip'", "'img005'", "nan"]),
    "infinity": ("cand", _set("overall", "img001", float("inf")), ["'overall'", "'img001'", "inf"]),
    "empty per-sample tables": ("cand", _empty_tables, ["per-sample table of 'overall' is empty"]),
    "ids listed 4 times": ("cand", _ids_four_times, ["'img000' is listed 4 times"]),
    "half the ids differ": ("cand", _half_the_ids_replaced, ["4 of the baseline's 8 missing", "'img004'"]),
    "gated scorers lost": ("cand", _drop_dinov2_and_dinov3, ["no 'dinov2' scores", "gate"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_bad_input_exits_2_with_one_line_naming_file_and_offender(cli, tmp_path, case):
    which, change, expected = BAD_INPUTS[case]
    clean = _write(tmp_path / "clean.json", make_results(base_scores(8, 0)))
    edited = _edited_copy(clean, tmp_path / f"{which}-edited.json", change)
    base_path, cand_path = (edited, clean) if which == "base" else (clean, edited)
    for fmt in ("table", "json"):
        result = cli("compare", base_path, cand_path, "--resamples", "200", "--format", fmt)
        assert result.code == 2, (case, result.out, result.err)
        assert result.out == ""  # no table, no verdict
        assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
        assert str(edited) in result.err
        for fragment in expected:
            assert fragment in result.err


def test_allow_partial_compares_the_shared_ids_and_says_how_many_were_dropped(cli, tmp_path):
    clean = _write(tmp_path / "clean.json", make_results(base_scores(8, 0)))
    edited = _edited_copy(clean, tmp_path / "partial.json", _half_the_ids_replaced)
    result = cli("compare", clean, edited, "--allow-partial", "--alpha", "0.2", "--format", "json")
    assert result.code == 0  # the 4 shared samples are identical
    assert json.loads(result.out)["comparisons"][0]["n_paired"] == 4
    assert "compared the 4 shared sample ids, dropped 8 (4 only in the baseline, 4 only in" in result.err


def test_bad_input_exits_2_in_a_real_process_without_a_traceback(tmp_path):
    clean = _write(tmp_path / "clean.json", make_results(base_scores(8, 0)))
    edited = _edited_copy(clean, tmp_path / "nan.json", _set("dinov2", "img002", float("nan")))
    process = subprocess.run(
        [sys.executable, "-m", "unified_bench", "compare", str(clean), str(edited)],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(tmp_path / "cache"),
    )
    assert process.returncode == 2 and process.stdout == ""
    assert "Traceback" not in process.stderr and "'img002'" in process.stderr


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


def test_a_scorer_missing_from_one_run_is_refused_when_gated_or_requested_and_skipped_otherwise(
    cli, tmp_path
):
    baseline = make_results(base_scores(20, 0, scorers=PAPER_SCORERS))
    candidate = make_results(base_scores(20, 1))  # also has lpips, which the baseline lacks
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    assert cli("compare", base_path, cand_path, "--scorer", PIXEL_SCORER).code == 2
    result = cli("compare", base_path, cand_path, "--gate", PIXEL_SCORER)
    assert result.code == 2 and f"no '{PIXEL_SCORER}' scores, which the gate needs" in result.err
    default = compare_results(baseline, candidate, settings=FAST)  # secondary: what both have
    assert f"{PIXEL_SCORER} (in one run only)" in default.skipped
    assert PIXEL_SCORER not in {row.scorer for row in default.rows}


def test_a_secondary_overall_over_different_components_is_refused():
    baseline = make_results(base_scores(20, 0))
    candidate = make_results(base_scores(20, 1, scorers=("clip", "dinov2")))
    with pytest.raises(ComparisonRefused, match="overall averages"):
        compare_results(baseline, candidate, scorers=["overall"], settings=replace(FAST, gate=("clip",)))
    default = compare_results(baseline, candidate, settings=replace(FAST, gate=("clip",)))
    assert "overall (averages different scorers)" in default.skipped


def test_an_unknown_or_informational_gate_is_refused(cli, tmp_path):
    base_path, cand_path = _write_pair(tmp_path, *_pair(n=20))
    result = cli("compare", base_path, cand_path, "--gate", "nope")
    assert result.code == 2 and "no 'nope' scores" in result.err
    with pytest.raises(ComparisonRefused, match="informational"):
        compare_results(*_pair(n=20), settings=replace(FAST, gate=("caption_words",)))


def test_an_unreadable_baseline_exits_2_with_one_line(cli, tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    result = cli("compare", tmp_path / "bad.json", tmp_path / "bad.json")
    assert result.code == 2 and "not valid JSON" in result.err


# -- sizing --limit ------------------------------------------------------------------------------
def _t_power(effect, sd, n, alpha=0.05):
    critical = scipy_stats.t.ppf(1 - alpha / 2, n - 1)
    nc = effect / sd * np.sqrt(n)
    return scipy_stats.nct.sf(critical, n - 1, nc) + scipy_stats.nct.cdf(-critical, n - 1, nc)


def _printed_n(line):
    return int(line.split("--limit ")[1].split()[0])


def test_recommend_n_from_the_baseline_spread(cli, tmp_path):
    scores = base_scores(40, 0)
    base_path = _write(tmp_path / "base.json", make_results(scores))
    result = cli("compare", base_path, "--recommend-n", "0.05")
    assert result.code == 0
    sd = np.std(np.mean([scores[name] for name in PAPER_SCORERS], axis=0), ddof=1)  # overall, by hand
    n = _printed_n(result.out)
    assert f"sd {sd:.4f}" in result.out and "per-sample scores" in result.out
    assert _t_power(0.05, sd, n) >= 0.795 > _t_power(0.05, sd, n - 2)
    assert cli("compare", base_path, "--recommend-n", "0").code == 2


def test_recommend_n_uses_the_paired_spread_with_a_candidate(cli, tmp_path):
    baseline, candidate = _pair(n=60, noise=0.03)
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    result = cli("compare", base_path, cand_path, "--recommend-n", "0.01")
    assert result.code == 0 and "paired differences" in result.out
    differences = np.array(list(candidate.overall.per_sample.values())) - np.array(
        list(baseline.overall.per_sample.values())
    )
    sd = differences.std(ddof=1)
    n = _printed_n(result.out)
    assert _t_power(0.01, sd, n) >= 0.795 > _t_power(0.01, sd, n - 2)


def test_recommend_n_uses_the_seed_noise_of_a_repeats_baseline(cli, tmp_path):
    parts = _repeat_parts(k=2, n=30)
    run = tmp_path / "base"
    for index, part in enumerate(parts, start=1):
        write_results(run / f"repeat-{index}" / "results.json", part)
    write_results(run / "results.json", combine_repeats(parts, runs=["repeat-1", "repeat-2"], seeds=[0, 1]))
    result = cli("compare", run, "--recommend-n", "0.01")
    assert result.code == 0 and "seed noise" in result.out
    first, second = (np.array(list(p.overall.per_sample.values())) for p in parts)
    sd = (second - first).std(ddof=1) / np.sqrt(2)
    assert f"sd {sd:.4f}" in result.out


# -- output formats ------------------------------------------------------------------------------
def test_markdown_summary_starts_with_the_verdict(cli, tmp_path):
    baseline, candidate = _pair(shift=-0.03)
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    result = cli("compare", base_path, cand_path, "--format", "markdown", "--resamples", "1000")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "## unified-bench compare: ❌ significant regression on the gate (overall); exit 1"
    header = (
        "| role | scorer | baseline | candidate | Δ mean [95% CI] | p (Holm) | test | MDE (80%) | verdict |"
    )
    assert header in lines
    assert any(line.startswith("| gate | **overall** |") and "worse" in line for line in lines)
    assert any(line.startswith("| secondary | clip |") for line in lines)
    assert "lpips (lower is better)" in result.out
    passing = cli("compare", base_path, base_path, "--format", "markdown", "--resamples", "1000")
    assert passing.out.splitlines()[0].startswith("## unified-bench compare: ✅ no significant regression")


def test_json_output_carries_every_number_and_the_exit_code(cli, tmp_path):
    baseline, candidate = _pair(shift=0.0)
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    result = cli("compare", base_path, cand_path, "--format", "json", "--resamples", "1000")
    obj = json.loads(result.out)
    assert obj["exit_code"] == result.code == 0 and obj["verdict"].startswith("✅")
    assert obj["settings"]["gate"] == ["overall"]
    rows = obj["comparisons"][0]["rows"]
    assert {r["scorer"] for r in rows} == {"overall", *PAPER_SCORERS, PIXEL_SCORER}
    assert all(
        {"role", "test", "difference", "ci_low", "ci_high", "p_value", "p_adjusted", "mde", "verdict"}
        <= r.keys()
        for r in rows
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


# -- the statistics of the old gate, still exported ---------------------------------------------
def test_holm_adjustment_is_monotone_and_capped_at_one():
    assert holm_adjust([0.01, 0.02, 0.5]) == pytest.approx([0.03, 0.04, 0.5])
    assert holm_adjust([0.9, 0.8]) == [1.0, 1.0]
    assert holm_adjust([0.04, 0.03]) == [0.06, 0.06]


def test_bad_settings_are_user_errors(cli, tmp_path):
    baseline, candidate = _pair()
    base_path, cand_path = _write_pair(tmp_path, baseline, candidate)
    assert cli("compare", base_path, cand_path, "--alpha", "1.5").code == 2
    assert cli("compare", base_path, cand_path, "--min-effect", "-1").code == 2
    assert cli("compare", base_path).code == 2  # no candidate and no --recommend-n


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
    ssim_gate = replace(FAST, gate=("ssim",))  # no paper scorer ran, so there is no overall
    assert compare_results(parts[0], combined, settings=ssim_gate).n_paired == 2


def test_caption_length_is_reported_but_never_gated():
    baseline_scores = base_scores(40, seed=1)
    candidate_scores = {name: values.copy() for name, values in baseline_scores.items()}
    baseline_scores["caption_words"] = np.full(40, 80.0)
    candidate_scores["caption_words"] = np.full(40, 20.0) + np.arange(40) * 0.01  # much shorter captions
    comparison = compare_results(make_results(baseline_scores), make_results(candidate_scores), settings=FAST)
    assert "caption_words" not in {row.scorer for row in comparison.rows}
    assert any(name.startswith("caption_words") for name in comparison.skipped)
