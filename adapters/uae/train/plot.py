"""``unified-bench train plot``: reward and caption-length curves of a run, from its ``metrics.jsonl``.

Panels: the reward (mean over the step's samples, band = spread within groups, the signal GRPO
learns from), the caption length in tokens (the paper's "aha" curve: captions grow as RL
proceeds), the KL to the reference, and, when the run evaluated checkpoints, the held-out unified
score. Stages without rewards (sft) show their loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unified_bench.errors import InputError
from unified_bench.io import atomic_write_bytes

from .metrics_log import METRICS_FILE, read_metrics


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    return [p[0] for p in points], [float(p[1]) for p in points]


def _smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average (the raw curve is drawn faintly behind it)."""
    smoothed, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        smoothed.append(total / min(index + 1, window))
    return smoothed


def plot_run(run: Path, output: Path, *, title: str | None = None) -> Path:
    """Write the curves of training run ``run`` to ``output`` (PNG).

    Raises:
        InputError: ``run`` has no metrics.
    """
    import io

    from unified_bench.loading import require_package

    matplotlib = require_package("matplotlib", purpose="`unified-bench train plot`", extra="train")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run)
    train = [r for r in records if r.get("kind", "train") == "train"]
    evaluations = [r for r in records if r.get("kind") == "eval"]
    if not train:
        raise InputError(f"{run}: no {METRICS_FILE} with training steps; is this a training run folder?")
    window = max(1, len(train) // 15)
    panels = [("reward", "reward_mean") if any("reward_mean" in r for r in train) else ("loss", "loss")]
    panels.append(("caption length (tokens)", "caption_tokens"))
    if any("kl" in r for r in train):
        panels.append(("KL to the reference (LoRA off)", "kl"))
    if evaluations:
        panels.append(("held-out overall score (harness)", "eval/overall"))
    columns = 2 if len(panels) > 2 else len(panels)
    rows = (len(panels) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.0 * rows), dpi=90, squeeze=False)
    flat = [axis for row in axes for axis in row]
    for axis in flat[len(panels) :]:
        axis.set_visible(False)
    for axis, (label, key) in zip(flat, panels, strict=False):
        source = evaluations if key.startswith("eval/") else train
        steps, values = _series(source, key)
        if key == "reward_mean":
            _, spreads = _series(train, "reward_group_std")
            if len(spreads) == len(values):
                low = [v - s for v, s in zip(values, spreads, strict=True)]
                high = [v + s for v, s in zip(values, spreads, strict=True)]
                axis.fill_between(steps, low, high, alpha=0.2, color="C0", label="± std within groups")
        if key.startswith("eval/"):
            axis.plot(steps, values, "o-", color="C2", label=key.removeprefix("eval/"))
        else:
            axis.plot(steps, values, color="C0", alpha=0.3, linewidth=1)
            axis.plot(
                steps, _smooth(values, window), color="C0", linewidth=2, label=f"mean of {window} steps"
            )
        axis.ticklabel_format(axis="y", useOffset=False)
        axis.set_xlabel("step")
        axis.set_title(label, fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="best")
    stage = next((r.get("stage") for r in records if r.get("stage")), None)
    figure.suptitle(title or f"{stage + ': ' if stage else ''}{Path(run).name}", fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(output, buffer.getvalue())
    return output
