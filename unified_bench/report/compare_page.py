"""``unified-bench report RUN_A RUN_B``: two runs of the same images side by side, on one page.

Per scorer: both means and the paired difference B − A with its bootstrap interval and the
verdict of ``unified-bench compare`` (the same statistics, from ``compare_results``); the samples
that changed most for the better and for the worse, each with the reference and both
reconstructions; and every sample's per-scorer deltas, sortable. Runs on different images or scorer
weights are refused exactly as ``compare`` refuses them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unified_bench.compare import CompareSettings, ComparisonRefused, ScorerComparison, compare_results
from unified_bench.errors import InputError
from unified_bench.io import atomic_write_text
from unified_bench.report.run_page import (
    BEST_WORST,
    Column,
    Thumbs,
    caption_html,
    direction_label,
    footer_html,
    labelled,
    load_references,
    page_css,
    reconstruction_paths,
    reference_captions_html,
    run_meta,
    score_columns,
)
from unified_bench.report.toolkit import esc, fmt, render_page, template_text
from unified_bench.results import OVERALL, Results, read_results

_VERDICT_CLASS = {"better": "good", "worse": "bad", "tied": ""}
GATE_BADGE = " <span class='badge'>gate</span>"


@dataclass(frozen=True)
class RunSide:
    """One of the two runs: its results, where its images are, and how the page names it."""

    label: str
    results: Results
    thumbs: Thumbs
    captions: Mapping[str, str]


def _load(run_dir: Path, label: str, references: Mapping[str, Any] | None) -> RunSide:
    results = read_results(run_dir)
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    thumbs = Thumbs(references, reconstruction_paths(folder, results))
    return RunSide(label, results, thumbs, results.samples.get("captions", {}))


def sample_deltas(a: Column, b: Column) -> dict[str, float]:
    """B − A per sample present in both, in the scorer's units."""
    return {i: b.per_sample[i] - a.per_sample[i] for i in a.per_sample if i in b.per_sample}


SHOWN_ZERO = 5e-5  # a change that rounds to 0.0000 is shown as no change


def signed(delta: float) -> str:
    """``+0.0123`` / ``-0.0123``; ``0.0000`` (no sign) for what rounds to zero."""
    return "0.0000" if abs(delta) < SHOWN_ZERO else f"{delta:+.4f}"


def improvement(delta: float, higher_is_better: bool) -> float:
    """A delta signed so that positive is better."""
    return delta if higher_is_better else -delta


def _summary(rows: Sequence[ScorerComparison], a: RunSide, b: RunSide) -> str:
    head = (
        f"<tr><th>scorer</th><th class='opt'>direction</th><th class='num' title='{esc(a.label)}'>A</th>"
        f"<th class='num' title='{esc(b.label)}'>B</th><th class='num'>B − A [95% CI]</th><th>verdict</th>"
        "<th class='opt'>test</th><th class='num opt'>p (adj.)</th></tr>"
    )
    body = []
    for row in rows:
        direction = direction_label(row.scorer, row.higher_is_better)
        body.append(
            f"<tr><td><strong>{esc(row.scorer)}</strong>{GATE_BADGE if row.role == 'gate' else ''}"
            f"<span class='dir narrow-only'>{direction}</span></td>"
            f"<td class='dir opt'>{direction}</td><td class='num'>{fmt(row.baseline_mean)}</td>"
            f"<td class='num'>{fmt(row.candidate_mean)}</td>"
            f"<td class='num delta {_VERDICT_CLASS[row.verdict]}'>{signed(row.difference)} "
            f"<span class='ci'>[{signed(row.ci_low)}, {signed(row.ci_high)}]</span></td>"
            f"<td class='delta {_VERDICT_CLASS[row.verdict]}'>{esc(row.verdict)}</td>"
            f"<td class='opt dir'>{esc(row.test)}</td><td class='num opt'>{row.p_adjusted:.3g}</td></tr>"
        )
    table = f"<table id='summary'><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"
    return f"<div class='scroll'>{table}</div>"


