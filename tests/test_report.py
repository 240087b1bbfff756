"""report: one self-contained HTML page per run, sortable, best and worst first."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from tests._demo import demo_run
from tests._synthetic import base_scores, make_results
from unified_bench.datasets import load_dataset
from unified_bench.repeats import combine_repeats
from unified_bench.report import build_report
from unified_bench.results import write_results


@pytest.fixture(scope="module")
def samples():
    return load_dataset("samples")


def _run_dir(tmp_path, samples, *, caption="a <b>bold</b> claim & more", images=True, repeats=False):
    """A run folder of the 8 bundled photos: synthetic scores, blurred photos as reconstructions."""
    ids = [s.id for s in samples.samples]
    results = make_results(base_scores(len(ids), 7), ids=ids, dataset_fingerprint=samples.fingerprint)
    results = replace(
        results,
        dataset={**results.dataset, "name": "samples", "source": samples.source},
        samples={**results.samples, "captions": {i: f"{caption} {i}" for i in ids}},
    )
    run_dir = tmp_path / "run"
    image_dir = run_dir / "images"
    if repeats:
        second = replace(results, scorers={n: replace(s) for n, s in results.scorers.items()})
        results = combine_repeats([results, second], runs=["repeat-1", "repeat-2"], seeds=[0, 1])
        image_dir = run_dir / "repeat-1" / "images"
    if images:
        image_dir.mkdir(parents=True)
        for sample in samples.samples:
            sample.image.resize((96, 96)).save(image_dir / f"{sample.id}.png")
    write_results(run_dir / "results.json", results)
    return run_dir, results


def _grid_order(page: str) -> list[str]:
    grid = page[page.index("<table id='samples'") :]
    return re.findall(r"<tr data-id='([^']+)'>", grid)


def test_report_is_a_single_self_contained_file(tmp_path, samples):
    run_dir, results = _run_dir(tmp_path, samples)
    page = build_report(run_dir).read_text()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    sources = re.findall(r"src=['\"]([^'\"]+)['\"]", page)
    assert sources and all(s.startswith("data:image/") for s in sources)
    assert not re.search(r"<link[^>]+stylesheet|<script[^>]+src=|https?://(?!www\.w3\.org)", page)
    assert len(set(sources)) == 2 * len(results.samples["ids"]) + 1  # reference + reconstruction each, plot
    for sample_id in results.samples["ids"]:
        assert f"data-id='{sample_id}'" in page


def test_summary_shows_every_scorer_with_its_interval(tmp_path, samples):
    run_dir, results = _run_dir(tmp_path, samples)
    page = build_report(run_dir, tmp_path / "out" / "r.html").read_text()
    summary = page[page.index("<table id='summary'") : page.index("</table>")]
    for name, scorer in results.scorers.items():
        assert f"<strong>{name}</strong>" in summary
        assert f"[{scorer.ci_low:.4f}, {scorer.ci_high:.4f}]" in summary
    assert "lower is better" in summary  # lpips


def test_samples_are_sorted_best_first_with_best_and_worst_cards(tmp_path, samples):
    run_dir, results = _run_dir(tmp_path, samples)
    page = build_report(run_dir).read_text()
    expected = sorted(results.overall.per_sample, key=results.overall.per_sample.get, reverse=True)
    assert _grid_order(page) == expected
    cards = re.findall(r"<div class='card (best|worst)'><h3>\w+: ([^ ]+) ", page)
    assert [i for kind, i in cards if kind == "best"] == expected[:3]
    assert [i for kind, i in cards if kind == "worst"] == expected[::-1][:3]


def test_model_text_is_escaped(tmp_path, samples):
    run_dir, _ = _run_dir(tmp_path, samples, caption="<script>alert(1)</script>")
    page = build_report(run_dir).read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_distribution_plot_is_an_embedded_png(tmp_path, samples):
    run_dir, _ = _run_dir(tmp_path, samples)
    page = build_report(run_dir).read_text()
    encoded = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)[1]
    plot = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert plot.format == "PNG" and plot.width >= 600 and plot.height >= 200


def test_missing_references_and_images_are_noted_not_fatal(tmp_path, samples):
    run_dir, results = _run_dir(tmp_path, samples, images=False)
    elsewhere = replace(results, dataset={**results.dataset, "name": "private", "source": "/nowhere"})
    write_results(run_dir / "results.json", elsewhere)
    page = build_report(run_dir).read_text()
    assert "were not found on this machine" in page and "No reconstructions found" in page
    assert page.count("reference not available") >= len(results.samples["ids"])


def test_a_dataset_with_other_images_is_refused(cli, tmp_path, samples):
    run_dir, _ = _run_dir(tmp_path, samples)
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(other / "x.png")
    result = cli("report", run_dir, "--dataset", other)
    assert result.code == 2 and "differs from the run's" in result.err


def test_repeats_report_shows_seed_spread_and_first_seed_images(tmp_path, samples):
    run_dir, _ = _run_dir(tmp_path, samples, repeats=True)
    page = build_report(run_dir).read_text()
    assert "across 2 seeds (sd)" in page and "means over the seeds" in page
    assert "no image" not in page


def test_report_from_the_demo_run(cli, session_cache):
    run_dir = demo_run(session_cache)
    result = cli("report", run_dir, "--output", run_dir / "demo-report.html")
    assert result.code == 0, result.err
    page = (run_dir / "demo-report.html").read_text()
    assert len(_grid_order(page)) == 8
    assert "reference not available" not in page and "no image" not in page
    assert "<strong>overall</strong>" in page and "uae-tiny" in page


def test_long_captions_fold_and_scored_folders_show_their_matched_files(tmp_path, samples):
    _, results = _run_dir(tmp_path, samples, caption="word " * 200, images=False)
    generated = tmp_path / "generated"
    generated.mkdir()
    matched = {}
    for sample in samples.samples:
        matched[sample.id] = f"recon_{sample.id}.jpg"
        sample.image.convert("RGB").resize((64, 64)).save(generated / matched[sample.id])
    scored_folder = replace(
        results, protocol=None, model=None, provenance={"generated_dir": str(generated), "matched": matched}
    )
    write_results(generated / "results.json", scored_folder)  # where `unified-bench score` writes it
    page = build_report(generated).read_text()
    assert "no image" not in page and "scored folder" in page
    assert page.count("<details><summary>") >= len(matched)
