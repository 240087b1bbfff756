"""The report's direction column: informational statistics (caption length) are not ranked as scores."""

from __future__ import annotations

import re

from tests._synthetic import base_scores, make_results
from unified_bench.report import build_report
from unified_bench.results import write_results


def _summary_directions(page: str) -> dict[str, str]:
    summary = page[
        page.index("<table id='summary'") : page.index("</table>", page.index("<table id='summary'"))
    ]
    rows = re.findall(r"<tr><td><strong>([^<]+)</strong>.*?</td><td class='dir[^']*'>([^<]+)</td>", summary)
    return dict(rows)


def test_caption_length_is_informational_not_higher_is_better(tmp_path):
    scores = base_scores(6, 3)
    scores["caption_words"] = [12.0, 40.0, 7.0, 22.0, 31.0, 18.0]
    scores["caption_tokens"] = [15.0, 52.0, 9.0, 27.0, 40.0, 21.0]
    run_dir = tmp_path / "run"
    write_results(run_dir / "results.json", make_results(scores))
    page = build_report(run_dir).read_text()
    directions = _summary_directions(page)
    assert directions["caption_words"] == "informational"
    assert directions["caption_tokens"] == "informational"
    assert directions["clip"] == "higher is better"
    assert directions["lpips"] == "lower is better"
