"""The leaderboard site and a run report in a real browser (headless Chromium, offline).

No console errors, sorting by a column reorders the rows, the protocol filter hides rows, and a
screenshot of each page is saved as a test artifact (in $UNIFIED_BENCH_TEST_ARTIFACTS if set,
else in the test's tmp folder).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests._browser import (
    emulate_phone,
    find_chromium,
    full_page_screenshot,
    headless_chromium,
    open_page,
    phone_screenshot,
)
from tests._demo import demo_run
from tests._leaderboard import REPO_LEADERBOARD, synthetic_registry
from tests._synthetic import base_scores, make_results, second_run
from unified_bench.leaderboard import LeaderboardDir
from unified_bench.leaderboard.site import build_site
from unified_bench.leaderboard.submit import submit_run
from unified_bench.report import build_report
from unified_bench.results import write_results

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="needs Debian packages chromium and chromium-driver (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("selenium", reason="selenium is in the dev extra: pip install -e '.[dev]'")
    with headless_chromium() as driver:
        yield driver


@pytest.fixture
def artifacts(tmp_path) -> Path:
    folder = Path(os.environ.get("UNIFIED_BENCH_TEST_ARTIFACTS") or tmp_path / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _column(driver, table_id: str, index: int) -> list[str]:
    """The text of column ``index`` (1-based) in the visible rows, top to bottom."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(`#${arguments[0]} tbody tr`))"
        ".filter(r => !r.hidden).map(r => r.children[arguments[1] - 1].dataset.value"
        " ?? r.children[arguments[1] - 1].textContent.trim());",
        table_id,
        index,
    )


def _header(driver, table_id: str, label: str):
    from selenium.webdriver.common.by import By

    headers = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th")
    for position, header in enumerate(headers, start=1):
        if header.text.replace("↕", "").replace("↓", "").strip() == label:
            return position, header
    raise AssertionError(f"no column {label!r} in #{table_id}")


def _assert_screenshot(path: Path, *, min_width: int = 800) -> None:
    assert path.is_file()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= min_width and image.height >= 400
        darkest, brightest = image.convert("L").getextrema()
        assert brightest - darkest > 100  # not a blank page


@pytest.fixture
def site(tmp_path) -> Path:
    root = tmp_path / "leaderboard"
    shutil.copytree(REPO_LEADERBOARD / "schema", root / "schema")
    (root / "submissions").mkdir()
    (root / "official-fingerprints.json").write_text(json.dumps(synthetic_registry().to_json()))
    board = LeaderboardDir(root)
    for name, shift, seed, protocol in [
        ("alpha", -0.10, 1, "text"),  # synthetic cosines reach ~1: shifts stay in range
        ("bravo", -0.2, 2, "text"),
        ("charlie", -0.15, 3, "text"),
        ("delta-native", 0.0, 4, "native"),
    ]:
        scores = {k: v + shift for k, v in base_scores(24, seed).items()}
        run_dir = tmp_path / "runs" / name
        write_results(run_dir / "results.json", make_results(scores, protocol=protocol))
        _, problems = submit_run(
            run_dir, name=name, url="https://example.org", leaderboard=board, registry=synthetic_registry()
        )
        assert problems == []
    return build_site(tmp_path / "site", leaderboard=board, registry=synthetic_registry())


def test_leaderboard_site_sorts_filters_and_has_no_console_errors(browser, site, artifacts):
    assert open_page(browser, site) == []
    names_index, _ = _header(browser, "leaderboard", "name")
    assert sorted(_column(browser, "leaderboard", names_index)) == ["alpha", "bravo", "charlie"]  # text only

    clip_index, clip = _header(browser, "leaderboard", "clip")
    clip.click()
    descending = [float(v) for v in _column(browser, "leaderboard", clip_index)]
    assert descending == sorted(descending, reverse=True)
    clip.click()
    ascending = [float(v) for v in _column(browser, "leaderboard", clip_index)]
    assert ascending == sorted(descending) and ascending != descending

    _, name = _header(browser, "leaderboard", "name")
    name.click()
    assert _column(browser, "leaderboard", names_index) == ["alpha", "bravo", "charlie"]

    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "protocol-filter")).select_by_value("all")
    assert len(_column(browser, "leaderboard", names_index)) == 4
    status = Select(browser.find_element("id", "status-filter"))
    status.select_by_value("verified")  # none of these entries is verified
    assert _column(browser, "leaderboard", names_index) == []
    status.select_by_value("self-reported")
    assert len(_column(browser, "leaderboard", names_index)) == 4
    status.select_by_value("all")
    Select(browser.find_element("id", "protocol-filter")).select_by_value("native")
    assert _column(browser, "leaderboard", names_index) == ["delta-native"]
    visible_plots = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure.plot')).filter(f => !f.hidden)"
        ".map(f => f.dataset.protocol);"
    )
    assert visible_plots == ["native"]
    Select(browser.find_element("id", "protocol-filter")).select_by_value("text")
    assert browser.get_log("browser") == []
    _assert_screenshot(full_page_screenshot(browser, artifacts / "leaderboard.png"))


