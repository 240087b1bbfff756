"""Leaderboard: submit, validate (every rejection, one line each), build the static site."""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests._leaderboard import REPO_LEADERBOARD, N, forge, synthetic_registry
from tests._synthetic import base_scores, make_results, scorer_fingerprint
from unified_bench.leaderboard import LeaderboardDir, OfficialRegistry, validate_paths
from unified_bench.leaderboard.site import InvalidSubmissions, build_site, rank_entries
from unified_bench.leaderboard.submit import parse_params, submit_run
from unified_bench.results import PAPER_SCORERS, write_results

synthetic_registry.__test__ = False  # a helper, not a test


@pytest.fixture
def board(tmp_path) -> LeaderboardDir:
    """A leaderboard folder with the repository's schemas and a registry of the synthetic fingerprints."""
    root = tmp_path / "leaderboard"
    shutil.copytree(REPO_LEADERBOARD / "schema", root / "schema")
    (root / "submissions").mkdir()
    (root / "official-fingerprints.json").write_text(json.dumps(synthetic_registry().to_json()))
    shutil.copy(REPO_LEADERBOARD / "reported.json", root / "reported.json")
    return LeaderboardDir(root)


def _run(tmp_path: Path, name: str, shift: float = 0.0, seed: int = 0, **kwargs) -> Path:
    scores = {k: v + shift for k, v in base_scores(N, seed).items()}  # includes lpips: not official
    run_dir = tmp_path / "runs" / name
    write_results(run_dir / "results.json", make_results(scores, **kwargs))
    return run_dir


def _submit(board, tmp_path, name="good-model", **kwargs):
    path, problems = submit_run(
        _run(tmp_path, name, **kwargs),
        name=name,
        url="https://example.org/model",
        params=7 * 10**9,
        license="apache-2.0",
        org="Example Lab",
        leaderboard=board,
        registry=synthetic_registry(),
    )
    assert problems == []
    return path


# -- acceptance ----------------------------------------------------------------------------------
def test_a_good_submission_is_written_and_accepted(cli, board, tmp_path):
    run_dir = _run(tmp_path, "good")
    result = cli(
        "submit",
        run_dir,
        "--name",
        "good-model",
        "--url",
        "https://example.org/m",
        "--params",
        "7B",
        "--license",
        "mit",
        "--org",
        "Lab",
        "--leaderboard-dir",
        board.root,
    )
    assert result.code == 0, result.err
    obj = json.loads(board.submission_path("good-model").read_text())
    assert obj["metadata"]["params"] == 7_000_000_000 and obj["metadata"]["org"] == "Lab"
    assert set(obj["results"]["scorers"]) == set(PAPER_SCORERS)  # lpips is not on the leaderboard: dropped
    assert obj["results"]["overall"]["complete"] is True
    validated = cli("leaderboard", "validate", "--leaderboard-dir", board.root)
    assert validated.code == 0 and "1 submission(s) valid" in validated.err


def test_submit_refuses_an_existing_name_and_writes_nothing_on_problems(board, tmp_path):
    _submit(board, tmp_path)
    _, problems = submit_run(
        _run(tmp_path, "again"),
        name="good-model",
        url="https://example.org",
        leaderboard=board,
        registry=synthetic_registry(),
    )
    assert "already exists" in str(problems[0])
    _, problems = submit_run(
        _run(tmp_path, "native", protocol=None),
        name="no-protocol",
        url="https://example.org",
        leaderboard=board,
        registry=synthetic_registry(),
    )
    assert any("missing protocol" in str(p) for p in problems)
    assert not board.submission_path("no-protocol").exists()


@pytest.mark.parametrize(
    ("text", "value"), [("7B", 7 * 10**9), ("350M", 350 * 10**6), ("1.5b", 1_500_000_000)]
)
def test_params_accept_counts_and_suffixes(text, value):
    assert parse_params(text) == value


# -- every rejection -----------------------------------------------------------------------------
def _tamper_mean(obj):
    obj["results"]["scorers"]["clip"]["mean"] += 0.01


def _tamper_interval(obj):
    obj["results"]["scorers"]["dinov2"]["ci_high"] += 0.005


def _tamper_std(obj):
    obj["results"]["scorers"]["dinov3"]["std"] /= 2


def _tamper_min(obj):
    obj["results"]["scorers"]["clip"]["min"] += 0.01


def _tamper_max(obj):
    obj["results"]["scorers"]["longclip"]["max"] -= 0.01


def _tamper_overall(obj):
    obj["results"]["overall"]["mean"] += 0.01


