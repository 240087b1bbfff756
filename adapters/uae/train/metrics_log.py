"""Training metrics: ``DIR/metrics.jsonl`` (one object per step or evaluation), plus TensorBoard / W&B.

``metrics.jsonl`` is the record ``unified-bench train plot`` reads; every line has ``step`` and
``kind`` (``train`` or ``eval``). TensorBoard and W&B are optional: used when installed and asked
for (``report_to``), silently skipped under ``auto`` when not installed.
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


class MetricsLog:
    """Appends records to ``metrics.jsonl`` (flushed per record) and mirrors scalars to the backends."""

    def __init__(
        self, directory: Path, *, report_to: list[str], run_config: dict[str, Any], enabled: bool = True
    ) -> None:
        self.path = Path(directory) / METRICS_FILE
        self.enabled = enabled
        self.writers: list[Any] = []
        if not enabled:
            return
        backends = resolve_report_to(report_to)
        if "tensorboard" in backends:
            from torch.utils.tensorboard import SummaryWriter

            self.writers.append(_TensorBoard(SummaryWriter(str(Path(directory) / "tensorboard"))))
        if "wandb" in backends:
            import wandb

            wandb.init(config=run_config, dir=str(directory), resume="allow")
            self.writers.append(_WandB(wandb))

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        clean = {key: _json_number(value) for key, value in record.items()}
        append_jsonl(self.path, [clean])
        scalars = {k: v for k, v in clean.items() if isinstance(v, (int, float)) and k not in ("step",)}
        for writer in self.writers:
            writer.log(int(record["step"]), f"{record.get('kind', 'train')}/", scalars)

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after ``step`` (a resumed run redoes them)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [record for record in read_metrics(self.path.parent) if record.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(record) + "\n" for record in kept))

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _TensorBoard:
    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def log(self, step: int, prefix: str, scalars: dict[str, float]) -> None:
        for key, value in scalars.items():
            self.writer.add_scalar(key if "/" in key else prefix + key, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class _WandB:
    def __init__(self, module: Any) -> None:
        self.module = module

    def log(self, step: int, prefix: str, scalars: dict[str, float]) -> None:
        self.module.log(
            {(key if "/" in key else prefix + key): value for key, value in scalars.items()}, step=step
        )

    def close(self) -> None:
        self.module.finish()