def test_leaderboard_site_fits_a_390_px_phone(browser, site, artifacts):
    """Nothing overflows the page sideways: the table scrolls inside its box, the chart fits."""
    from tests._browser import emulate_phone, phone_screenshot, reset_emulation

    assert open_page(browser, site) == []
    try:
        emulate_phone(browser, 390)
        widths = browser.execute_script(
            "const box = (s) => Array.from(document.querySelectorAll(s)).map(e => e.getBoundingClientRect());"
            "return {page: document.documentElement.scrollWidth, viewport: window.innerWidth,"
            " plots: box('svg.dotplot').map(r => r.right), tableBox: box('.scroll').map(r => r.right),"
            " labels: box('svg.dotplot text').map(r => [r.left, r.right])};"
        )
        assert widths["viewport"] == 390 and widths["page"] <= 390, widths
        assert widths["plots"] and all(right <= 390 for right in widths["plots"] + widths["tableBox"])
        assert all(left >= 0 and right <= 390 for left, right in widths["labels"]), widths["labels"]
        _assert_screenshot(phone_screenshot(browser, artifacts / "leaderboard-390.png"), min_width=390)
    finally:
        reset_emulation(browser)


def test_report_sorts_by_a_column_and_has_no_console_errors(browser, session_cache, tmp_path, artifacts):
    report = build_report(demo_run(session_cache), tmp_path / "report.html")
    assert open_page(browser, report) == []
    rank_index, rank = _header(browser, "samples", "rank")
    assert _column(browser, "samples", rank_index) == [str(i) for i in range(1, 9)]  # best first

    clip_index, clip = _header(browser, "samples", "clip")
    clip.click()
    values = [float(v) for v in _column(browser, "samples", clip_index)]
    assert values == sorted(values, reverse=True)
    best_first = _column(browser, "samples", 2)
    clip.click()
    assert [float(v) for v in _column(browser, "samples", clip_index)] == sorted(values)
    assert _column(browser, "samples", 2) == best_first[::-1]

    lpips_index, lpips = _header(browser, "samples", "lpips")
    lpips.click()  # lower is better: the first click puts the best (lowest) first
    lpips_values = [float(v) for v in _column(browser, "samples", lpips_index)]
    assert lpips_values == sorted(lpips_values)

    rank.click()
    assert _column(browser, "samples", rank_index) == [str(i) for i in range(1, 9)]
    assert browser.get_log("browser") == []
    _assert_screenshot(full_page_screenshot(browser, artifacts / "report.png"))


def _visible_in_grid(driver) -> dict[str, bool]:
    """For each header of the samples table: is it entirely inside the table's visible box?"""
    return driver.execute_script(
        "const box = document.querySelector('#samples').parentElement.getBoundingClientRect();"
        "const out = {}; document.querySelectorAll('#samples thead th').forEach(th => {"
        " const r = th.getBoundingClientRect();"
        " const name = th.textContent.replace(/[↕↓]/g, '').trim();"
        " out[name] = r.left >= box.left - 1 && r.right <= box.right + 1; });"
        "return out;"
    )


def _overlaps(driver) -> list[str]:
    """Pairs of cells of the samples table's first body row (and its header) whose boxes intersect,
    the sticky id column included: what the reader would see painted over something else."""
    return driver.execute_script(
        "const rows = [document.querySelector('#samples thead tr'),"
        " document.querySelector('#samples tbody tr')];"
        "const bad = []; rows.forEach(row => { const cells = Array.from(row.children);"
        " cells.forEach((a, i) => cells.slice(i + 1).forEach(b => {"
        "  const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();"
        "  if (r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1)"
        "   bad.push(a.textContent.trim().slice(0, 20) + ' / ' + b.textContent.trim().slice(0, 20)); })); });"
        "return bad;"
    )