def _tamper_per_sample(obj):  # a better per-sample score, aggregates left as they were
    first = obj["results"]["samples"]["ids"][0]
    obj["results"]["scorers"]["longclip"]["per_sample"][first] += 0.2


def _tamper_overall_per_sample(obj):
    first = obj["results"]["samples"]["ids"][0]
    obj["results"]["overall"]["per_sample"][first] += 0.2


def _wrong_dataset(obj):
    obj["results"]["dataset"]["fingerprint"] = "sha256:" + "e" * 64


def _unknown_weights(obj):
    obj["results"]["scorers"]["dinov3"]["fingerprint"] = scorer_fingerprint("dinov3", "fine-tuned")


def _missing_protocol(obj):
    obj["results"]["protocol"] = None


def _schema_error(obj):
    obj["metadata"]["url"] = "javascript:alert(1)"


def _results_schema_error(obj):
    del obj["results"]["bootstrap"]


def _partial_run(obj):
    obj["results"]["dataset"]["limit"] = 10


def _extra_scorer(obj):
    obj["results"]["scorers"]["lpips"] = dict(obj["results"]["scorers"]["clip"], fingerprint="lpips:x")


def _missing_paper_scorer(obj):
    del obj["results"]["scorers"]["dinov3"]


def _t2i2t(obj):
    obj["results"]["direction"] = "t2i2t"


def _renamed(obj):
    obj["name"] = "other-name"


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_tamper_mean, "claimed mean"),
        (_tamper_interval, "claimed ci_high"),
        (_tamper_std, "scorer dinov3: claimed std"),
        (_tamper_min, "scorer clip: claimed min"),
        (_tamper_max, "scorer longclip: claimed max"),
        (_tamper_overall, "overall: claimed mean"),
        (_tamper_per_sample, "scorer longclip: claimed mean"),
        (_tamper_overall_per_sample, "is not the mean of its paper scorers"),
        (_wrong_dataset, "is not the official synthetic one"),
        (_unknown_weights, "unknown scorer weights for dinov3"),
        (_missing_protocol, "missing protocol"),
        (_schema_error, "schema: metadata/url"),
        (_results_schema_error, "schema: results"),
        (_partial_run, "does not cover the whole dataset"),
        (_extra_scorer, "scorer lpips is not on the leaderboard"),
        (_missing_paper_scorer, "official scorers missing: dinov3"),
        (_renamed, "does not match its name"),
        (_t2i2t, "ranks Unified-Bench (i2t2i) runs only"),
    ],
)
def test_validate_rejects_with_one_clear_line(cli, board, tmp_path, tamper, message):
    path = _submit(board, tmp_path)
    obj = json.loads(path.read_text())
    tamper(obj)
    path.write_text(json.dumps(obj))
    problems, accepted = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert accepted == []
    assert any(message in str(p) for p in problems), [str(p) for p in problems]
    assert all(str(p).startswith(str(path)) and "\n" not in str(p) for p in problems)
    result = cli("leaderboard", "validate", path, "--leaderboard-dir", board.root)
    assert result.code == 1
    assert len(result.err.strip().splitlines()) >= 1 and all(
        line.startswith("Error: ") for line in result.err.strip().splitlines()
    )


# -- forgeries: the numbers edited, then every aggregate recomputed as a forger would -------------


def _best_sample_as_every_id(obj):
    ids = obj["results"]["samples"]["ids"]
    best = max(ids, key=lambda i: obj["results"]["overall"]["per_sample"][i])
    keep = {n: {best: s["per_sample"][best]} for n, s in obj["results"]["scorers"].items()}
    forge(obj, ids=[best] * len(ids), per_sample=keep)


def _worst_three_dropped(obj):
    ids = obj["results"]["samples"]["ids"]
    worst = sorted(ids, key=lambda i: obj["results"]["overall"]["per_sample"][i])[:3]
    scorers = obj["results"]["scorers"]
    forge(
        obj,
        per_sample={
            n: {i: v for i, v in s["per_sample"].items() if i not in worst} for n, s in scorers.items()
        },
    )


def _impossible_cosines(obj):
    first = obj["results"]["samples"]["ids"][0]
    forge(obj, per_sample={"clip": {**obj["results"]["scorers"]["clip"]["per_sample"], first: 7.5}})


def _ids_not_in_the_dataset(obj):
    old = obj["results"]["samples"]["ids"]
    new = [f"photo{i:03d}" for i in range(len(old))]
    renamed = {
        n: dict(zip(new, s["per_sample"].values(), strict=True)) for n, s in obj["results"]["scorers"].items()
    }
    forge(obj, ids=new, per_sample=renamed)


def _ids_reordered(obj):
    forge(obj, ids=obj["results"]["samples"]["ids"][::-1])


