"""The four Unified-GRPO stages. Each module has ``configure(policy, config)`` (what trains) and a
stage class whose ``run_step(step, items)`` is one optimizer round."""

from __future__ import annotations

import importlib
from typing import Any

_STAGES = {
    "sft": ("sft", "SFTStage"),
    "cold-start": ("cold_start", "ColdStartStage"),
    "g4u": ("g4u", "G4UStage"),
    "u4g": ("u4g", "U4GStage"),
}


def stage_module(stage: str) -> Any:
    return importlib.import_module(f"{__name__}.{_STAGES[stage][0]}")


def stage_class(stage: str) -> type:
    return getattr(stage_module(stage), _STAGES[stage][1])
