"""The page of a group task (``run --task unified-both``): both directions on one card.

Each member's own report is written into its subfolder; the group page lists the members with their
direction, dataset, ``overall`` and interval, and links to those reports.
"""

from __future__ import annotations

import json
from pathlib import Path

from unified_bench.errors import InputError
from unified_bench.io import atomic_write_text
from unified_bench.report.toolkit import esc, fmt, render_page


def build_group_report(folder: Path, output: Path | None = None) -> Path:
    """Write every member's ``report.html`` and ``FOLDER/report.html`` for the group."""
    from unified_bench.report.run_page import build_report, page_css
    from unified_bench.tasks.run import SUMMARY_FILE

    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
        members = summary["members"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{folder / SUMMARY_FILE}: not a group summary ({error}).") from None
    rows = []
    for member in members:
        member_folder = folder / str(member["folder"])
        link = ""
        if (member_folder / "results.json").is_file():
            build_report(member_folder)
            link = f"<a href='{esc(member['folder'])}/report.html'>{esc(member['task'])}</a>"
        overall = member.get("overall") or {}
        interval = f"[{fmt(overall.get('ci_low'))}, {fmt(overall.get('ci_high'))}]" if overall else ""
        rows.append(
            f"<tr><td><strong>{esc(member['task'])}</strong></td><td>{esc(member['direction'])}</td>"
            f"<td>{esc(member['dataset'])}</td><td class='num'>{esc(member['n'])}</td>"
            f"<td class='num'>{fmt(overall.get('mean'))}</td><td class='num'>{interval}</td>"
            f"<td>{esc(overall.get('definition') or '')}</td><td>{link}</td></tr>"
        )
    page = render_page(
        "group.html",
        title=esc(f"unified-bench: task {summary.get('task')}"),
        meta=esc(f"version {summary.get('version')} · {len(members)} member tasks"),
        notice=esc(
            "Each direction has its own overall (different scorers, different data): read them side by "
            "side, never averaged into one number."
        ),
        rows="".join(rows),
        css=page_css(),
        scripts=[],
    )
    target = output or folder / "report.html"
    atomic_write_text(target, page)
    return target