def _narrow_confidence(obj):
    forge(obj, bootstrap={"confidence": 0.05})


def _one_resample(obj):
    forge(obj, bootstrap={"n_resamples": 1})


def _repeats_without_seed_results(obj):
    means = [obj["results"]["overall"]["mean"] + d for d in (0.0, 0.001, -0.001, 0.002, -0.002)]
    spread = {"means": means, "std": float(np.std(means, ddof=1))}
    obj["results"]["repeats"] = {
        "k": 5,
        "seeds": [0, 1, 2, 3, 4],
        "runs": [f"repeat-{k}" for k in range(1, 6)],
        "scorers": {name: spread for name in obj["results"]["scorers"]},
        "overall": spread,
    }


def _not_a_date(obj):
    obj["metadata"]["submitted_at"] = "yesterday"


def _a_date_in_the_future(obj):
    obj["metadata"]["submitted_at"] = "2999-01-01T00:00:00+00:00"


def _not_a_version(obj):
    obj["metadata"]["unified_bench_version"] = "latest<script>"


def _overall_null(obj):
    obj["results"]["overall"] = None


@pytest.mark.parametrize(
    ("forgery", "message"),
    [
        (_best_sample_as_every_id, "more than once"),
        (_worst_three_dropped, "no score for 3 ids"),
        (_impossible_cosines, "outside its range [-1, 1] (first: img000 = 7.5)"),
        (_ids_not_in_the_dataset, "ids not in the official dataset: photo000"),
        (_ids_reordered, "not in the official order"),
        (_narrow_confidence, "confidence 0.05, official 0.95"),
        (_one_resample, "n_resamples 1, official 1000"),
        (_repeats_without_seed_results, "carries no per-seed results"),
        (_not_a_date, "'yesterday' is not an ISO 8601 date-time"),
        (_a_date_in_the_future, "is in the future"),
        (_not_a_version, "is not a version number"),
        (_overall_null, "overall is missing"),
    ],
)
def test_forged_results_with_recomputed_aggregates_are_rejected(board, tmp_path, forgery, message):
    path = _submit(board, tmp_path)
    obj = json.loads(path.read_text())
    forgery(obj)
    path.write_text(json.dumps(obj))
    problems, accepted = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert accepted == []
    assert any(message in str(p) for p in problems), [str(p) for p in problems]
    assert not any(
        "does not follow from the per-sample scores" in str(p) for p in problems
    )  # a clean forgery
    with pytest.raises(InvalidSubmissions, match=re.escape(message)):  # a clear refusal, never a crash
        build_site(tmp_path / "site", leaderboard=board, registry=synthetic_registry())


def test_float_rounding_past_a_range_end_is_in_range_and_anything_more_is_not(board, tmp_path):
    """An exact copy's cosine comes out as 1.0000000064 in float32: in range (1e-6); 1.00001 is not."""
    path = _submit(board, tmp_path)
    obj = json.loads(path.read_text())
    first = obj["results"]["samples"]["ids"][0]
    clip = obj["results"]["scorers"]["clip"]["per_sample"]
    for value, refused in ((1.0000000064, False), (-1.0000000064, False), (1.00001, True)):
        forge(obj, per_sample={"clip": {**clip, first: value}})
        path.write_text(json.dumps(obj))
        problems, _ = validate_paths(None, leaderboard=board, registry=synthetic_registry())
        assert any("outside its range" in str(p) for p in problems) == refused, (value, problems)


def test_nan_scores_are_not_json(board, tmp_path):
    path = _submit(board, tmp_path)
    text = path.read_text()
    first_value = re.search(r'"img000": (-?[0-9.e-]+)', text)[1]
    path.write_text(text.replace(f'"img000": {first_value}', '"img000": NaN', 1))
    problems, _ = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert [p.message for p in problems] == ["not valid JSON (NaN is not a number JSON allows)"]


def test_the_same_results_under_a_second_name_are_rejected(board, tmp_path):
    original = _submit(board, tmp_path, name="original")
    obj = json.loads(original.read_text())
    copy = board.submission_path("copycat")
    an_hour_later = datetime.fromisoformat(obj["metadata"]["submitted_at"]) + timedelta(hours=1)
    later = {**obj["metadata"], "submitted_at": an_hour_later.isoformat()}
    copy.write_text(json.dumps({**obj, "name": "copycat", "metadata": later}))
    problems, accepted = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert [s.name for s in accepted] == ["original"]
    assert [(p.where, p.message.split(":")[0]) for p in problems] == [
        (str(copy), "same per-sample clip scores as 'original'")
    ]
    pending = tmp_path / "pr" / "copycat.json"  # a pull request that copies an existing entry
    pending.parent.mkdir()
    copy.rename(pending)
    problems, _ = validate_paths([pending], leaderboard=board, registry=synthetic_registry())
    assert any("same per-sample" in str(p) for p in problems)


