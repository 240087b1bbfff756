"""Per-scorer histograms as small inline SVGs (no plotting library, crisp at any width).

A histogram must say something true about the scores. Three shapes, chosen from the values:

- every score (nearly) the same, e.g. BLEU-4 of captions that share no 4-gram with the references
  (0 or 1e-13): no chart, one line saying so; an axis spanning 1e-13 would only show float noise;
- few distinct values that repeat or are whole numbers (word counts, a metric that is 0 for most
  captions): one bar per value, labelled with the value;
- otherwise equal-width bins between the smallest and largest score.

The mean is a dark line and its bootstrap interval a light band, as in the summary table.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 240, 96
PAD_X, PAD_TOP, PAD_BOTTOM = 6, 4, 18
MAX_DISCRETE = 12  # at most this many distinct values: a bar per value
MAX_BINS = 24


@dataclass(frozen=True)
class Bar:
    low: float
    high: float
    count: int
    label: str | None = None  # discrete bars name their value


def _short(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.2e}"


def _is_constant(values: Sequence[float]) -> bool:
    low, high = min(values), max(values)
    return high - low <= 1e-6 * max(1.0, abs(high), abs(low))


def histogram_bars(values: Sequence[float]) -> list[Bar]:
    """The bars to draw (empty: nothing worth a chart). Discrete values get one bar each."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite or _is_constant(finite):
        return []
    counts = Counter(float(f"{v:.6g}") for v in finite)
    repeated = len(counts) < len(finite) / 2 or all(float(v).is_integer() for v in counts)
    if len(counts) <= MAX_DISCRETE and repeated:
        return [Bar(v, v, n, _short(v)) for v, n in sorted(counts.items())]
    low, high = min(finite), max(finite)
    n_bins = max(5, min(MAX_BINS, round(math.sqrt(len(finite)) * 2)))
    width = (high - low) / n_bins
    bins = [0] * n_bins
    for v in finite:
        bins[min(n_bins - 1, int((v - low) / width))] += 1
    return [Bar(low + i * width, low + (i + 1) * width, n) for i, n in enumerate(bins)]


