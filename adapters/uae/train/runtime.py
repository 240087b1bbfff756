"""What a stage works with: the accelerate-wrapped policy, the optimizer step, cross-process sums.

Gradient accumulation is explicit: a stage runs any number of forward/backward passes per
optimizer step, each inside ``micro_step(last=...)``; only the last one synchronises gradients
across processes (DDP ``no_sync`` for the others). Each process divides its losses by its own
sample count, and DDP averages across processes, so the step's gradient is the mean over every
sample of the global batch, whatever the number of processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from ..adapter import UAEAdapter
from .config import TrainConfig
from .ema import EMA
from .policy import UAEPolicy
from .rewards import ReconstructionReward


@dataclass
class StageContext:
    config: TrainConfig
    accelerator: Any
    adapter: UAEAdapter
    policy: UAEPolicy  # unwrapped: building blocks, rollouts under no_grad
    model: torch.nn.Module  # wrapped: every forward that a backward follows
    optimizer: Any
    lr_scheduler: Any
    reward: ReconstructionReward | None
    ema: EMA | None = None
    optimizer_steps: int = 0
    trainable: list[torch.nn.Parameter] = field(default_factory=list)

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @contextmanager
    def micro_step(self, *, last: bool) -> Iterator[None]:
        """One forward + backward; gradients are synchronised across processes only when ``last``."""
        context = nullcontext() if last else self.accelerator.no_sync(self.model)
        with context, self.accelerator.autocast():
            yield

    def backward(self, loss: torch.Tensor) -> None:
        self.accelerator.backward(loss)

    def optimizer_step(self) -> dict[str, float]:
        """Clip, step the optimizer and the learning rate, update the EMA; returns lr and grad norm."""
        max_norm = self.config.max_grad_norm
        if max_norm > 0:
            grad_norm = self.accelerator.clip_grad_norm_(self.trainable, max_norm)
        else:
            grads = [p.grad.detach().float().norm() for p in self.trainable if p.grad is not None]
            grad_norm = torch.stack(grads).norm() if grads else torch.tensor(0.0)
        learning_rate = self.lr_scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.optimizer_steps += 1
        if self.ema is not None:
            self.ema.update(self.optimizer_steps)
        return {"learning_rate": float(learning_rate), "grad_norm": float(grad_norm)}

    # --- across processes ---------------------------------------------------------------------

    def gather(self, values: torch.Tensor) -> torch.Tensor:
        """Concatenate a 1-D tensor from every process (CPU float32)."""
        gathered = self.accelerator.gather(values.detach().float().reshape(-1).to(self.device))
        return gathered.cpu()

    def sum(self, value: float) -> float:
        tensor = torch.tensor([float(value)], device=self.device)
        return float(self.accelerator.reduce(tensor, reduction="sum").item())

    def mean(self, value: float) -> float:
        return self.sum(value) / self.accelerator.num_processes


class RunningMean:
    """Means of per-micro-step metrics of one optimizer step (e.g. KL, clip fraction)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, value: float | torch.Tensor, count: int = 1) -> None:
        value = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
        self.totals[name] = self.totals.get(name, 0.0) + value * count
        self.counts[name] = self.counts.get(name, 0) + count

    def means(self, context: StageContext) -> dict[str, float]:
        """Each metric averaged over every process."""
        return {name: context.mean(self.totals[name] / self.counts[name]) for name in sorted(self.totals)}