def _copy_of(original: Path, name: str, *, hours_later: float = 1.0) -> dict:
    obj = json.loads(original.read_text())
    later = datetime.fromisoformat(obj["metadata"]["submitted_at"]) + timedelta(hours=hours_later)
    return {**obj, "name": name, "metadata": {**obj["metadata"], "submitted_at": later.isoformat()}}


def test_a_near_copy_of_another_submission_is_a_duplicate(board, tmp_path):
    """+2e-6 on one id per scorer, every aggregate recomputed: still the same run under a second name."""
    original = _submit(board, tmp_path, name="original")
    copy = _copy_of(original, "nudged")
    first = copy["results"]["samples"]["ids"][0]
    scorers = copy["results"]["scorers"]
    forge(
        copy,
        per_sample={n: {**s["per_sample"], first: s["per_sample"][first] + 2e-6} for n, s in scorers.items()},
    )
    board.submission_path("nudged").write_text(json.dumps(copy))
    problems, accepted = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert [s.name for s in accepted] == ["original"]
    assert [(p.where, p.message.split(":")[0]) for p in problems] == [
        (str(board.submission_path("nudged")), "same per-sample clip scores as 'original'")
    ]


def test_honest_reruns_are_not_duplicates(board, tmp_path):
    """Another seed moves each score by ~0.01 (the tiny models: 2.8e-3 in the median): no duplicate."""
    _submit(board, tmp_path, name="seed-0", seed=0, shift=-0.1)
    _submit(board, tmp_path, name="seed-1", seed=1, shift=-0.1)
    problems, accepted = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert problems == [] and len(accepted) == 2


def test_a_backdated_copy_is_refused_and_the_original_kept(board, tmp_path):
    """``submitted_at`` 2020-01-01 on a copy: before its run finished, so it cannot be the earlier one."""
    original = _submit(board, tmp_path, name="original")
    obj = json.loads(original.read_text())
    obj["results"]["provenance"] = {"finished_at": obj["metadata"]["submitted_at"]}  # the run's own time
    original.write_text(json.dumps(obj))
    copy = _copy_of(original, "backdated")
    copy["metadata"]["submitted_at"] = "2020-01-01T00:00:00+00:00"
    board.submission_path("backdated").write_text(json.dumps(copy))
    problems, accepted = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert [s.name for s in accepted] == ["original"]
    assert [p.where for p in problems] == [str(board.submission_path("backdated"))]
    assert "precedes the run's finished_at" in problems[0].message


def test_a_build_of_a_valid_folder_never_crashes(board, tmp_path):
    """Entries with every optional field empty, one protocol only, negative cosines, a single entry."""
    _, problems = submit_run(
        _run(tmp_path, "low", shift=-1.2),  # cosines around -0.5: valid, and printed as numbers
        name="minimal",
        url="https://example.org",
        leaderboard=board,
        registry=synthetic_registry(),
    )
    assert problems == [], problems
    site = build_site(tmp_path / "site", leaderboard=board, registry=synthetic_registry())
    rows = list(csv.DictReader((site.parent / "leaderboard.csv").open()))
    assert rows[0]["name"] == "minimal" and float(rows[0]["overall_mean"]) < 0
    assert rows[0]["params"] == rows[0]["org"] == "" and rows[0]["status"] == "self-reported"