def _change_cards(deltas: Mapping[str, float], rank: Column, a: RunSide, b: RunSide) -> str:
    gain = {i: improvement(d, rank.higher_is_better) for i, d in deltas.items()}
    improved = sorted((i for i in gain if gain[i] >= SHOWN_ZERO), key=gain.__getitem__, reverse=True)
    worsened = sorted((i for i in gain if gain[i] <= -SHOWN_ZERO), key=gain.__getitem__)
    improved, worsened = improved[:BEST_WORST], worsened[:BEST_WORST]
    picks = [("best", i) for i in improved] + [("worst", i) for i in worsened]
    if not picks:
        return f"<p class='meta'>No sample changed in {esc(rank.name)}.</p>"
    cards = []
    for kind, sample_id in picks:
        refcaps = reference_captions_html(a.thumbs.reference_captions(sample_id))
        title = f"{'improved' if kind == 'best' else 'worse'}: {sample_id} · {rank.name}"
        caption_a, caption_b = (caption_html(side.captions.get(sample_id, "")) for side in (a, b))
        cards.append(
            f"<div class='card {kind}'><h3>{esc(title)} {signed(deltas[sample_id])}</h3>"
            "<div class='pair triple'>"
            f"{labelled(a.thumbs.reference_cell(sample_id), 'reference')}"
            f"{labelled(a.thumbs.reconstruction_cell(sample_id), f'A {a.label}')}"
            f"{labelled(b.thumbs.reconstruction_cell(sample_id), f'B {b.label}')}</div>"
            f"<p class='label'>A's caption</p><div class='caption'>{caption_a}</div>"
            f"<p class='label'>B's caption</p><div class='caption'>{caption_b}</div>"
            + (f"<p class='label'>reference captions</p>{refcaps}" if refcaps else "")
            + "</div>"
        )
    return "\n".join(cards)


