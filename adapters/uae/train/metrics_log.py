"""Training metrics: ``DIR/metrics.jsonl`` (one object per step or evaluation), plus TensorBoard / W&B.

``metrics.jsonl`` is the record ``unified-bench train plot`` reads; every line has ``step`` and
``kind`` (``train`` or ``eval``). TensorBoard and W&B go through accelerate's tracking API and are
optional extras (``pip install unified-bench[tensorboard]`` / ``[wandb]``): used when asked for
(``report_to``), and under ``auto`` when installed (W&B also needs WANDB_API_KEY or WANDB_MODE).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path
from typing import Any

from unified_bench.errors import MissingDependencyError
from unified_bench.io import append_jsonl, atomic_write_text, read_jsonl

METRICS_FILE = "metrics.jsonl"


def read_metrics(directory: Path) -> list[dict[str, Any]]:
    path = Path(directory) / METRICS_FILE
    return list(read_jsonl(path, tolerate_torn_tail=True)) if path.is_file() else []


def resolve_report_to(report_to: list[str]) -> set[str]:
    """The backends to use. ``auto``: tensorboard if installed, wandb if installed and configured."""
    wanted = set(report_to) - {"jsonl"}
    if "none" in wanted:
        return set()
    chosen: set[str] = set()
    if "auto" in wanted:
        if importlib.util.find_spec("tensorboard") is not None:
            chosen.add("tensorboard")
        if importlib.util.find_spec("wandb") is not None and (
            os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE")
        ):
            chosen.add("wandb")
    for backend in wanted - {"auto"}:
        if importlib.util.find_spec(backend) is None:
            raise MissingDependencyError(
                f"report_to: {backend} is not installed; `pip install {backend}` or drop it from report_to."
            )
        chosen.add(backend)
    return chosen


def tracker_config(run_config: dict[str, Any]) -> dict[str, Any]:
    """The run's config as the trackers' hyper-parameters: scalars kept, anything else as JSON text."""
    return {
        key: value if isinstance(value, (bool, int, float, str)) else json.dumps(value, sort_keys=True)
        for key, value in run_config.items()
    }


class MetricsLog:
    """Appends records to ``metrics.jsonl`` (flushed per record) and mirrors their scalars to the
    trackers started on ``accelerator`` (accelerate's tracking API: ``init_trackers`` / ``log`` /
    ``end_training``; it logs from the main process only)."""

    def __init__(self, directory: Path, *, accelerator: Any = None, enabled: bool = True) -> None:
        self.path = Path(directory) / METRICS_FILE
        self.enabled = enabled
        self.accelerator = accelerator if accelerator is not None and accelerator.trackers else None

    def log(self, record: dict[str, Any]) -> None:
        clean = {key: _json_number(value) for key, value in record.items()}
        if self.enabled:
            append_jsonl(self.path, [clean])
        if self.accelerator is not None:
            prefix = f"{record.get('kind', 'train')}/"
            scalars = {
                (key if "/" in key else prefix + key): value
                for key, value in clean.items()
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step"
            }
            self.accelerator.log(scalars, step=int(record["step"]))

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after ``step`` (a resumed run redoes them)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [record for record in read_metrics(self.path.parent) if record.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(record) + "\n" for record in kept))

    def close(self) -> None:
        if self.accelerator is not None:
            self.accelerator.end_training()


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