@pytest.mark.parametrize(
    "formula", ['=HYPERLINK("https://evil.example","click")', "@SUM(1+1)", "+1+2", "-2+3"]
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(board, tmp_path, formula):
    _, problems = submit_run(
        _run(tmp_path, "x"),
        name="spreadsheet",
        url="https://example.org",
        org=formula,
        license=formula,
        leaderboard=board,
        registry=synthetic_registry(),
    )
    assert problems == []
    site = build_site(tmp_path / "site", leaderboard=board, registry=synthetic_registry())
    text = (site.parent / "leaderboard.csv").read_text()
    row = next(csv.DictReader(text.splitlines()))
    assert row["org"] == row["license"] == "'" + formula
    assert not any(cell.startswith(("=", "+", "@")) for line in text.splitlines() for cell in line.split(","))
    assert (
        float(row["clip_mean"])
        == json.loads((site.parent / "leaderboard.json").read_text())["entries"][0]["scores"]["clip"]["mean"]
    )  # numbers stay numbers


def test_duplicate_names_are_rejected(board, tmp_path):
    first = _submit(board, tmp_path, name="twin")
    copy = board.submissions / "Twin-copy.json"
    obj = json.loads(first.read_text())
    copy.write_text(json.dumps({**obj, "name": "TWIN"}))
    problems, _ = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert any("duplicate name 'twin'" in str(p).lower() for p in problems)


def test_a_new_file_clashing_with_an_existing_name_is_rejected(board, tmp_path):
    existing = _submit(board, tmp_path, name="taken")
    pending = tmp_path / "pr" / "taken.json"
    pending.parent.mkdir()
    pending.write_text(existing.read_text())
    problems, accepted = validate_paths([pending], leaderboard=board, registry=synthetic_registry())
    assert accepted == [] and "already uses it" in str(problems[0])


def test_invalid_json_is_one_line(board):
    bad = board.submissions / "bad.json"
    bad.write_text("{")
    problems, _ = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert [p.where for p in problems] == [str(bad)] and "not valid JSON" in problems[0].message


# -- the shipped leaderboard ---------------------------------------------------------------------
def test_the_shipped_leaderboard_is_valid_and_holds_no_fabricated_entries(cli):
    assert cli("leaderboard", "validate", "--leaderboard-dir", REPO_LEADERBOARD).code == 0
    assert list((REPO_LEADERBOARD / "submissions").glob("*.json")) == []
    reported = json.loads((REPO_LEADERBOARD / "reported.json").read_text())
    assert all(entry["source"]["url"].startswith("https://") for entry in reported["entries"])


def test_the_official_registry_accepts_nothing_it_does_not_list(board, tmp_path):
    path = _submit(board, tmp_path)
    official = OfficialRegistry.read(REPO_LEADERBOARD / "official-fingerprints.json")
    assert set(official.scorers) == set(PAPER_SCORERS)
    problems, accepted = validate_paths([path], leaderboard=board, registry=official)
    assert accepted == [] and any("not the official unibench one" in str(p) for p in problems)


# -- the site ------------------------------------------------------------------------------------
def _three_entries(board, tmp_path):
    _submit(board, tmp_path, name="leader", shift=-0.05)  # synthetic cosines reach ~1: shift down only
    _submit(board, tmp_path, name="runner-up", shift=-0.25)
    _submit(board, tmp_path, name="close-second", shift=-0.255, seed=0)
    _submit(board, tmp_path, name="native-one", shift=0.0, protocol="native")


def test_site_ranks_within_protocol_and_marks_overlapping_intervals_as_tied(board, tmp_path):
    _three_entries(board, tmp_path)
    _, submissions = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    entries = {e.name: e for e in rank_entries(submissions)}
    assert entries["leader"].rank == 1 and entries["leader"].tied_with == []
    assert entries["runner-up"].rank == entries["close-second"].rank == 2
    assert entries["runner-up"].tied_with == ["close-second"]
    assert entries["native-one"].rank == 1  # never ranked against text entries


def test_site_build_writes_html_json_and_csv(cli, board, tmp_path):
    _three_entries(board, tmp_path)
    site = tmp_path / "site"
    result = cli("leaderboard", "build", "--output", site, "--leaderboard-dir", board.root)
    assert result.code == 0, result.err
    page = (site / "index.html").read_text()
    assert "Reported in papers — not reproduced" in page and "statistically tied" in page
    assert "<option value='text' selected>" in page and "<option value='native'>" in page
    assert "Test leaderboard: synthetic numbers." in page  # the registry's notice
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing loads from the network
    data = json.loads((site / "leaderboard.json").read_text())
    assert data["entries"][0]["name"] == "native-one"
    rows = list(csv.DictReader((site / "leaderboard.csv").open()))
    leader = next(r for r in rows if r["name"] == "leader")
    assert (
        float(leader["overall_ci_low"]) <= float(leader["overall_mean"]) <= float(leader["overall_ci_high"])
    )


def test_site_is_not_built_while_a_submission_is_invalid(board, tmp_path):
    path = _submit(board, tmp_path)
    obj = json.loads(path.read_text())
    _tamper_mean(obj)
    path.write_text(json.dumps(obj))
    with pytest.raises(InvalidSubmissions, match="claimed mean"):
        build_site(tmp_path / "site", leaderboard=board, registry=synthetic_registry())
    assert not (tmp_path / "site" / "index.html").exists()


def test_reported_numbers_render_only_in_their_own_labelled_table(board, tmp_path):
    _submit(board, tmp_path, name="reproduced")
    board.reported.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "kind": "unified-bench/reported-not-reproduced",
                "entries": [
                    {
                        "model": "paper-model",
                        "scores": {"overall": 86.0},
                        "scale": "percent",
                        "source": {
                            "title": "A paper",
                            "url": "https://example.org/paper",
                            "where": "Table 1",
                        },
                    }
                ],
            }
        )
    )
    build_site(tmp_path / "site", leaderboard=board, registry=synthetic_registry())
    page = (tmp_path / "site" / "index.html").read_text()
    leaderboard_table, reported_part = page.split("Reported in papers — not reproduced")
    assert "paper-model" not in leaderboard_table and "paper-model" in reported_part
    data = json.loads((tmp_path / "site" / "leaderboard.json").read_text())
    assert [e["name"] for e in data["entries"]] == ["reproduced"]
    assert data["reported_not_reproduced"][0]["source"]["where"] == "Table 1"


