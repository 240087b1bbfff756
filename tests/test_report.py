"""report: one self-contained HTML page per run, sortable, best and worst first."""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from tests._demo import demo_run
from tests._synthetic import base_scores, make_results, second_run
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
    assert len(set(sources)) == 2 * len(results.samples["ids"])  # reference + reconstruction each
    assert "<svg class='hist'" in page  # histograms are inline SVG, not images
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


def test_a_histogram_per_scorer_with_bars_that_count_the_samples(tmp_path, samples):
    run_dir, results = _run_dir(tmp_path, samples)
    page = build_report(run_dir).read_text()
    for name, summary in results.scorers.items():
        cell = re.search(rf"<figure class='hist-cell' data-scorer='{name}'>(.*?)</figure>", page, re.S)
        assert cell, name
        counts = [int(c) for c in re.findall(r"<title>[^<]*: (\d+)</title>", cell[1])]
        assert sum(counts) == len(summary.per_sample), name  # every sample in exactly one bar


def test_discrete_and_constant_scorers_get_sensible_histograms(tmp_path, samples):
    """Word counts get one bar per value; a metric equal on every sample (BLEU-4 at 1e-13) gets no axis."""
    from unified_bench.report.svg import histogram_bars, histogram_svg

    words = [7, 8, 8, 9, 9, 9, 12, 14]
    bars = histogram_bars(words)
    assert [(b.label, b.count) for b in bars] == [
        (str(v), n) for v, n in sorted(Counter(words).items())
    ]  # re-derived with Counter
    flat = histogram_svg(
        [1.35e-13] * 8, mean=1.35e-13, ci_low=1.35e-13, ci_high=1.35e-13, color="#000", label="b"
    )
    assert "<svg" not in flat and "all 8 samples score 0.0000" in flat
    continuous = histogram_bars(list(np.linspace(0.1, 0.9, 40)))
    assert all(b.label is None for b in continuous) and sum(b.count for b in continuous) == 40
    assert continuous[0].low == pytest.approx(0.1) and continuous[-1].high == pytest.approx(0.9)


def test_cards_label_reference_and_reconstruction_and_show_reference_captions(tmp_path, samples):
    run_dir, _ = _run_dir(tmp_path, samples)
    page = build_report(run_dir).read_text()
    card = page[page.index("<div class='card best'>") :]
    card = card[: card.index("</div>\n")]
    assert "<figcaption>reference</figcaption>" in card and "<figcaption>reconstruction</figcaption>" in card
    first = samples.samples[0]
    assert first.captions, "the bundled photos have reference captions"
    assert html.escape(first.captions[0], quote=True) in page
    assert "<th>reference captions</th>" in page


def test_the_images_and_captions_come_beside_the_sticky_id_then_every_scorer(tmp_path, samples):
    run_dir, results = _run_dir(tmp_path, samples)
    page = build_report(run_dir).read_text()
    header = page[page.index("<table id='samples'") :]
    header = header[: header.index("</thead>")]
    labels = [re.sub(r"<[^>]+>|[ ↓]", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", header)]
    assert labels[:2] == ["rank", "id"] and "class='sticky'" in header
    assert labels[2:5] == [
        "reference",
        "reconstruction",
        "caption",
    ]  # at 1280 px, on screen without scrolling
    first_score = labels.index("overall")
    assert set(labels[first_score:]) == {"overall", *results.scorers}


def test_provenance_says_how_the_run_was_made(tmp_path, samples):
    run_dir, results = _run_dir(tmp_path, samples)
    made = replace(
        results,
        model={"name": "uae", "adapter_args": {"model": "/models/UAE"}, "info": {"dtype": "bfloat16"}},
        provenance={
            "command": ["/usr/bin/unified-bench", "run", "--model", "uae", "--output", "runs/my run"],
            "device": {"requested": "cuda", "gpus": ["NVIDIA H100"], "cpu_count": 32},
            "packages": {"torch": "2.14.1"},
            "seeds": {"run_seed": 3},
        },
    )
    write_results(run_dir / "results.json", made)
    page = build_report(run_dir).read_text()
    section = page[page.index("How this run was made") :]
    assert "unified-bench run --model uae --output &#x27;runs/my run&#x27;" in section
    assert "model=/models/UAE" in section and "bfloat16" in section and "NVIDIA H100" in section
    assert "torch 2.14.1" in section and "run_seed" in section
    for name, summary in results.scorers.items():
        assert html.escape(summary.fingerprint, quote=True) in section, name
    assert results.dataset["fingerprint"] in section


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


# -- two runs side by side ------------------------------------------------------------------------


def test_two_runs_side_by_side_show_per_sample_changes_and_the_largest_ones(cli, tmp_path, samples):
    run_a, results_a = _run_dir(tmp_path, samples)
    ids = results_a.samples["ids"]
    shift = {ids[0]: 0.2, ids[1]: 0.1, ids[2]: -0.15}  # B is better on two images, worse on one
    run_b, results_b = second_run(tmp_path, samples, results_a, shift)
    result = cli("report", run_a, run_b)
    assert result.code == 0, result.err
    page = (run_b / "report-vs-run.html").read_text()

    grid = page[page.index("<table id='samples'") :]
    for name in results_a.scorers:
        for sample_id in ids:
            expected = (
                results_b.scorers[name].per_sample[sample_id] - results_a.scorers[name].per_sample[sample_id]
            )
            row = grid[grid.index(f"<tr data-id='{sample_id}'>") :]
            row = row[: row.index("</tr>")]
            values = [float(v) for v in re.findall(r"data-value='([-0-9.e]+)'", row)]
            assert any(v == pytest.approx(expected, abs=1e-12) for v in values), (name, sample_id)
    cards = re.findall(r"<div class='card (best|worst)'><h3>(improved|worse): ([^ ]+) ", page)
    by_kind = {kind: [i for k, _, i in cards if k == kind] for kind in ("best", "worst")}
    # overall moves with the shift (mean of the four paper scorers, each shifted alike)
    assert by_kind["best"][:2] == [ids[0], ids[1]] and by_kind["worst"][0] == ids[2]
    assert "A run" in page and "B run-b" in page  # both reconstructions, labelled
    assert f"B says {ids[0]}" in page  # B's captions next to A's
    summary = page[page.index("<table id='summary'") : page.index("</table>")]
    assert "better" in summary  # ids 0 and 1 move a lot: the paired test sees it


def test_two_runs_on_different_images_are_refused(cli, tmp_path, samples):
    run_a, results_a = _run_dir(tmp_path, samples)
    other = replace(results_a, dataset={**results_a.dataset, "fingerprint": "sha256:" + "0" * 64})
    folder = tmp_path / "other"
    write_results(folder / "results.json", other)
    result = cli("report", run_a, folder)
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.count("Error:") == 1 and "report" in result.err
