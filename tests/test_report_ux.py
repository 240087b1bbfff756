"""What the report pages say: the random-weights banner, counts as whole numbers, the two-run page's
gate (``--gate``), its power warnings (as ``compare`` prints them) and the informational label."""

from __future__ import annotations

import re

import numpy as np

from tests._demo import demo_run
from tests._synthetic import base_scores, make_results
from unified_bench.compare import CompareSettings, compare_results
from unified_bench.results import write_results


def test_the_demo_report_says_its_weights_are_random_and_prints_counts_as_integers(
    cli, session_cache, tmp_path
):
    run_dir = demo_run(session_cache)
    page = tmp_path / "demo.html"
    assert cli("report", run_dir, "-o", page).code == 0
    html = page.read_text()
    assert "Random weights: the model (uae-tiny) and the scorers " in html and "clip" in html
    grid = html.split("id='grid'")[-1] if "id='grid'" in html else html
    counts = [
        (int(w), shown) for w, shown in re.findall(r"data-value='(\d+)\.0'>([^<]+)<", grid) if int(w) >= 2
    ]
    assert counts and all(shown == str(whole) for whole, shown in counts)  # caption_words 12, not 12.0000


def test_a_report_of_official_weights_has_no_banner(cli, tmp_path):
    write_results(tmp_path / "run" / "results.json", make_results(base_scores(6, 0, ("clip", "ssim"))))
    assert cli("report", tmp_path / "run", "-o", tmp_path / "r.html").code == 0
    assert "Random weights" not in (tmp_path / "r.html").read_text()


def _two_runs(tmp_path, scorers, n=12):
    base = base_scores(n, 0, scorers)
    noise = np.random.default_rng(7)
    a, b = make_results(base), make_results({k: v + noise.normal(0, 0.02, n) for k, v in base.items()})
    write_results(tmp_path / "a" / "results.json", a)
    write_results(tmp_path / "b" / "results.json", b)
    return a, b


def _summary_rows(html: str) -> list[str]:
    return html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]


def test_two_runs_without_overall_are_gated_on_a_shared_scorer_or_on_gate(cli, tmp_path):
    _two_runs(tmp_path, ("psnr", "ssim", "caption_words"))  # no paper scorer: no overall
    page = tmp_path / "r.html"
    result = cli("report", tmp_path / "a", tmp_path / "b", "-o", page)
    assert result.code == 0, result.err
    html = page.read_text()
    assert "Gated on psnr: the runs have no overall score" in html
    assert "gate</span>" in _summary_rows(html)[0] and ">psnr<" in _summary_rows(html)[0]
    assert "caption_words (informational: no better direction)" in html and "one run only" not in html
    assert cli("report", tmp_path / "a", tmp_path / "b", "-o", page, "--gate", "ssim").code == 0
    rows = _summary_rows(page.read_text())
    assert ">ssim<" in rows[0] and "gate</span>" in rows[0] and "Gated on" not in page.read_text()


def test_the_two_run_page_carries_compares_power_warnings(cli, tmp_path):
    a, b = _two_runs(tmp_path, ("clip", "dinov2", "dinov3", "longclip"))
    expected = compare_results(a, b, settings=CompareSettings(allow_partial=True)).warnings
    assert expected  # 12 noisy samples: the gate cannot see a 0.005 change
    page = tmp_path / "r.html"
    assert cli("report", tmp_path / "a", tmp_path / "b", "-o", page).code == 0
    text = page.read_text().replace("&#x27;", "'").replace("&quot;", '"')
    for warning in expected:
        assert warning in text


def test_report_gate_needs_two_runs(cli, tmp_path):
    _two_runs(tmp_path, ("psnr",))
    result = cli("report", tmp_path / "a", "--gate", "clip")
    assert result.code == 2 and "only with two runs" in result.err


def test_the_two_run_page_plots_each_image_a_against_b_with_the_diagonal(cli, tmp_path):
    a, b = _two_runs(tmp_path, ("clip", "dinov2"), n=8)
    page = tmp_path / "r.html"
    assert cli("report", tmp_path / "a", tmp_path / "b", "-o", page).code == 0
    html = page.read_text()
    figure = html.split("data-scorer='clip'><figcaption><strong>clip</strong> <span class='dir'>A vs B")[1]
    svg = figure.split("</svg>")[0]
    assert "class='diagonal'" in svg
    dots = re.findall(
        r"<circle cx='([\d.]+)' cy='([\d.]+)'.*?<title>([^:]+): A clip ([\d.]+), B clip ([\d.]+)", svg
    )
    assert sorted(d[2] for d in dots) == sorted(a.samples["ids"])
    for cx, cy, sample_id, x, y in dots:  # above the diagonal (smaller y on screen) exactly when B > A
        assert abs(float(x) - a.scorers["clip"].per_sample[sample_id]) < 1e-4
        assert abs(float(y) - b.scorers["clip"].per_sample[sample_id]) < 1e-4
        above = (220 - float(cy)) > float(cx) + 0.2
        below = (220 - float(cy)) < float(cx) - 0.2
        assert not (above and float(y) < float(x)) and not (below and float(y) > float(x))
    assert "<strong>clip vs dinov2</strong> <span class='dir'>in B</span>" in html  # scorer vs scorer