def test_a_reported_entry_without_a_source_is_refused(board, tmp_path):
    board.reported.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "kind": "unified-bench/reported-not-reproduced",
                "entries": [{"model": "m", "scores": {"overall": 0.8}, "scale": "cosine"}],
            }
        )
    )
    from unified_bench.errors import InputError

    with pytest.raises(InputError, match="source"):
        build_site(tmp_path / "site", leaderboard=board, registry=synthetic_registry())


def test_html_in_submission_metadata_is_escaped(board, tmp_path):
    path, problems = submit_run(
        _run(tmp_path, "x"),
        name="safe",
        url="https://example.org/?a=1&b=2",
        org="<script>alert(1)</script>",
        leaderboard=board,
        registry=synthetic_registry(),
    )
    assert problems == [] and path.exists()
    build_site(tmp_path / "site", leaderboard=board, registry=synthetic_registry())
    page = (tmp_path / "site" / "index.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "href='https://example.org/?a=1&amp;b=2'" in page


def _repeats_submission(board, tmp_path) -> Path:
    """A 2-seed ``--repeats`` run folder (each seed's results in repeat-K/) submitted as is."""
    from unified_bench.repeats import combine_repeats

    rng = np.random.default_rng(0)
    scores = base_scores(N, 3)
    seeds, runs = [0, 1], ["repeat-1", "repeat-2"]
    parts = [
        make_results(
            {k: np.clip(v + rng.normal(0, 0.01, N), -1, 1) for k, v in scores.items()}, bootstrap_seed=s
        )
        for s in seeds
    ]
    run_dir = tmp_path / "runs" / "repeated"
    for run, part in zip(runs, parts, strict=True):
        write_results(run_dir / run / "results.json", part)
    write_results(run_dir / "results.json", combine_repeats(parts, runs=runs, seeds=seeds))
    path, problems = submit_run(
        run_dir, name="repeated", url="https://example.org", leaderboard=board, registry=synthetic_registry()
    )
    assert problems == [], problems
    return path


def _spread_edited(obj):
    obj["results"]["repeats"]["scorers"]["clip"]["std"] = 0.0


def _seed_result_forged(obj):  # one seed's clip scores raised, its own aggregates recomputed
    seed = obj["seed_results"][1]
    raised = {i: min(1.0, v + 0.05) for i, v in seed["scorers"]["clip"]["per_sample"].items()}
    forge({"results": seed}, per_sample={"clip": raised})


def _seed_duplicated(obj):  # the first seed twice: no spread at all
    obj["seed_results"][1] = {**obj["seed_results"][0], "bootstrap": obj["seed_results"][1]["bootstrap"]}


def _seed_results_dropped(obj):
    del obj["seed_results"]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_spread_edited, "claimed spread"),
        (_seed_result_forged, "scorer clip per-sample values are not the mean over the seeds"),
        (_seed_duplicated, "seed 1: same per-sample clip scores as seed 0"),
        (_seed_results_dropped, "repeats claims 2 seeds but the submission carries no per-seed results"),
    ],
)
def test_a_repeats_claim_must_follow_from_its_per_seed_results(board, tmp_path, tamper, message):
    path = _repeats_submission(board, tmp_path)
    obj = json.loads(path.read_text())
    assert "lpips" not in obj["results"]["repeats"]["scorers"] and len(obj["seed_results"]) == 2
    assert validate_paths(None, leaderboard=board, registry=synthetic_registry())[0] == []
    tamper(obj)
    path.write_text(json.dumps(obj))
    problems, accepted = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert accepted == [] and any(message in str(p) for p in problems), [str(p) for p in problems]