def _grid(
    ids: Sequence[str], pairs: Sequence[tuple[Column, Column]], rank: Column, a: RunSide, b: RunSide
) -> str:
    deltas = {ca.name: sample_deltas(ca, cb) for ca, cb in pairs}
    rank_deltas = deltas[rank.name]
    ordered = sorted(
        ids, key=lambda i: improvement(rank_deltas.get(i, 0.0), rank.higher_is_better), reverse=True
    )
    heads = "".join(
        f"<th class='num' data-sort='number'{'' if ca.higher_is_better else ' data-first=ascending'}"
        f" title='B − A; {esc(direction_label(ca.name, ca.higher_is_better))}'>Δ {esc(ca.name)}"
        f"{'' if ca.higher_is_better else ' ↓'}</th>"
        for ca, _ in pairs
    )
    head = (
        f"<tr><th class='sticky' data-sort='text' data-first='ascending'>id</th>{heads}<th>reference</th>"
        f"<th>A {esc(a.label)}</th><th>B {esc(b.label)}</th><th>A's caption</th><th>B's caption</th></tr>"
    )
    rows = []
    for sample_id in ordered:
        cells = []
        for ca, _ in pairs:
            delta = deltas[ca.name].get(sample_id)
            if delta is None:
                cells.append("<td class='num' data-value=''>–</td>")
                continue
            good = improvement(delta, ca.higher_is_better)
            tone = "good" if good >= SHOWN_ZERO else "bad" if good <= -SHOWN_ZERO else ""
            cells.append(f"<td class='num delta {tone}' data-value='{delta!r}'>{signed(delta)}</td>")
        rows.append(
            f"<tr data-id='{esc(sample_id)}'><td class='sticky'><code>{esc(sample_id)}</code></td>"
            f"{''.join(cells)}"
            f"<td>{a.thumbs.reference_cell(sample_id)}</td><td>{a.thumbs.reconstruction_cell(sample_id)}</td>"
            f"<td>{b.thumbs.reconstruction_cell(sample_id)}</td>"
            f"<td class='caption'>{caption_html(a.captions.get(sample_id, ''))}</td>"
            f"<td class='caption'>{caption_html(b.captions.get(sample_id, ''))}</td></tr>"
        )
    table = (
        f"<table id='samples' class='sortable'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return f"<div class='scroll grid'>{table}</div>"


def default_gate(a: Results, b: Results) -> tuple[str, ...]:
    """``overall`` when both runs have it, else the first scorer both runs have that can gate."""
    from unified_bench.scorers.registry import INFORMATIONAL_SCORERS

    if a.overall is not None and b.overall is not None:
        return ("overall",)
    shared = [c.name for c in score_columns(a) if c.name in b.scorers and c.name not in INFORMATIONAL_SCORERS]
    return tuple(shared[:1]) or ("overall",)


def scatters_html(pairs: Sequence[tuple[Column, Column]], a: RunSide, b: RunSide) -> str:
    """Per sample, run A against run B for each scorer (with the diagonal: above it B scored higher),
    and B's first scorer against its second (do the scorers agree on which images are hard?)."""
    from unified_bench.report.svg import scatter_svg

    figures = []
    for column_a, column_b in pairs:
        points = [
            (i, column_a.per_sample[i], column_b.per_sample[i])
            for i in column_a.per_sample
            if i in column_b.per_sample
        ]
        svg = scatter_svg(points, x_label=f"A {column_a.name}", y_label=f"B {column_b.name}", diagonal=True)
        figures.append(
            f"<figure class='scatter-cell' data-scorer='{esc(column_a.name)}'><figcaption><strong>"
            f"{esc(column_a.name)}</strong> <span class='dir'>A vs B</span></figcaption>{svg}</figure>"
        )
    scorers = [
        pair for pair in pairs if pair[0].name != OVERALL
    ]  # overall is their mean: not a second opinion
    if len(scorers) >= 2:
        first, second = scorers[0][1], scorers[1][1]
        points = [
            (i, first.per_sample[i], second.per_sample[i]) for i in first.per_sample if i in second.per_sample
        ]
        svg = scatter_svg(points, x_label=f"B {first.name}", y_label=f"B {second.name}", diagonal=False)
        figures.append(
            f"<figure class='scatter-cell' data-scorers='{esc(first.name)} {esc(second.name)}'><figcaption>"
            f"<strong>{esc(first.name)} vs {esc(second.name)}</strong> <span class='dir'>in B</span>"
            f"</figcaption>{svg}</figure>"
        )
    return f"<div class='hists'>{''.join(figures)}</div>"


def render_comparison(
    a: RunSide, b: RunSide, *, notes: Sequence[str] = (), gate: Sequence[str] | None = None
) -> str:
    """The two-run page as one HTML string (see ``build_comparison_report``)."""
    from unified_bench.report.run_page import random_weights_note

    chosen_gate = tuple(gate) if gate else default_gate(a.results, b.results)
    # A page can show the shared ids; it says how many.
    settings = CompareSettings(allow_partial=True, gate=chosen_gate)
    try:
        comparison = compare_results(a.results, b.results, settings=settings, labels=(a.label, b.label))
    except ComparisonRefused as refused:
        raise ComparisonRefused(f"report {a.label} {b.label}: {refused}") from None
    columns_b = {c.name: c for c in score_columns(b.results)}
    pairs = [(ca, columns_b[ca.name]) for ca in score_columns(a.results) if ca.name in columns_b]
    if not pairs:
        raise InputError(f"report {a.label} {b.label}: the runs share no scorer; nothing to compare.")
    rank = pairs[0][0]
    ids = [i for i in a.results.samples["ids"] if i in set(b.results.samples["ids"])]
    rank_deltas = sample_deltas(*pairs[0])
    meta_a, meta_b = run_meta(a.results), run_meta(b.results)  # [model, dataset, protocol, ...]
    unpaired = f" ({comparison.n_unpaired} in only one run)" if comparison.n_unpaired else ""
    meta = [
        f"A <strong>{esc(a.label)}</strong>: {meta_a[0]} · {meta_a[2]}",
        f"B <strong>{esc(b.label)}</strong>: {meta_b[0]} · {meta_b[2]}",
        f"{meta_a[1]} · {comparison.n_paired} paired samples{unpaired}",
    ]
    banners = {random_weights_note(a.results), random_weights_note(b.results)} - {None}
    all_notes = sorted(banners) + list(notes)
    if not gate and chosen_gate != ("overall",):
        all_notes.append(
            f"Gated on {chosen_gate[0]}: the runs have no overall score (choose with --gate NAME)."
        )
    all_notes += comparison.warnings  # the same power / MDE lines `compare` prints
    if comparison.skipped:
        all_notes.append(f"Not compared: {', '.join(comparison.skipped)}.")
    return render_page(
        "compare.html",
        title=esc(f"unified-bench: {b.label} vs {a.label}"),
        meta="<br>".join(meta),
        notices="".join(f"<p class='notice'>{esc(n)}</p>" for n in all_notes if n),
        summary=_summary(comparison.rows, a, b),
        alpha=f"{settings.alpha:g}",
        rank_by=esc(rank.name),
        cards=_change_cards(rank_deltas, rank, a, b),
        scatters=scatters_html(pairs, a, b),
        grid=_grid(ids, pairs, rank, a, b),
        footer=footer_html(b.results),
        css=page_css(),
        scripts=[template_text("sortable.js")],
    )


def _label(run_dir: Path) -> str:
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    return folder.name or str(folder)


def build_comparison_report(
    run_a: str | Path,
    run_b: str | Path,
    output: str | Path | None = None,
    *,
    dataset: str | None = None,
    gate: Sequence[str] | None = None,
) -> Path:
    """Write a side-by-side page of two runs on the same images; default ``RUN_B/report-vs-<A>.html``.

    ``gate``: the scorers whose verdict leads the page (``--gate``); default ``default_gate``.

    Raises:
        ComparisonRefused: the runs are on different images, scorer weights or protocols.
        InputError: a folder without readable results, or ``dataset`` holds other images.
    """
    run_a, run_b = Path(run_a), Path(run_b)
    label_a, label_b = _label(run_a), _label(run_b)
    if label_a == label_b:
        label_a, label_b = str(run_a), str(run_b)
    references, note = load_references(read_results(run_a), dataset)
    side_a, side_b = _load(run_a, label_a, references), _load(run_b, label_b, references)
    page = render_comparison(side_a, side_b, notes=[note] if note else [], gate=gate)
    folder_b = run_b if run_b.is_dir() else run_b.parent
    target = Path(output) if output is not None else folder_b / f"report-vs-{_label(run_a)}.html"
    atomic_write_text(target, page)
    return target
