"""HTML pages, readable offline: a run's report, two runs side by side, and the toolkit they share.

- ``run_page``: ``unified-bench report RUN`` (``build_report``)
- ``compare_page``: ``unified-bench report RUN_A RUN_B`` (``build_comparison_report``)
- ``svg``: the per-scorer histograms as inline SVG
- ``toolkit``: escaping, number formatting, templates and the page skeleton, also used by
  ``unified_bench.leaderboard.site``
"""

from __future__ import annotations

from unified_bench.report.run_page import build_report, render_report

__all__ = ["build_report", "render_report"]
