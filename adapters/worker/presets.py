"""Presets: the shipped workers (``adapters/workers/NAME.py``) started in the model's own environment.

``--adapter-arg python=/envs/NAME/bin/python repo=CHECKOUT weights=FOLDER`` become the command
``PYTHON adapters/workers/NAME.py --repo CHECKOUT --weights FOLDER --caption-prompt ...``: the caption
instruction and sampling are unified-bench's (UAE's), passed on the command line, so they have one
source. ``worker_args`` adds the worker's own flags (``--num-timesteps 30``); see ``NAME.py --help``.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

from unified_bench.adapter import COMMAND_LINE, NOT_IN_RUN_SPEC, OUTPUT_PATH, AdapterOptions, config_from_args
from unified_bench.prompts import CAPTION_MAX_NEW_TOKENS, CAPTION_PROMPT, CAPTION_TEMPERATURE

from .adapter import DEFAULT_TIMEOUT_S, WorkerAdapter, default_log_path

WORKERS_DIR = Path(__file__).resolve().parents[1] / "workers"
_OPERATIONAL = {NOT_IN_RUN_SPEC: True}


@dataclass(frozen=True)
class PresetConfig:
    """Settings, each settable with ``--adapter-arg NAME=VALUE``."""

    python: str = field(default="python", metadata={COMMAND_LINE: True})  # the model environment's Python
    repo: str = ""  # checkout of the official repository
    weights: str = ""  # local folder of the released weights (or a hub id where the worker accepts one)
    worker_args: str = ""  # more flags for the worker, split like a shell (see adapters/workers/NAME.py)
    timeout: float = field(default=DEFAULT_TIMEOUT_S, metadata=_OPERATIONAL)
    restarts: int = field(default=1, metadata=_OPERATIONAL)
    log: str | None = field(default=None, metadata={**_OPERATIONAL, OUTPUT_PATH: True})

    def __post_init__(self) -> None:
        if not self.repo or not self.weights:
            raise ValueError(
                "pass --adapter-arg repo=CHECKOUT (the official repository) and --adapter-arg weights=FOLDER "
                "(its released weights); `unified-bench adapters list` shows where to get both."
            )
        if self.timeout <= 0:
            raise ValueError("timeout must be > 0 seconds.")
        if self.restarts < 0:
            raise ValueError("restarts must be >= 0.")


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
    argv = preset_command(name, config)
    log = Path(config.log).expanduser() if config.log else default_log_path(name)
    return WorkerAdapter(
        argv,
        name=name,
        timeout=config.timeout,
        restarts=config.restarts,
        log=log,
        settings={"command": argv, "config": asdict(config)},
    )


def build_bagel(options: AdapterOptions) -> WorkerAdapter:
    return build_preset("bagel", options)


def build_omnigen2(options: AdapterOptions) -> WorkerAdapter:
    return build_preset("omnigen2", options)
