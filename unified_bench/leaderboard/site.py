"""``unified-bench leaderboard build``: a static site from the validated submissions.

``SITE_DIR/index.html`` (self-contained: inline CSS/JS, inline SVG dot plot, no network) plus the
same numbers as ``leaderboard.json`` and ``leaderboard.csv``. Only submissions that pass every
validation check are shown; if any file fails, nothing is built. Each entry is marked "verified"
(its outputs were re-scored by ``leaderboard verify``) or "self-reported". Numbers from papers
appear only in the separate "reported, not reproduced" table, never ranked with reproduced entries.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from unified_bench.errors import InputError, UserError
from unified_bench.io import atomic_write_json, atomic_write_text, read_json_strict
from unified_bench.leaderboard.layout import LeaderboardDir
from unified_bench.leaderboard.registry import OfficialRegistry
from unified_bench.leaderboard.validate import Submission, validate_paths
from unified_bench.provenance import utc_now
from unified_bench.report.toolkit import esc, fmt, render_page, template_text
from unified_bench.results import OVERALL, PAPER_SCORERS

COLUMNS: tuple[str, ...] = (OVERALL, *PAPER_SCORERS)
PROTOCOL_ORDER = ("text", "native")


class InvalidSubmissions(UserError):
    """The leaderboard holds submissions that fail validation; the site is not built."""

    exit_code = 1


@dataclass(frozen=True)
class Interval:
    mean: float
    ci_low: float
    ci_high: float

    def overlaps(self, other: Interval) -> bool:
        return self.ci_low <= other.ci_high and other.ci_low <= self.ci_high


@dataclass(frozen=True)
class Entry:
    """One leaderboard row."""

    name: str
    url: str
    org: str | None
    params: int | None
    license: str | None
    protocol: str
    model: str | None
    n: int
    seeds: int
    submitted_at: str
    scores: dict[str, Interval]
    rank: int
    tied_with: list[str]
    verified: bool = False
    suspect: tuple[str, ...] = ()  # why the outputs look made up (leaderboard.plausibility)

    @property
    def status(self) -> str:
        return "verified" if self.verified else "self-reported"


def _intervals(submission: Submission) -> dict[str, Interval]:
    results = submission.results
    scores = {name: Interval(s.mean, s.ci_low, s.ci_high) for name, s in results.scorers.items()}
    if results.overall is not None:
        o = results.overall
        scores[OVERALL] = Interval(o.mean, o.ci_low, o.ci_high)
    return scores


def rank_entries(submissions: Sequence[Submission]) -> list[Entry]:
    """Entries sorted by overall mean; rank and ties computed within each protocol.

    Rank = 1 + the number of same-protocol entries whose overall interval lies entirely above; an
    entry is tied with every same-protocol entry whose overall interval overlaps its own.
    """
    prepared = [(s, _intervals(s), s.results.protocol or "none") for s in submissions]
    entries = []
    for submission, scores, protocol in prepared:
        overall = scores[OVERALL]
        peers = [(o, sc) for o, sc, p in prepared if p == protocol and o is not submission]
        above = sum(1 for _, sc in peers if sc[OVERALL].ci_low > overall.ci_high)
        tied = sorted(o.name for o, sc in peers if sc[OVERALL].overlaps(overall))
        meta, results = submission.metadata, submission.results
        entries.append(
            Entry(
                name=submission.name,
                url=meta["url"],
                org=meta.get("org"),
                params=meta.get("params"),
                license=meta.get("license"),
                protocol=protocol,
                model=(results.model or {}).get("name"),
                n=len(results.samples["ids"]),
                seeds=(results.repeats or {}).get("k", 1),
                submitted_at=meta["submitted_at"],
                scores=scores,
                rank=1 + above,
                tied_with=tied,
                verified=submission.verified,
                suspect=submission.suspicions,
            )
        )
    entries.sort(key=lambda e: (-e.scores[OVERALL].mean, e.name.lower()))
    return entries


# -- HTML ----------------------------------------------------------------------------------------
def _params_text(params: int | None) -> str:
    if params is None:
        return "–"
    for scale, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if params >= scale:
            return f"{params / scale:.3g}{suffix}"
    return str(params)


def _link(url: str, text: str) -> str:
    return f"<a href='{esc(url)}' rel='noopener noreferrer'>{esc(text)}</a>"


def _subline(entry: Entry) -> list[str]:
    """Model (when it differs from the entry name) and protocol, under the name."""
    return ([entry.model] if entry.model and entry.model != entry.name else []) + [entry.protocol]


def _status_badge(entry: Entry) -> str:
    if entry.verified:
        return (
            "<span class='badge verified' title='Outputs re-scored with the official scorers by "
            "unified-bench leaderboard verify: every per-sample score reproduced'>verified</span>"
        )
    return (
        "<span class='badge self-reported' title='Per-sample scores as submitted; the outputs were not "
        "re-scored'>self-reported</span>"
    )


def _suspect_badge(entry: Entry) -> str:
    if not entry.suspect:
        return ""
    reasons = "; ".join(entry.suspect)
    return (
        f" <span class='badge suspect' title='{esc(reasons)}'>suspect</span>"
        f"<br><span class='suspect-why'>{esc(reasons)}</span>"
    )


def _shown(value: float) -> str:
    """A cosine as printed: float rounding past ±1 (accepted up to 1e-6) is clamped here, for display
    only; leaderboard.json and the CSV keep the submitted value."""
    return fmt(min(1.0, max(-1.0, value)))


def _score_cell(interval: Interval | None) -> str:
    if interval is None:
        return "<td class='num' data-value=''>–</td>"
    return (
        f"<td class='num' data-value='{interval.mean!r}'>{_shown(interval.mean)}<br>"
        f"<span class='ci'>[{_shown(interval.ci_low)}, {_shown(interval.ci_high)}]</span></td>"
    )


def _table(entries: Sequence[Entry]) -> str:
    if not entries:
        return (
            "<p class='meta' id='empty'>No submissions yet; see <code>unified-bench submit --help</code>.</p>"
        )
    head = (
        "<tr><th class='num' data-sort='number' data-first='ascending'>rank</th>"
        "<th data-sort='text' data-first='ascending'>name</th>"
        + "".join(f"<th class='num' data-sort='number'>{esc(c)}</th>" for c in COLUMNS)
        + "<th class='num' data-sort='number'>params</th>"
        "<th data-sort='text' data-first='ascending'>org</th>"
        "<th data-sort='text' data-first='ascending'>license</th>"
        "<th class='num' data-sort='number'>seeds</th><th>tied with</th></tr>"
    )
    rows = []
    for e in entries:
        tied = (
            f"<span class='badge tied' title='{esc(', '.join(e.tied_with))}'>tied</span> "
            "<span class='tied-names'>"
            + ", ".join(f"<span class='nowrap'>{esc(n)}</span>" for n in e.tied_with)
            + "</span>"
            if e.tied_with
            else "–"
        )
        rows.append(
            f"<tr data-protocol='{esc(e.protocol)}' data-status='{e.status}' data-name='{esc(e.name)}'>"
            f"<td class='num' data-value='{e.rank}'>{e.rank}</td>"
            f"<td class='name' data-value='{esc(e.name)}'>{_link(e.url, e.name)}<br>{_status_badge(e)}"
            + f" <span class='dir'>{esc(' · '.join(_subline(e)))}</span>{_suspect_badge(e)}</td>"
            + "".join(_score_cell(e.scores.get(c)) for c in COLUMNS)
            + f"<td class='num' data-value='{e.params or ''}'>{_params_text(e.params)}</td>"
            f"<td class='nowrap'>{esc(e.org or '–')}</td><td class='nowrap'>{esc(e.license or '–')}</td>"
            f"<td class='num' data-value='{e.seeds}'>{e.seeds}</td><td class='tied'>{tied}</td></tr>"
        )
    body = "".join(rows)
    table = f"<table id='leaderboard' class='sortable'><thead>{head}</thead><tbody>{body}</tbody></table>"
    return f"<div class='scroll'>{table}</div>"


def _dot_plot_svg(entries: Sequence[Entry], protocol: str) -> str:
    """An inline SVG for one protocol: per entry its name, then a dot at the overall mean and a bar over
    its interval.

    Horizontal positions are percentages of the figure's width and text keeps its pixel size, so the
    chart fills a 1280 px page and stays legible on a 390 px phone (names sit above their bars).
    """
    top, step, bottom = 6, 36, 28
    lo = min(e.scores[OVERALL].ci_low for e in entries)
    hi = max(e.scores[OVERALL].ci_high for e in entries)
    pad = (hi - lo) * 0.08 or 0.01
    lo, hi = lo - pad, hi + pad

    def x(value: float) -> str:
        return f"{2 + (value - lo) / (hi - lo) * 96:.2f}%"

    rows_end = top + len(entries) * step
    height = rows_end + bottom
    parts = [
        f"<svg class='dotplot' xmlns='http://www.w3.org/2000/svg' width='100%' height='{height}' "
        "role='img' font-family='system-ui, sans-serif' font-size='12' "
        f"aria-label='Overall score with its bootstrap interval per entry, protocol {esc(protocol)}'>"
    ]
    for i in range(5):  # interior ticks only: their labels never fall off either edge
        value = lo + (hi - lo) * (0.1 + 0.2 * i)
        parts.append(
            f"<line x1='{x(value)}' x2='{x(value)}' y1='{top}' y2='{rows_end}' stroke='#d1d9e0' "
            "stroke-dasharray='3 3'/>"
            f"<text x='{x(value)}' y='{rows_end + 18}' text-anchor='middle' fill='#59636e'>"
            f"{value:.3f}</text>"
        )
    for index, e in enumerate(entries):
        o = e.scores[OVERALL]
        label_y, y = top + index * step + 12, top + index * step + 25
        # The label starts at the bar's left end, or ends at its right end in the right half.
        right_half = (o.mean - lo) / (hi - lo) > 0.5
        anchor = f"x='{x(o.ci_high)}' text-anchor='end'" if right_half else f"x='{x(o.ci_low)}'"
        parts.append(
            f"<g class='entry' data-name='{esc(e.name)}'>"
            f"<text {anchor} y='{label_y}' fill='#1f2328'>{esc(e.name)} "
            f"<tspan fill='#59636e'>{fmt(o.mean)}</tspan></text>"
            f"<line x1='{x(o.ci_low)}' x2='{x(o.ci_high)}' y1='{y}' y2='{y}' stroke='#8250df' "
            "stroke-width='2'/>"
            + "".join(
                f"<line x1='{x(end)}' x2='{x(end)}' y1='{y - 5}' y2='{y + 5}' stroke='#8250df'/>"
                for end in (o.ci_low, o.ci_high)
            )
            + f"<circle cx='{x(o.mean)}' cy='{y}' r='4.5' fill='#8250df'><title>{esc(e.name)}: "
            f"{fmt(o.mean)} [{fmt(o.ci_low)}, {fmt(o.ci_high)}]</title></circle></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _dot_plots(entries: Sequence[Entry], protocols: Sequence[str]) -> str:
    """One dot plot per protocol (each on its own axis: protocols are never compared)."""
    if not entries:
        return "<p class='meta'>Nothing to plot yet.</p>"
    figures = []
    for protocol in protocols:
        group = [e for e in entries if e.protocol == protocol]
        figures.append(
            f"<figure class='plot' data-protocol='{esc(protocol)}'>"
            f"<figcaption class='meta'>protocol <strong>{esc(protocol)}</strong></figcaption>"
            f"{_dot_plot_svg(group, protocol)}</figure>"
        )
    return "".join(figures)


def read_reported(leaderboard: LeaderboardDir) -> list[dict[str, Any]]:
    """Entries of ``reported.json`` (validated against its schema); none if the file is absent."""
    import jsonschema

    if not leaderboard.reported.is_file():
        return []
    obj = read_json_strict(leaderboard.reported)
    schema = read_json_strict(leaderboard.reported_schema)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(obj))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(top level)"
        raise InputError(f"{leaderboard.reported}: {where}: {error.message}")
    return obj["entries"]


def _reported_table(reported: Sequence[dict[str, Any]]) -> str:
    if not reported:
        return (
            "<p class='meta' id='reported-empty'>None listed. An entry needs its primary source (title, URL, "
            "table); see <code>leaderboard/README.md</code>.</p>"
        )
    head = (
        "<tr><th>model</th>"
        + "".join(f"<th class='num'>{esc(c)}</th>" for c in COLUMNS)
        + "<th>scale</th><th>source</th><th>note</th></tr>"
    )
    rows = []
    for entry in reported:
        scores = entry["scores"]
        cells = "".join(
            f"<td class='num'>{scores[c]:g}</td>" if c in scores else "<td class='num'>–</td>"
            for c in COLUMNS
        )
        source = entry["source"]
        rows.append(
            f"<tr><td>{esc(entry['model'])}</td>{cells}<td>{esc(entry['scale'])}</td>"
            f"<td>{_link(source['url'], source['title'])}, "
            f"{esc(source['where'])}</td><td>{esc(entry.get('note', ''))}</td></tr>"
        )
    return f"<table id='reported'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def checks_text(registry: OfficialRegistry, entries: Sequence[Entry]) -> str:
    """What the checks behind this page actually were (HTML), from the registry it was built against."""
    verified = sum(1 for e in entries if e.verified)
    suspect = sum(1 for e in entries if e.suspect)
    flagged = f", {suspect} suspect" if suspect else ""
    count = (
        f"{len(entries)} reproduced {'entry' if len(entries) == 1 else 'entries'} "
        f"({verified} verified, {len(entries) - verified} self-reported{flagged}) on "
        f"{esc(registry.dataset_name)}."
    )
    source = f"<code>{esc(Path(registry.source).name)}</code>" if registry.source else "its registry"
    missing = registry.unrecorded()
    if missing:
        return (
            f"{count} No official fingerprints are recorded yet for {esc(', '.join(missing))} ({source}), "
            "so no submission can be accepted until a maintainer records them "
            "(<code>unified-bench leaderboard record-official RUN</code>)."
        )
    boot = registry.bootstrap
    scorers = ", ".join(esc(name) for name in registry.scorers)
    return (
        f"{count} Every entry was checked against {source}: the official images "
        f"({_plural(len(registry.dataset_fingerprints), 'accepted fingerprint')}) and exactly their "
        f"{len(registry.ids)} ids; {scorers} with official weights on every id, values in range; "
        f"{boot.n_resamples:,} bootstrap resamples at {boot.confidence:.0%}; every aggregate recomputed "
        "from the per-sample scores."
    )


def render_site(
    entries: Sequence[Entry],
    reported: Sequence[dict[str, Any]],
    *,
    registry: OfficialRegistry,
    title: str = "Unified-Bench leaderboard",
) -> str:
    from unified_bench import __version__

    protocols = sorted({e.protocol for e in entries}, key=lambda p: (p not in PROTOCOL_ORDER, p))
    default = "text" if "text" in protocols else (protocols[0] if protocols else "all")
    options = [("all", "all")] + [(p, p) for p in protocols]
    protocol_options = "".join(
        f"<option value='{esc(v)}'{' selected' if v == default else ''}>{esc(label)}</option>"
        for v, label in options
    )
    meta = checks_text(registry, entries)
    notice = f"<p class='notice' id='registry-notice'>{esc(registry.notice)}</p>" if registry.notice else ""
    return render_page(
        "leaderboard.html",
        title=esc(title),
        meta=meta,
        notice=notice,
        protocol_options=protocol_options,
        table=_table(entries),
        confidence=esc(f"{registry.bootstrap.confidence:.0%}"),
        plot=_dot_plots(entries, protocols),
        reported=_reported_table(reported),
        footer=f"Built by unified-bench {esc(__version__)} on {esc(utc_now())}.",
        css=template_text("common.css") + "\n" + template_text("leaderboard.css"),
        scripts=[template_text("sortable.js"), template_text("leaderboard.js")],
    )


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula: a leading ``= + - @`` (or tab, CR) gets a ``'``.

    >>> spreadsheet_safe("=HYPERLINK(1)"), spreadsheet_safe("Lab")
    ("'=HYPERLINK(1)", 'Lab')
    """
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv(entries: Sequence[Entry]) -> str:
    """Numbers as numbers; every text cell through ``spreadsheet_safe``."""
    buffer = io.StringIO()
    fields = ["rank", "name", "status", "suspect", "protocol"]
    for c in COLUMNS:
        fields += [f"{c}_mean", f"{c}_ci_low", f"{c}_ci_high"]
    fields += ["params", "org", "license", "seeds", "n", "url", "tied_with", "submitted_at"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        row: dict[str, Any] = {"rank": e.rank}
        for c in COLUMNS:
            interval = e.scores.get(c)
            for part in ("mean", "ci_low", "ci_high"):
                row[f"{c}_{part}"] = getattr(interval, part) if interval else ""
        texts = {
            "name": e.name,
            "status": e.status,
            "suspect": "; ".join(e.suspect),
            "protocol": e.protocol,
            "org": e.org or "",
            "license": e.license or "",
            "url": e.url,
            "tied_with": ";".join(e.tied_with),
            "submitted_at": e.submitted_at,
        }
        row.update({key: spreadsheet_safe(value) for key, value in texts.items()})
        row.update(params=e.params if e.params is not None else "", seeds=e.seeds, n=e.n)
        writer.writerow(row)
    return buffer.getvalue()


def build_site(
    output: str | Path,
    *,
    leaderboard: LeaderboardDir | None = None,
    registry: OfficialRegistry | None = None,
    title: str = "Unified-Bench leaderboard",
) -> Path:
    """Validate every submission, then write ``index.html``, ``leaderboard.json`` and ``leaderboard.csv``.

    Raises:
        InvalidSubmissions: a submission fails validation (its first problem is named).
        InputError: not a leaderboard folder, or a malformed ``reported.json``.
    """
    leaderboard = (leaderboard or LeaderboardDir()).check(registry is None)
    registry = registry or OfficialRegistry.read(leaderboard.registry)
    problems, submissions = validate_paths(None, leaderboard=leaderboard, registry=registry)
    if problems:
        more = (
            f" (and {len(problems) - 1} more; run `unified-bench leaderboard validate`)"
            if len(problems) > 1
            else ""
        )
        raise InvalidSubmissions(f"not building the site: {problems[0]}{more}")
    entries = rank_entries(submissions)
    reported = read_reported(leaderboard)
    output = Path(output)
    atomic_write_text(output / "index.html", render_site(entries, reported, registry=registry, title=title))
    atomic_write_json(
        output / "leaderboard.json",
        {
            "generated_at": utc_now(),
            "dataset": {"name": registry.dataset_name, "fingerprints": list(registry.dataset_fingerprints)},
            "entries": [asdict(e) for e in entries],
            "reported_not_reproduced": list(reported),
        },
    )
    atomic_write_text(output / "leaderboard.csv", _csv(entries))
    return output / "index.html"