def test_report_at_1280_px_shows_the_images_and_caption_beside_the_id_and_nothing_overlaps(
    browser, session_cache, tmp_path
):
    run_dir = demo_run(session_cache)
    report = build_report(run_dir, tmp_path / "report.html")
    browser.set_window_size(1280, 900)
    assert open_page(browser, report) == []
    visible = _visible_in_grid(browser)
    assert all(visible.get(name) for name in ("id", "reference", "reconstruction", "caption")), visible
    assert _overlaps(browser) == []
    # At every horizontal scroll position the pinned id column stays in view and on top: what is
    # painted at the centre of its header and of its first cell is the id column itself.
    width = browser.execute_script(
        "const s = document.querySelector('#samples').parentElement; return s.scrollWidth - s.clientWidth;"
    )
    for position in sorted({0, width // 4, width // 2, width}):
        browser.execute_script(f"document.querySelector('#samples').parentElement.scrollLeft = {position}")
        on_top = browser.execute_script(
            "document.querySelector('#samples tbody tr').scrollIntoView({block: 'center'});"
            "return ['#samples thead th.sticky', '#samples tbody td.sticky'].map(sel => {"
            " const cell = document.querySelector(sel), r = cell.getBoundingClientRect();"
            " const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
            " return hit !== null && hit.closest('th, td') === cell; });"
        )
        assert on_top == [True, True], position
    id_left, box_left = browser.execute_script(
        "return [document.querySelector('#samples tbody td.sticky').getBoundingClientRect().left,"
        " document.querySelector('#samples').parentElement.getBoundingClientRect().left];"
    )
    assert abs(id_left - box_left) < 2, (id_left, box_left)  # scrolled fully right: pinned at the left edge
    browser.set_window_size(1300, 1000)


def test_report_at_390_px_nothing_overlaps_unscrolled(browser, session_cache, tmp_path):
    run_dir = demo_run(session_cache)
    report = build_report(run_dir, tmp_path / "report.html")
    browser.set_window_size(390, 844)
    assert open_page(browser, report) == []
    assert _overlaps(browser) == []
    browser.set_window_size(1300, 1000)


def test_report_at_390_px_fits_the_screen(session_cache, tmp_path, artifacts):
    report = build_report(demo_run(session_cache), tmp_path / "report.html")
    with headless_chromium(width=800, height=900) as phone:
        emulate_phone(phone)
        assert open_page(phone, report) == []
        assert phone.execute_script("return document.documentElement.scrollWidth") <= 390
        # The summary's name, mean and interval are on screen without scrolling.
        right_edges = phone.execute_script(
            "return Array.from(document.querySelectorAll('#summary thead th'))"
            ".filter(th => getComputedStyle(th).display !== 'none')"
            ".map(th => th.getBoundingClientRect().right);"
        )
        assert max(right_edges) <= 390, right_edges
        _assert_screenshot(phone_screenshot(phone, artifacts / "report-390.png"), min_width=380)


def test_two_run_report_in_a_browser(browser, session_cache, tmp_path, artifacts):
    from unified_bench.datasets import load_dataset
    from unified_bench.report.compare_page import build_comparison_report
    from unified_bench.results import read_results

    run_a = demo_run(session_cache)
    results_a = read_results(run_a)
    ids = results_a.samples["ids"]
    run_b, _ = second_run(tmp_path, load_dataset("samples"), results_a, {ids[0]: 0.1, ids[1]: -0.1})
    page = build_comparison_report(run_a, run_b, tmp_path / "compare.html")
    assert open_page(browser, page) == []
    index, header = _header(browser, "samples", "Δ clip")
    header.click()
    values = [float(v) for v in _column(browser, "samples", index)]
    assert values == sorted(values, reverse=True)
    assert browser.get_log("browser") == []
    _assert_screenshot(full_page_screenshot(browser, artifacts / "report-compare.png"))


def test_a_page_with_a_script_error_is_caught(browser, tmp_path):
    """The console check itself works: a broken script is reported."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head>"
        "<body><script>undefinedFunction();</script></body></html>"
    )
    errors = open_page(browser, page)
    assert any("undefinedFunction" in e for e in errors)
