"""``unified-bench report``: one self-contained HTML page for a run, readable offline.

Everything is inside the file: thumbnails as base64 JPEG, the per-scorer histograms as inline SVG,
CSS and the sorting script inline. A Content-Security-Policy forbids any network request, so the
page looks the same on a laptop, in a CI artifact or attached to an e-mail. The page reads on a
phone (390 px) and on a laptop every scorer column is on screen next to the sticky sample id; the
images and captions follow, reachable by scrolling the table. ``compare_page`` builds the page
for two runs of the same images from the same parts.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unified_bench.errors import InputError, UserError
from unified_bench.io import atomic_write_text
from unified_bench.repeats import first_repeat_dir
from unified_bench.report.toolkit import esc, fmt, image_data_uri, render_page, template_text
from unified_bench.results import OVERALL, PAPER_SCORERS, Results, read_results
from unified_bench.results_paths import check_inside_folder, check_report_paths
from unified_bench.store import IMAGES_DIR, REPORT_FILE

BEST_WORST = 3


@dataclass(frozen=True)
class Column:
    """A per-sample score column: a scorer or ``overall``."""

    name: str
    higher_is_better: bool
    per_sample: Mapping[str, float]
    mean: float
    ci_low: float
    ci_high: float
    std: float  # the results' own (the CLI table prints the same number)


def score_columns(results: Results) -> list[Column]:
    """``overall`` first, then the paper's scorers, then the rest alphabetically."""
    columns = []
    if results.overall is not None:
        o = results.overall
        columns.append(Column(OVERALL, True, o.per_sample, o.mean, o.ci_low, o.ci_high, o.std))
    ordered = sorted(results.scorers.items(), key=lambda kv: (kv[0] not in PAPER_SCORERS, kv[0]))
    for name, s in ordered:
        columns.append(Column(name, s.higher_is_better, s.per_sample, s.mean, s.ci_low, s.ci_high, s.std))
    return columns


def rank_samples(results: Results, column: Column) -> list[str]:
    """Sample ids from best to worst by ``column`` (direction-aware); unscored samples last."""
    ids = list(results.samples["ids"])
    scored = [i for i in ids if i in column.per_sample]
    scored.sort(key=lambda i: column.per_sample[i], reverse=column.higher_is_better)
    return scored + [i for i in ids if i not in column.per_sample]


def direction_label(name: str, higher_is_better: bool) -> str:
    """``higher is better``, ``lower is better``, or ``informational`` for statistics with no better side."""
    from unified_bench.scorers.registry import INFORMATIONAL_SCORERS

    if name in INFORMATIONAL_SCORERS:
        return "informational"  # a longer caption is not a better one
    return "higher is better" if higher_is_better else "lower is better"


# -- histograms ------------------------------------------------------------------------------------
def histograms_html(columns: Sequence[Column]) -> str:
    """One small SVG histogram per scorer, with its mean and bootstrap interval (see ``report.svg``)."""
    from unified_bench.report.svg import histogram_svg

    cells = []
    for column in columns:
        svg = histogram_svg(
            list(column.per_sample.values()),
            mean=column.mean,
            ci_low=column.ci_low,
            ci_high=column.ci_high,
            color="#8250df" if column.name == OVERALL else "#0969da",
            label=f"distribution of {column.name} over the samples",
        )
        direction = direction_label(column.name, column.higher_is_better)
        cells.append(
            f"<figure class='hist-cell' data-scorer='{esc(column.name)}'><figcaption><strong>"
            f"{esc(column.name)}</strong> <span class='dir'>{direction}</span></figcaption>{svg}</figure>"
        )
    return f"<div class='hists'>{''.join(cells)}</div>"


