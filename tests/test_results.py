"""results.json: built from per-sample scores, validated by its JSON Schema, versioned."""

import json

import pandas as pd
import pytest

from unified_bench.errors import InputError, SchemaVersionError
from unified_bench.results import build_results, read_results, write_results, write_samples_table

FINGERPRINT = "sha256:" + "0" * 64
IDS = ["a", "b", "c", "d"]


def _results(scores=None, **kwargs):
    scores = scores or {
        "clip": {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6},
        "dinov2": {"a": 0.5, "b": 0.4, "c": 0.3, "d": 0.2},
        "dinov3": {"a": 0.6, "b": 0.6, "c": 0.6, "d": 0.6},
        "longclip": {"a": 0.7, "b": 0.8, "c": 0.9, "d": 1.0},
        "lpips": {"a": 0.3, "b": 0.2, "c": 0.1, "d": 0.4},
        "bleu4": {"a": None, "b": None, "c": None, "d": None},
    }
    meta = {name: (f"{name}:weights", name != "lpips") for name in scores}
    return build_results(
        ids=IDS,
        scores=scores,
        scorer_meta=meta,
        dataset={"name": "toy", "fingerprint": FINGERPRINT},
        protocol="text",
        model={"name": "m", "adapter_args": {}, "info": {}},
        captions=dict.fromkeys(IDS, "a cat"),
        bootstrap_seed=0,
        n_resamples=500,
        **kwargs,
    )


def test_overall_is_the_mean_of_the_four_paper_scorer_means():
    results = _results()
    means = [results.scorers[n].mean for n in ("clip", "dinov2", "dinov3", "longclip")]
    assert results.overall.mean == pytest.approx(sum(means) / 4)
    assert results.overall.complete
    assert results.overall.ci_low <= results.overall.mean <= results.overall.ci_high


def test_overall_with_fewer_scorers_is_marked_incomplete():
    results = _results({"clip": {i: 0.5 for i in IDS}})
    assert results.overall.components == ["clip"] and not results.overall.complete


def test_scorer_with_no_applicable_sample_is_left_out_and_direction_is_recorded():
    results = _results()
    assert "bleu4" not in results.scorers
    assert results.scorers["lpips"].higher_is_better is False
    assert results.scorers["clip"].per_sample == {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}


def test_write_then_read_round_trips(tmp_path):
    results = _results(missing=["e"])
    write_results(tmp_path / "results.json", results)
    assert read_results(tmp_path) == results
    assert read_results(tmp_path / "results.json").samples["missing"] == ["e"]


def test_another_schema_version_is_refused_with_one_line(tmp_path):
    path = tmp_path / "results.json"
    write_results(path, _results())
    obj = json.loads(path.read_text())
    obj["schema_version"] = 99
    path.write_text(json.dumps(obj))
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        read_results(path)


def test_a_file_breaking_the_schema_is_refused(tmp_path):
    path = tmp_path / "results.json"
    write_results(path, _results())
    obj = json.loads(path.read_text())
    obj["scorers"]["clip"]["mean"] = "high"
    path.write_text(json.dumps(obj))
    with pytest.raises(InputError, match="scorers/clip/mean"):
        read_results(path)


def test_missing_or_foreign_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no results file"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text('{"hello": 1}')
    with pytest.raises(InputError, match="not a unified-bench results file"):
        read_results(tmp_path)


def test_samples_table_has_one_row_per_sample_and_a_column_per_scorer(tmp_path):
    results = _results()
    write_samples_table(tmp_path / "samples.csv", results)
    table = pd.read_csv(tmp_path / "samples.csv")
    assert list(table["id"]) == IDS
    assert {"caption", "clip", "lpips", "overall"} <= set(table.columns)
    assert table.loc[0, "clip"] == pytest.approx(0.9)


def test_a_duplicate_key_is_refused_in_one_line_naming_the_key_and_file(tmp_path, cli):
    """A reviewer reads the first "mean", Python's json keeps the last: neither wins, the file is refused."""
    path = tmp_path / "results.json"
    write_results(path, _results())
    text = path.read_text()
    first = text.index('"mean": ')
    path.write_text(text[:first] + '"mean": 0.99, ' + text[first:])  # the same key twice in one object
    with pytest.raises(InputError, match=r"results\.json: duplicate key 'mean' in one object"):
        read_results(path)
    other = tmp_path / "other.json"
    write_results(other, _results())
    result = cli("compare", other, path)  # compare reads its inputs through the same reader
    lines = result.err.strip().splitlines()
    assert (
        result.code == 2 and len(lines) == 1 and "duplicate key 'mean'" in lines[0] and str(path) in lines[0]
    )
