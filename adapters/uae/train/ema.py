"""Exponential moving average of the trained weights, Flow-GRPO style.

Updated every ``every`` optimizer steps with decay ``min((1 + n) / (10 + n), cap)`` (``n`` = the
optimizer step), so early updates follow the weights closely. Swapped in for evaluation and for
the exported adapters; the raw weights stay what the optimizer trains.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


class EMA:
    def __init__(self, parameters: list[torch.nn.Parameter], *, decay_cap: float, every: int) -> None:
        self.parameters = parameters
        self.decay_cap = decay_cap
        self.every = every
        self.shadow = [parameter.detach().clone() for parameter in parameters]

    def decay(self, optimizer_step: int) -> float:
        return min((1 + optimizer_step) / (10 + optimizer_step), self.decay_cap)

    @torch.no_grad()
    def update(self, optimizer_step: int) -> None:
        """Called after optimizer step ``optimizer_step`` (1-based); updates every ``every`` steps."""
        if optimizer_step % self.every:
            return
        decay = self.decay(optimizer_step)
        for shadow, parameter in zip(self.shadow, self.parameters, strict=True):
            shadow.lerp_(parameter.detach(), 1 - decay)

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The averaged weights in place of the trained ones, for the duration of the block."""
        backup = [parameter.detach().clone() for parameter in self.parameters]
        with torch.no_grad():
            for parameter, shadow in zip(self.parameters, self.shadow, strict=True):
                parameter.copy_(shadow)
        try:
            yield
        finally:
            with torch.no_grad():
                for parameter, saved in zip(self.parameters, backup, strict=True):
                    parameter.copy_(saved)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f"shadow.{index}": tensor.detach().cpu() for index, tensor in enumerate(self.shadow)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for index, shadow in enumerate(self.shadow):
            shadow.copy_(state[f"shadow.{index}"])