# -- HTML pieces ---------------------------------------------------------------------------------
def _summary_table(results: Results, columns: Sequence[Column]) -> str:
    spread = (results.repeats or {}).get("scorers", {})
    overall_spread = (results.repeats or {}).get("overall")
    confidence = f"{results.bootstrap['confidence']:.0%}"
    has_spread = bool(results.repeats)
    head = (
        "<tr><th>scorer</th><th class='opt'>direction</th><th class='num'>mean</th>"
        f"<th class='num'>{confidence} CI</th>"
        + (f"<th class='num'>across {results.repeats['k']} seeds (sd)</th>" if has_spread else "")
        + "".join(f"<th class='num opt'>{h}</th>" for h in ("std", "min", "max"))
        + "<th class='num'>n</th>"
        + "</tr>"
    )
    rows = []
    for column in columns:
        values = list(column.per_sample.values())
        std = column.std
        seed_sd = overall_spread if column.name == OVERALL else spread.get(column.name)
        direction = direction_label(column.name, column.higher_is_better)
        label = esc(column.name)
        if column.name == OVERALL and results.overall is not None and not results.overall.complete:
            label += f" <span class='dir'>({esc('+'.join(results.overall.components))} only)</span>"
        rows.append(
            f"<tr><td><strong>{label}</strong><span class='dir narrow-only'>{direction}</span></td>"
            f"<td class='dir opt'>{direction}</td>"
            f"<td class='num'>{fmt(column.mean)}</td>"
            f"<td class='num ci'>[{fmt(column.ci_low)}, {fmt(column.ci_high)}]</td>"
            + (f"<td class='num'>±{fmt(seed_sd['std'])}</td>" if has_spread and seed_sd else "")
            + ("<td class='num'>–</td>" if has_spread and not seed_sd else "")
            + f"<td class='num opt'>{fmt(std)}</td>"
            f"<td class='num opt'>{value_text(column.name, min(values))}</td>"
            f"<td class='num opt'>{value_text(column.name, max(values))}</td>"
            f"<td class='num'>{len(values)}</td></tr>"
        )
    table = f"<table id='summary'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    return f"<div class='scroll'>{table}</div>"


def image_cell(uri: str | None, alt: str, missing: str) -> str:
    if uri is None:
        return f"<div class='missing-image'>{esc(missing)}</div>"
    return f"<img class='thumb' alt='{esc(alt)}' src='{uri}'>"


def labelled(cell: str, label: str) -> str:
    """An image with its role written under it (reference, reconstruction, run A, ...)."""
    return f"<figure class='labelled'>{cell}<figcaption>{esc(label)}</figcaption></figure>"


def reference_captions_html(captions: Sequence[str] | None) -> str:
    """The dataset's reference captions for a sample, or ``""`` when it has none."""
    if not captions:
        return ""
    shown = "".join(f"<li>{caption_html(c, 160)}</li>" for c in captions)
    return f"<ul class='refcaps'>{shown}</ul>"