def histogram_svg(
    values: Sequence[float], *, mean: float, ci_low: float, ci_high: float, color: str, label: str
) -> str:
    """One scorer's histogram as an ``<svg>`` (or a ``<p>`` when every score is the same)."""
    finite = [v for v in values if math.isfinite(v)]
    bars = histogram_bars(finite)
    if not bars:
        if not finite:
            return "<p class='flat'>no scores</p>"
        return f"<p class='flat'>all {len(finite)} samples score {finite[0]:.4f}: no distribution to show</p>"
    plot_w, plot_h = WIDTH - 2 * PAD_X, HEIGHT - PAD_TOP - PAD_BOTTOM
    tallest = max(bar.count for bar in bars)
    parts = [
        f"<svg class='hist' viewBox='0 0 {WIDTH} {HEIGHT}' role='img' aria-label='{escape(label)}'>",
    ]
    discrete = bars[0].label is not None
    if discrete:
        slot = plot_w / len(bars)

        def x_of(value: float) -> float:  # position of a value among the discrete slots
            below = [i for i, bar in enumerate(bars) if bar.low <= value]
            if not below:
                return PAD_X
            i = below[-1]
            nxt = bars[i + 1].low if i + 1 < len(bars) else None
            frac = 0.5 if nxt is None else 0.5 + (value - bars[i].low) / (nxt - bars[i].low)
            return PAD_X + slot * (i + min(frac, 1.0))
    else:
        low, high = bars[0].low, bars[-1].high

        def x_of(value: float) -> float:
            return PAD_X + plot_w * (min(max(value, low), high) - low) / (high - low)

    band_left, band_right = x_of(ci_low), x_of(ci_high)
    parts.append(
        f"<rect x='{band_left:.1f}' y='{PAD_TOP}' width='{max(band_right - band_left, 1):.1f}' "
        f"height='{plot_h}' fill='{color}' opacity='0.15'/>"
    )
    for i, bar in enumerate(bars):
        h = plot_h * bar.count / tallest
        if discrete:
            x, w = PAD_X + slot * i + slot * 0.15, slot * 0.7
        else:
            x, w = PAD_X + plot_w * i / len(bars) + 0.5, plot_w / len(bars) - 1
        tip = (
            f"{bar.label}: {bar.count}" if discrete else f"{_short(bar.low)}–{_short(bar.high)}: {bar.count}"
        )
        parts.append(
            f"<rect x='{x:.1f}' y='{PAD_TOP + plot_h - h:.1f}' width='{max(w, 1):.1f}' height='{h:.1f}' "
            f"fill='{color}' opacity='0.8'><title>{escape(tip)}</title></rect>"
        )
    mean_x = x_of(mean)
    parts.append(
        f"<line x1='{mean_x:.1f}' x2='{mean_x:.1f}' y1='{PAD_TOP}' y2='{PAD_TOP + plot_h}' "
        "stroke='#1f2328' stroke-width='1.5'/>"
    )
    axis_y = HEIGHT - 5
    if discrete:
        step = max(1, math.ceil(len(bars) / 6))  # keep labels from overlapping
        for i, bar in enumerate(bars):
            if i % step == 0:
                parts.append(
                    f"<text x='{PAD_X + slot * (i + 0.5):.1f}' y='{axis_y}' text-anchor='middle'>"
                    f"{escape(bar.label or '')}</text>"
                )
    else:
        parts.append(f"<text x='{PAD_X}' y='{axis_y}'>{escape(_short(bars[0].low))}</text>")
        parts.append(
            f"<text x='{WIDTH - PAD_X}' y='{axis_y}' text-anchor='end'>{escape(_short(bars[-1].high))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


SCATTER_PX = 220
SCATTER_PAD = 26


def scatter_svg(
    points: Sequence[tuple[str, float, float]], *, x_label: str, y_label: str, diagonal: bool
) -> str:
    """One dot per sample (``id``, x, y) on a square plot with shared axes when ``diagonal`` (the
    y = x line: above it, y is larger); each dot's tooltip names the sample and both values."""
    finite = [(i, x, y) for i, x, y in points if math.isfinite(x) and math.isfinite(y)]
    if not finite:
        return "<p class='flat'>no samples scored by both</p>"
    xs, ys = [x for _, x, _ in finite], [y for _, _, y in finite]
    if diagonal:
        low, high = min(xs + ys), max(xs + ys)
        x_range = y_range = (low, high if high > low else low + 1.0)
    else:
        x_range = (min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1.0)
        y_range = (min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1.0)
    span = SCATTER_PX - 2 * SCATTER_PAD

    def px(value: float, bounds: tuple[float, float]) -> float:
        return (value - bounds[0]) / (bounds[1] - bounds[0]) * span

    parts = [
        f"<svg class='scatter' xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {SCATTER_PX} {SCATTER_PX}' "
        f"width='{SCATTER_PX}' height='{SCATTER_PX}' role='img' aria-label='{escape(y_label)} against "
        f"{escape(x_label)}, one dot per sample'>",
        f"<rect x='{SCATTER_PAD}' y='{SCATTER_PAD}' width='{span}' height='{span}' "
        "fill='none' stroke='#d0d7de'/>",
    ]
    if diagonal:
        parts.append(
            f"<line class='diagonal' x1='{SCATTER_PAD}' y1='{SCATTER_PAD + span}' x2='{SCATTER_PAD + span}' "
            f"y2='{SCATTER_PAD}' stroke='#8c959f' stroke-dasharray='4 3'/>"
        )
    for sample_id, x, y in finite:
        cx, cy = SCATTER_PAD + px(x, x_range), SCATTER_PAD + span - px(y, y_range)
        parts.append(
            f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='3' fill='#0969da' fill-opacity='0.7'>"
            f"<title>{escape(sample_id)}: {escape(x_label)} {x:.4f}, "
            f"{escape(y_label)} {y:.4f}</title></circle>"
        )
    parts += [
        f"<text x='{SCATTER_PX / 2}' y='{SCATTER_PX - 6}' text-anchor='middle' font-size='11'>"
        f"{escape(x_label)}</text>",
        f"<text x='10' y='{SCATTER_PX / 2}' text-anchor='middle' font-size='11' "
        f"transform='rotate(-90 10 {SCATTER_PX / 2})'>{escape(y_label)}</text>",
        f"<text x='{SCATTER_PAD}' y='{SCATTER_PAD + span + 12}' font-size='9'>{_short(x_range[0])}</text>",
        f"<text x='{SCATTER_PAD + span}' y='{SCATTER_PAD + span + 12}' font-size='9' text-anchor='end'>"
        f"{_short(x_range[1])}</text>",
        "</svg>",
    ]
    return "".join(parts)