def test_site_built_from_the_demo_run(cli, session_cache, tmp_path):
    from tests._demo import demo_run
    from unified_bench.results import read_results

    run_dir = demo_run(session_cache)
    results = read_results(run_dir)
    registry = OfficialRegistry.of_run(results, notice="Demo leaderboard: random weights.")
    root = tmp_path / "leaderboard"
    shutil.copytree(REPO_LEADERBOARD / "schema", root / "schema")
    (root / "official-fingerprints.json").write_text(json.dumps(registry.to_json()))
    result = cli(
        "submit",
        run_dir,
        "--name",
        "uae-tiny-demo",
        "--url",
        "https://example.org/uae-tiny",
        "--leaderboard-dir",
        root,
    )
    assert result.code == 0, result.err
    assert cli("leaderboard", "build", "--output", tmp_path / "site", "--leaderboard-dir", root).code == 0
    page = (tmp_path / "site" / "index.html").read_text()
    overall = results.overall
    assert "uae-tiny-demo" in page and f"[{overall.ci_low:.4f}, {overall.ci_high:.4f}]" in page
    data = json.loads((tmp_path / "site" / "leaderboard.json").read_text())
    assert data["entries"][0]["scores"]["overall"]["mean"] == overall.mean


def test_a_duplicate_key_in_a_submission_or_registry_is_refused_naming_the_key(cli, board, tmp_path):
    """``"name": "a", "name": "b"``: a reviewer reads the first, Python's json keeps the last."""
    path = _submit(board, tmp_path, name="b")
    text = path.read_text()
    path.write_text(text.replace('"name": "b"', '"name": "a", "name": "b"', 1))
    problems, accepted = validate_paths(None, leaderboard=board, registry=synthetic_registry())
    assert accepted == [] and [str(p) for p in problems] == [
        f"{path}: duplicate key 'name' in one object; keep one"
    ]
    path.write_text(text)
    registry_text = board.registry.read_text()
    board.registry.write_text(registry_text.replace('"dataset": {', '"dataset": {"name": "other", ', 1))
    result = cli("leaderboard", "validate", "--leaderboard-dir", board.root)
    lines = result.err.strip().splitlines()
    assert result.code != 0 and len(lines) == 1 and "duplicate key 'name'" in lines[0]
    assert "official-fingerprints.json" in lines[0]


@pytest.mark.parametrize(
    ("captions", "reason"),
    [
        ({"img000": "", "img001": "a dog", "img002": "a bird"}, "1 empty captions (img000)"),
        (
            {"img000": "anything", "img001": "anything", "img002": "a bird"},
            "2 of 3 samples have the same caption",
        ),
        (
            {"img000": "see img000.png", "img001": "a dog", "img002": "a bird"},
            "1 captions name their sample id",
        ),
        (
            {"img000": "a cat", "img001": "photo img001, a dog", "img002": "a bird"},
            "1 captions name their sample id or an image file (img001)",
        ),
    ],
)
def test_captions_that_cannot_describe_their_images_are_suspect(captions, reason):
    from unified_bench.leaderboard.plausibility import caption_suspicions

    found = caption_suspicions(list(captions), captions)
    assert len(found) == 1 and found[0].startswith(reason), found
    assert caption_suspicions(["img000", "img001"], {"img000": "a cat on a mat", "img001": "a dog"}) == []


def test_a_hand_written_verification_record_is_refused(cli, board, tmp_path):
    """``{"kind": ..., "submission_sha256": ...}`` next to a made-up submission is no verification."""
    import hashlib

    path = _submit(board, tmp_path, name="made-up")
    board.verified.mkdir()
    record = {
        "kind": "unified-bench/verification",
        "submission_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    board.verification_path("made-up").write_text(json.dumps(record))
    result = cli("leaderboard", "validate", "--leaderboard-dir", board.root)
    assert result.code == 1 and "is not a complete verification record (no name, outputs_sha256" in result.err
    with pytest.raises(InvalidSubmissions, match="is not a complete verification record"):
        build_site(tmp_path / "site", leaderboard=board, registry=synthetic_registry())


# -- validate --base: a pull request judged by what it changes -------------------------------------
def _git(repo: Path, *args: str) -> str:
    import subprocess

    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo_board(board, tmp_path) -> tuple[Path, LeaderboardDir]:
    """A git repository holding the leaderboard with one submission, committed and tagged ``base``."""
    _submit(board, tmp_path, name="original")
    repo = board.root.parent
    _git(repo, "init", "-q")
    _git(repo, "add", "leaderboard")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "tag", "base")
    return repo, board


def _pull_request(repo: Path, message: str = "pr") -> None:
    _git(repo, "add", "-A", "leaderboard")
    _git(repo, "commit", "-qm", message)


