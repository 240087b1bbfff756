"""Presets: the shipped workers (``adapters/workers/NAME.py``) started in the model's own environment.

``--adapter-arg python=/envs/NAME/bin/python repo=CHECKOUT weights=FOLDER`` become the command
``PYTHON adapters/workers/NAME.py --repo CHECKOUT --weights FOLDER --caption-prompt ...``: the caption
instruction and sampling are unified-bench's (UAE's), passed on the command line, so they have one
source. ``worker_args`` adds the worker's own flags (``--num-timesteps 30``); see ``NAME.py --help``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from unified_bench.adapter import COMMAND_LINE, AdapterOptions, config_from_args
from unified_bench.prompts import CAPTION_MAX_NEW_TOKENS, CAPTION_PROMPT, CAPTION_TEMPERATURE

from .adapter import WorkerAdapter, WorkerProcessConfig

WORKERS_DIR = Path(__file__).resolve().parents[1] / "workers"


@dataclass(frozen=True)
class PresetConfig(WorkerProcessConfig):
    """Settings, each settable with ``--adapter-arg NAME=VALUE``."""

    python: str = field(default="python", metadata={COMMAND_LINE: True})  # the model environment's Python
    repo: str = ""  # checkout of the official repository
    weights: str = ""  # local folder of the released weights (or a hub id where the worker accepts one)
    worker_args: str = ""  # more flags for the worker, split like a shell (see adapters/workers/NAME.py)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.repo or not self.weights:
            raise ValueError(
                "pass --adapter-arg repo=CHECKOUT (the official repository) and --adapter-arg weights=FOLDER "
                "(its released weights); `unified-bench adapters list` shows where to get both."
            )


def _absolute(value: str) -> str:
    path = Path(value).expanduser()
    return str(path.resolve()) if path.exists() else value


def preset_command(name: str, config: PresetConfig) -> list[str]:
    """The argument list that starts the worker of preset ``name``."""
    return [
        config.python,
        str(WORKERS_DIR / f"{name.replace('-', '_')}.py"),
        "--repo", _absolute(config.repo),
        "--weights", _absolute(config.weights),
        "--caption-prompt", CAPTION_PROMPT,
        "--caption-temperature", str(CAPTION_TEMPERATURE),
        "--caption-max-tokens", str(CAPTION_MAX_NEW_TOKENS),
        *shlex.split(config.worker_args),
    ]  # fmt: skip


def build_preset(name: str, options: AdapterOptions) -> WorkerAdapter:
    config = config_from_args(PresetConfig, options.args)
    return WorkerAdapter(preset_command(name, config), name=name, config=config)


def build_bagel(options: AdapterOptions) -> WorkerAdapter:
    return build_preset("bagel", options)


def build_omnigen2(options: AdapterOptions) -> WorkerAdapter:
    return build_preset("omnigen2", options)


def build_mmada(options: AdapterOptions) -> WorkerAdapter:
    return build_preset("mmada", options)


def build_show_o2(options: AdapterOptions) -> WorkerAdapter:
    return build_preset("show-o2", options)


def build_blip3o(options: AdapterOptions) -> WorkerAdapter:
    return build_preset("blip3o", options)


def build_uniworld(options: AdapterOptions) -> WorkerAdapter:
    return build_preset("uniworld", options)