def _cards(
    ranked: Sequence[str],
    rank_column: Column,
    captions: Mapping[str, str],
    thumbs: Thumbs,
    prompts: Mapping[str, str] | None = None,
) -> str:
    scored = [i for i in ranked if i in rank_column.per_sample]
    k = min(BEST_WORST, len(scored) // 2)
    if k == 0:
        return "<p class='meta'>Too few samples to pick best and worst.</p>"
    picks = [("best", i) for i in scored[:k]] + [("worst", i) for i in reversed(scored[-k:])]
    cards = []
    for kind, sample_id in picks:
        if prompts is not None:  # t2i2t: prompt -> drawn image -> caption
            cards.append(
                f"<div class='card {kind}'><h3>{kind}: {esc(sample_id)} · {esc(rank_column.name)} "
                f"{fmt(rank_column.per_sample[sample_id])}</h3>"
                "<p class='label'>the prompt</p>"
                f"<div class='caption'>{caption_html(prompts.get(sample_id, ''))}</div><div class='pair'>"
                f"{labelled(thumbs.reconstruction_cell(sample_id), 'drawn from it')}</div>"
                "<p class='label'>the model's caption of its drawing (scored against the prompt)</p>"
                f"<div class='caption'>{caption_html(captions.get(sample_id, ''))}</div></div>"
            )
            continue
        reference_caps = reference_captions_html(thumbs.reference_captions(sample_id))
        cards.append(
            f"<div class='card {kind}'><h3>{kind}: {esc(sample_id)} · {esc(rank_column.name)} "
            f"{value_text(rank_column.name, rank_column.per_sample[sample_id])}</h3><div class='pair'>"
            f"{labelled(thumbs.reference_cell(sample_id), 'reference')}"
            f"{labelled(thumbs.reconstruction_cell(sample_id), 'reconstruction')}</div>"
            "<p class='label'>the model's caption (the reconstruction is drawn from it)</p>"
            f"<div class='caption'>{caption_html(captions.get(sample_id, ''))}</div>"
            + (f"<p class='label'>reference captions</p>{reference_caps}" if reference_caps else "")
            + "</div>"
        )
    return "\n".join(cards)


def _by_tag_table(results: Results) -> str:
    """A task's per-tag means (``aggregation.by: tag``), one row per tag; ``""`` without one."""
    table = (results.task or {}).get("by_tag")
    if not isinstance(table, dict) or not table:
        return ""
    names = sorted({name for row in table.values() for name in row})
    head = "".join(f"<th class='num'>{esc(name)}</th>" for name in names)
    rows = "".join(
        f"<tr><td><strong>{esc(tag)}</strong></td>"
        + "".join(
            f"<td class='num'>{fmt(row[n]['mean'])} <span class='dir'>n={row[n]['n']}</span></td>"
            if n in row
            else "<td class='num'>–</td>"
            for n in names
        )
        + "</tr>"
        for tag, row in table.items()
    )
    return (
        f"<h2>By tag (task {esc(results.task.get('name'))})</h2><div class='scroll'><table id='by-tag'>"
        f"<thead><tr><th>tag</th>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def score_heads(columns: Sequence[Column]) -> str:
    """Sortable score column headers; lower-is-better ones sort ascending first and carry an arrow."""
    return "".join(
        f"<th class='num' data-sort='number'{'' if c.higher_is_better else ' data-first=ascending'}"
        f" title='{esc(direction_label(c.name, c.higher_is_better))}'>"
        f"{esc(c.name)}{'' if c.higher_is_better else ' ↓'}</th>"
        for c in columns
    )


def score_cells(columns: Sequence[Column], sample_id: str) -> str:
    return "".join(
        f"<td class='num' data-value='{c.per_sample[sample_id]!r}'>"
        f"{value_text(c.name, c.per_sample[sample_id])}</td>"
        if sample_id in c.per_sample
        else "<td class='num' data-value=''>–</td>"
        for c in columns
    )


def _grid(  # what a reader looks at first (the images and captions) beside the id, then the scores
    ranked: Sequence[str],
    columns: Sequence[Column],
    captions: Mapping[str, str],
    thumbs: Thumbs,
    prompts: Mapping[str, str] | None = None,
) -> str:
    with_refcaps = any(thumbs.reference_captions(i) for i in ranked)
    source_head = (
        "<th data-sort='text'>prompt</th><th>image</th>"
        if prompts is not None
        else ("<th>reference</th><th>reconstruction</th>")
    )
    head = (
        "<tr><th class='num' data-sort='number' data-first='ascending'>rank</th>"
        "<th class='sticky' data-sort='text' data-first='ascending'>id</th>"
        f"{source_head}"
        "<th data-sort='text' data-first='ascending'>caption</th>"
        + ("<th>reference captions</th>" if with_refcaps else "")
        + f"{score_heads(columns)}</tr>"
    )
    rows = []
    for rank, sample_id in enumerate(ranked, start=1):
        caption = captions.get(sample_id, "")
        if prompts is not None:
            prompt = prompts.get(sample_id, "")
            source = f"<td class='caption' data-value='{esc(prompt)}'>{caption_html(prompt)}</td>"
        else:
            source = f"<td>{thumbs.reference_cell(sample_id)}</td>"
        rows.append(
            f"<tr data-id='{esc(sample_id)}'><td class='num' data-value='{rank}'>{rank}</td>"
            f"<td class='sticky'><code>{esc(sample_id)}</code></td>"
            f"{source}<td>{thumbs.reconstruction_cell(sample_id)}</td>"
            f"<td class='caption' data-value='{esc(caption)}'>{caption_html(caption)}</td>"
            + (
                f"<td class='caption'>{reference_captions_html(thumbs.reference_captions(sample_id))}</td>"
                if with_refcaps
                else ""
            )
            + f"{score_cells(columns, sample_id)}</tr>"
        )
    table = (
        f"<table id='samples' class='sortable'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return f"<div class='scroll grid'>{table}</div>"


class Thumbs:
    """Thumbnails made once per image: a card and the grid row share the same data URI.

    ``references`` maps sample ids to dataset samples (``.image``, ``.captions``), decoded only when a
    thumbnail is first needed.
    """

    def __init__(self, references: Mapping[str, Any] | None, reconstructions: Mapping[str, Path]) -> None:
        self._references = references or {}
        self._reconstructions = reconstructions
        self._memo: dict[tuple[str, str], str | None] = {}

    def reference(self, sample_id: str) -> str | None:
        key = ("ref", sample_id)
        if key not in self._memo:
            sample = self._references.get(sample_id)
            self._memo[key] = image_data_uri(sample.image) if sample is not None else None
        return self._memo[key]

    def reference_captions(self, sample_id: str) -> Sequence[str] | None:
        sample = self._references.get(sample_id)
        return getattr(sample, "captions", None) if sample is not None else None

    def reference_cell(self, sample_id: str) -> str:
        return image_cell(self.reference(sample_id), f"reference {sample_id}", "reference not available")

    def reconstruction_cell(self, sample_id: str) -> str:
        return image_cell(self.reconstruction(sample_id), f"reconstruction {sample_id}", "no image")

    def reconstruction(self, sample_id: str) -> str | None:
        key = ("rec", sample_id)
        if key not in self._memo:
            path = self._reconstructions.get(sample_id)
            uri = None
            if path is not None and path.is_file():
                from unified_bench.images import read_image

                uri = image_data_uri(read_image(path)[0])
            self._memo[key] = uri
        return self._memo[key]


# -- provenance ------------------------------------------------------------------------------------
def _command_line(argv: object) -> str | None:
    if not isinstance(argv, list) or not argv:
        return None
    program = Path(str(argv[0])).name
    if program in ("unified-bench", "__main__.py"):
        return shlex.join(["unified-bench", *map(str, argv[1:])])
    return shlex.join(map(str, argv))


def _value_html(value: object, fold_chars: int = 160) -> str:
    """A provenance value: text as is, anything else as JSON; long values fold into ``<details>``."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    shown = esc(text) if isinstance(value, str) else f"<code>{esc(text)}</code>"
    if len(text) <= fold_chars:
        return shown
    return f"<details><summary>{esc(text[: fold_chars // 2])} …</summary>{shown}</details>"


def provenance_rows(results: Results) -> list[tuple[str, str]]:
    """(what, HTML value) pairs saying how the run was made: command, model, data, scorers, machine."""
    provenance = results.provenance.get("repeats", [results.provenance])[0] if results.provenance else {}
    rows: list[tuple[str, str]] = []
    command = _command_line(provenance.get("command"))
    if command:
        rows.append(("command", f"<code>{esc(command)}</code>"))
    model = results.model or {}
    if model:
        rows.append(("model", esc(model.get("name", "?"))))
        args = model.get("adapter_args") or {}
        rows.append(("adapter settings", esc(" ".join(f"{k}={v}" for k, v in args.items())) or "defaults"))
        for key, value in (model.get("info") or {}).items():
            rows.append((f"adapter · {key}", _value_html(value)))
    rows.append(("protocol", esc(results.protocol or "none (scored folder)")))
    data = results.dataset
    selection = f"{data.get('n_selected', '?')} of {data.get('n_total', '?')} images"
    if data.get("limit") is not None:
        selection += f", --limit {data['limit']}"
    if data.get("shard"):
        selection += f", shard {data['shard']}"
    rows.append(
        (
            "dataset",
            f"{esc(data.get('name', '?'))} ({esc(selection)}), source {_value_html(data.get('source'))}",
        )
    )
    rows.append(("dataset fingerprint", f"<code>{esc(data.get('fingerprint', ''))}</code>"))
    for name, summary in sorted(results.scorers.items()):
        rows.append((f"scorer · {name}", f"<code>{esc(summary.fingerprint)}</code>"))
    device = provenance.get("device") or {}
    if device:
        gpus = ", ".join(device.get("gpus") or []) or "no GPU"
        requested = device.get("requested") or "default"
        rows.append(("device", esc(f"requested {requested}; {gpus}; {device.get('cpu_count')} CPUs")))
    for key, label in (("seeds", "seeds"), ("batch_size", "batch size")):
        if key in provenance:
            rows.append((label, _value_html(provenance[key])))
    packages = provenance.get("packages") or {}
    software = [f"unified-bench {provenance.get('unified_bench_version') or '?'}"]
    git = provenance.get("git")
    if isinstance(git, dict):
        software.append(f"git {str(git.get('sha', ''))[:12]}{' (modified)' if git.get('dirty') else ''}")
    software += [
        f"{n} {packages[n]}" for n in ("torch", "transformers", "diffusers", "peft") if packages.get(n)
    ]
    software.append(f"Python {provenance.get('python', '?')}")
    rows.append(("software", esc(", ".join(software))))
    if provenance.get("platform"):
        rows.append(("platform", esc(provenance["platform"])))
    times = [provenance.get("started_at"), provenance.get("finished_at")]
    if any(times):
        rows.append(("started / finished", esc(" → ".join(t or "?" for t in times))))
    boot = results.bootstrap
    resampling = f"{boot['n_resamples']} resamples, seed {boot['seed']}, {boot['confidence']:.0%} intervals"
    rows.append(("bootstrap", esc(resampling)))
    return rows


def provenance_html(results: Results) -> str:
    rows = "".join(f"<tr><th scope='row'>{esc(k)}</th><td>{v}</td></tr>" for k, v in provenance_rows(results))
    return f"<div class='scroll'><table id='provenance' class='kv'><tbody>{rows}</tbody></table></div>"


# -- references ----------------------------------------------------------------------------------
def load_references(results: Results, dataset: str | None = None) -> tuple[Mapping[str, Any] | None, str]:
    """The run's reference samples (image and reference captions), found without any download, and a
    note for the page when they are not found.

    Tries ``dataset`` (if given), else the bundled ``samples``, the recorded source path, or an
    installed ``unibench``. Only a dataset whose fingerprint equals the run's is used.

    Raises:
        InputError: ``dataset`` was given but holds other images than the run's.
    """
    from unified_bench.datasets import load_dataset

    expected = results.dataset["fingerprint"]
    name, source = results.dataset.get("name"), results.dataset.get("source")
    specs: list[str] = [dataset] if dataset else []
    if not dataset:
        if name == "samples":
            specs.append("samples")
        if isinstance(source, str) and source and Path(source).exists():
            specs.append(source)
        if name == "unibench":
            from unified_bench.datasets.unibench import unibench_dir

            if unibench_dir().is_dir():
                specs.append("unibench")
    for spec in specs:
        try:
            loaded = load_dataset(spec)
        except UserError:
            if dataset:
                raise
            continue
        if loaded.fingerprint == expected:
            return {s.id: s for s in loaded.samples}, ""
        if dataset:
            raise InputError(
                f"--dataset {dataset}: its fingerprint {loaded.fingerprint[:19]}… differs from the run's "
                f"{expected[:19]}…; pass the images the run was made on."
            )
    return None, (
        f"Reference images of dataset {name!r} were not found on this machine; pass --dataset to show them."
    )


def reconstruction_paths(folder: Path, results: Results) -> dict[str, Path]:
    """Each sample's reconstruction: ``images/ID.png`` of the run (its first repeat), or for a scored
    folder (``unified-bench score``) the matched file in the generated folder."""
    matched, generated = results.provenance.get("matched"), results.provenance.get("generated_dir")
    if isinstance(matched, dict) and isinstance(generated, str):
        paths = {sample_id: folder / name for sample_id, name in matched.items()}  # generated_dir checked
    else:
        images = first_repeat_dir(folder, results) / IMAGES_DIR
        paths = {sample_id: images / f"{sample_id}.png" for sample_id in results.samples["ids"]}
    return {sample_id: check_inside_folder(path, folder) for sample_id, path in paths.items()}


def caption_html(caption: str, preview_chars: int = 220) -> str:
    """The caption, escaped; a long one folds into a ``<details>`` showing its beginning."""
    if len(caption) <= preview_chars + 40:
        return esc(caption)
    preview = caption[:preview_chars].rsplit(" ", 1)[0]
    return f"<details><summary>{esc(preview)} …</summary>{esc(caption)}</details>"


def page_css() -> str:
    """The shared site styles plus the report's own (sticky column, image labels, histograms)."""
    return template_text("common.css") + "\n" + template_text("report.css")


def run_meta(results: Results) -> list[str]:
    """The one-line facts under a report's title: model, dataset, protocol, sample count, ..."""
    model = (results.model or {}).get("name") or "scored folder"
    fingerprint = results.dataset["fingerprint"]
    meta = [
        f"model <strong>{esc(model)}</strong>",
        f"dataset <strong>{esc(results.dataset.get('name', '?'))}</strong> "
        f"(<code title='{esc(fingerprint)}'>{esc(fingerprint[:19])}…</code>)",
        f"protocol <strong>{esc(results.protocol or 'none')}</strong>",
        f"{len(results.samples['ids'])} samples",
    ]
    if results.samples.get("missing"):
        meta.append(f"<strong>{len(results.samples['missing'])} missing</strong>")
    if results.repeats:
        meta.append(f"{results.repeats['k']} seeds ({esc(', '.join(map(str, results.repeats['seeds'])))})")
    if results.captions:
        meta.append(f"captions {results.captions['mean_words']:.0f} words on average")
    return meta


def footer_html(results: Results) -> str:
    from unified_bench import __version__

    return (
        f"Made by unified-bench {esc(__version__)}. Results schema version {results.schema_version}; "
        f"bootstrap: {results.bootstrap['n_resamples']} resamples, seed {results.bootstrap['seed']}."
    )


RANDOM_WEIGHT_MODELS = ("uae-tiny",)  # built from a seed by the toolkit itself (adapters/uae/tiny.py)


def random_weights_note(results: Results) -> str | None:
    """The banner for numbers that mean nothing: a random-weight model or tiny random scorers."""
    from unified_bench.scorers.tiny import is_tiny_fingerprint

    parts = []
    model = (results.model or {}).get("name")
    if model in RANDOM_WEIGHT_MODELS:
        parts.append(f"the model ({model})")
    tiny = [name for name, s in results.scorers.items() if is_tiny_fingerprint(s.fingerprint)]
    if tiny:
        parts.append(f"the scorers {', '.join(sorted(tiny))}")
    if not parts:
        return None
    joined = " and ".join(parts)
    return f"Random weights: {joined}. These numbers are meaningless; they only show that the pipeline runs."


def value_text(name: str, value: float) -> str:
    """A per-sample value: counts (caption_words, caption_tokens) as whole numbers, scores to 4 places."""
    from unified_bench.scorers.registry import INFORMATIONAL_SCORERS

    if name in INFORMATIONAL_SCORERS and float(value).is_integer():
        return fmt(value, 0)
    return fmt(value)


# -- page ----------------------------------------------------------------------------------------
def render_report(
    results: Results,
    *,
    reconstructions: Mapping[str, Path],
    references: Mapping[str, Any] | None,
    notes: Sequence[str] = (),
    title: str | None = None,
) -> str:
    """The report as one HTML string (see ``build_report``)."""
    columns = score_columns(results)
    if not columns:
        raise InputError("the results hold no scores; nothing to report.")
    rank_column = columns[0]
    ranked = rank_samples(results, rank_column)
    captions = results.samples.get("captions", {})
    prompts = results.samples.get("prompts") if results.direction == "t2i2t" else None
    thumbs = Thumbs(references, reconstructions)
    model = (results.model or {}).get("name") or "scored folder"
    title = title or f"unified-bench report: {model} on {results.dataset.get('name', '?')}"
    all_notes = [note for note in [random_weights_note(results)] if note] + list(notes)
    if results.repeats:
        all_notes.append(
            "Per-sample scores are means over the seeds; images and captions shown are the first seed's."
        )
    notices = "".join(f"<p class='notice'>{esc(n)}</p>" for n in all_notes if n)
    return render_page(
        "report.html",
        title=esc(title),
        meta=" · ".join(run_meta(results)),
        notices=notices,
        summary=_summary_table(results, columns) + _by_tag_table(results),
        histograms=histograms_html(columns),
        rank_by=esc(rank_column.name),
        cards=_cards(ranked, rank_column, captions, thumbs, prompts),
        grid=_grid(ranked, columns, captions, thumbs, prompts),
        provenance=provenance_html(results),
        footer=footer_html(results),
        css=page_css(),
        scripts=[template_text("sortable.js")],
    )


def build_report(
    run_dir: str | Path, output: str | Path | None = None, *, dataset: str | None = None
) -> Path:
    """Write ``RUN_DIR/report.html`` (or ``output``) for a run folder or a results file.

    Args:
        run_dir: a run folder (``results.json`` + ``images/``), a ``--repeats`` output folder, or a
            results file (images are then looked up next to it).
        dataset: where the reference images are, if not found automatically (never downloaded).

    Raises:
        InputError: no readable results, or ``dataset`` holds other images.
    """
    run_dir = Path(run_dir)
    from unified_bench.tasks.run import is_group_folder

    if run_dir.is_dir() and is_group_folder(run_dir) and not (run_dir / "results.json").exists():
        from unified_bench.report.group_page import build_group_report

        return build_group_report(run_dir, Path(output) if output is not None else None)
    results = read_results(run_dir)
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    check_report_paths(results.to_json(), folder, str(run_dir))  # before any image is opened
    reconstructions = reconstruction_paths(folder, results)
    # t2i2t: the prompts are in the results and the images are the run's own; no reference images
    references, note = load_references(results, dataset) if results.direction != "t2i2t" else (None, "")
    notes = [note] if note else []
    if not any(path.is_file() for path in reconstructions.values()):
        notes.append(f"No reconstructions found in {first_repeat_dir(folder, results) / IMAGES_DIR}.")
    page = render_report(results, reconstructions=reconstructions, references=references, notes=notes)
    target = Path(output) if output is not None else folder / REPORT_FILE
    atomic_write_text(target, page)
    return target