def test_validate_base_refuses_a_registry_edited_with_a_new_submission(cli, repo_board, tmp_path):
    """The new entry uses other images, and the same change adds their fingerprint to the registry."""
    repo, board = repo_board
    obj = _copy_of(board.submission_path("original"), "other-images")
    other = "sha256:" + "e" * 64
    obj["results"]["dataset"]["fingerprint"] = other
    forge(
        obj,
        per_sample={
            n: {i: v - 0.2 for i, v in s["per_sample"].items()} for n, s in obj["results"]["scorers"].items()
        },
    )
    board.submission_path("other-images").write_text(json.dumps(obj))
    registry = json.loads(board.registry.read_text())
    registry["dataset"]["fingerprints"].append(other)
    board.registry.write_text(json.dumps(registry))
    _pull_request(repo)
    assert (
        cli("leaderboard", "validate", "--leaderboard-dir", board.root).code == 0
    )  # the checkout agrees with itself
    result = cli("leaderboard", "validate", "--base", "base", "--leaderboard-dir", board.root)
    lines = result.err.strip().splitlines()
    assert result.code == 1
    assert any(
        "official-fingerprints.json: this change edits it and adds submissions (other-images.json)" in line
        for line in lines
    )
    assert any("other-images.json" in line and "is not the official synthetic one" in line for line in lines)


@pytest.mark.parametrize("edit", ["verified", "other submission"])
def test_validate_base_refuses_maintainer_files_changed_with_a_new_submission(
    cli, repo_board, tmp_path, edit
):
    repo, board = repo_board
    _submit(board, tmp_path, name="newcomer", seed=3)
    if edit == "verified":
        board.verified.mkdir()
        touched = board.verification_path("newcomer")
        touched.write_text(json.dumps({"kind": "unified-bench/verification"}))
    else:
        touched = board.submission_path("original")
        obj = json.loads(touched.read_text())
        obj["metadata"]["org"] = "someone else"
        touched.write_text(json.dumps(obj))
    _pull_request(repo)
    result = cli("leaderboard", "validate", "--base", "base", "--leaderboard-dir", board.root)
    assert result.code == 1
    assert f"{touched.relative_to(repo).as_posix()}: this change" in result.err.replace(str(repo) + "/", "")
    _git(repo, "reset", "-q", "--hard", "base")  # the same submission in a change of its own is accepted
    _submit(board, tmp_path, name="newcomer", seed=3)
    _pull_request(repo)
    result = cli("leaderboard", "validate", "--base", "base", "--leaderboard-dir", board.root)
    assert result.code == 0 and "1 submission(s) valid" in result.err, result.err


def test_validate_base_blames_the_new_copy_even_when_all_its_dates_are_backdated(cli, repo_board):
    """Both ``submitted_at`` and the run's ``finished_at`` set to 2020: git history says which came first."""
    repo, board = repo_board
    copy = _copy_of(board.submission_path("original"), "backdated")
    copy["metadata"]["submitted_at"] = "2020-01-01T00:00:00+00:00"
    copy["results"]["provenance"] = {"finished_at": "2019-12-31T00:00:00+00:00"}
    board.submission_path("backdated").write_text(json.dumps(copy))
    _pull_request(repo)
    result = cli("leaderboard", "validate", "--base", "base", "--leaderboard-dir", board.root)
    lines = result.err.strip().splitlines()
    assert result.code == 1 and len(lines) == 1
    assert "backdated.json: same per-sample clip scores as 'original'" in lines[0]


def test_validate_base_names_a_bad_revision_in_one_line(cli, repo_board):
    _, board = repo_board
    result = cli("leaderboard", "validate", "--base", "no-such-ref", "--leaderboard-dir", board.root)
    lines = result.err.strip().splitlines()
    assert result.code != 0 and len(lines) == 1 and "--base" in lines[0] and "Traceback" not in result.err


def test_the_workflow_examples_run_validate_base_on_pull_requests_and_verify_for_maintainers():
    import yaml

    examples = REPO_LEADERBOARD.parent / "docs" / "examples"
    validate = yaml.safe_load((examples / "leaderboard-validate.yml").read_text())
    verify = yaml.safe_load((examples / "leaderboard-verify.yml").read_text())
    assert set(validate[True]) == {"pull_request"} and validate["permissions"] == {"contents": "read"}
    steps = " ".join(step.get("run", "") for step in validate["jobs"]["validate"]["steps"])
    assert "unified-bench leaderboard validate --base" in steps
    assert set(verify[True]) == {"workflow_dispatch"}
    job = verify["jobs"]["verify"]
    assert job["environment"] == "leaderboard-maintainers"
    assert "unified-bench leaderboard verify" in " ".join(step.get("run", "") for step in job["steps"])
