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
