"""Training checkpoints: what the harness loads, plus everything an exact resume needs.

``DIR/checkpoint-STEP/`` and ``DIR/final/``::

    uae_training.json         base model, stage, step, adapter settings, config (schema_version 1)
    llm_lora/                 encoder LoRA (PEFT adapter folder), when the encoder has one
    dit_lora/                 decoder LoRA (PEFT save_pretrained), when the decoder has one
    dit/                      the whole SD3 transformer, when it was trained in full
    projector.safetensors     the projector
    training_state/           trainable.safetensors (raw float32 weights), optimizer.pt,
                              lr_scheduler.pt, ema.safetensors, trainer_state.json, rng-RANK.pt

The exported parts use the EMA weights when an EMA is kept; ``training_state`` holds the raw ones.
A checkpoint is written into a hidden temporary folder and renamed when complete, so a crash
never leaves a half checkpoint that ``--resume`` would pick up. A write the file system refuses
(disk full, read-only) is one ``WriteError`` naming the file; the partial folder is removed and
every earlier checkpoint is left as it was, so ``--resume`` continues from the last good one.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import PeftModel
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from unified_bench.errors import InputError
from unified_bench.io import WriteError, write_error
from unified_bench.provenance import utc_now

from ..checkpoint import TRAINING_METADATA, TrainingMetadata
from .config import G4UConfig, TrainConfig, config_to_dict
from .lora import export_decoder_lora, export_encoder_lora, has_lora
from .runtime import StageContext
from .stages.g4u import SAMPLING_ARGS, run_sampling, sampling_adapter_args

CHECKPOINT_PREFIX = "checkpoint-"
FINAL = "final"
STATE = "training_state"
SCHEMA_VERSION = 1
_STEP_DIR = re.compile(rf"^{CHECKPOINT_PREFIX}(\d+)$")


def list_checkpoints(output: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every complete ``checkpoint-STEP`` folder, oldest first."""
    found = []
    for path in Path(output).glob(f"{CHECKPOINT_PREFIX}*"):
        match = _STEP_DIR.match(path.name)
        if match and (path / STATE / "trainer_state.json").is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(output: Path) -> Path | None:
    checkpoints = list_checkpoints(output)
    return checkpoints[-1][1] if checkpoints else None


def prune_checkpoints(output: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest ``checkpoint-STEP`` folders (``keep`` 0: keep all)."""
    if keep <= 0:
        return
    for _, path in list_checkpoints(output)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


def training_metadata(context: StageContext, step: int) -> dict[str, Any]:
    """``uae_training.json``: enough for ``--model uae --adapter-arg checkpoint=DIR`` and for people."""
    config, policy = context.config, context.policy
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "unified-bench/uae-training-checkpoint",
        "base_model": config.model,
        "base_revision": config.revision,
        "init_checkpoint": config.init_checkpoint,
        "stage": config.stage,
        "step": step,
        "adapter_args": {
            "use_llm_lora": str(has_lora(policy.language_model)).lower(),
            "use_dit_lora": str(isinstance(policy.transformer, PeftModel)).lower(),
            **caption_sampling_args(context),
        },
        "ema": context.ema is not None,
        "reward": context.reward.fingerprints() if context.reward is not None else None,
        # How the rewards' images were drawn (`run` draws at the adapter's defaults, 1024 px / 40
        # steps on the release, unless --adapter-arg says otherwise): --set resolution= and
        # num_inference_steps= make training draw as a run does.
        "reward_decoder": (
            {
                "width": config.resolution,
                "height": config.resolution,
                "num_inference_steps": config.num_inference_steps,
                "guidance_scale": config.guidance_scale,
            }
            if context.reward is not None
            else None
        ),
        "created_at": utc_now(),
        "config": config_to_dict(config),
    }


def caption_sampling_args(context: StageContext) -> dict[str, str]:
    """How ``run`` must sample captions with this checkpoint's encoder: as g4u trained it, or as the
    init checkpoint records when this stage keeps its encoder LoRA (u4g after g4u)."""
    config = context.config
    if isinstance(config, G4UConfig):
        return sampling_adapter_args(run_sampling(config, context.adapter.encoder.sampling))
    recorded = TrainingMetadata.read(config.init_checkpoint) if config.init_checkpoint else None
    if recorded is None or not config.base_llm_lora:
        return {}
    return {key: value for key, value in recorded.adapter_args.items() if key in SAMPLING_ARGS}


def export_parts(context: StageContext, directory: Path) -> None:
    """The parts the ``uae`` adapter loads (EMA weights swapped in when there is an EMA)."""
    policy = context.policy
    swap = context.ema.swapped_in() if context.ema is not None else nullcontext()
    with swap:
        if has_lora(policy.language_model):
            _written(
                directory / "llm_lora",
                lambda: export_encoder_lora(policy.language_model, directory / "llm_lora"),
            )
        if isinstance(policy.transformer, PeftModel):
            _written(
                directory / "dit_lora",
                lambda: export_decoder_lora(policy.transformer, directory / "dit_lora"),
            )
        elif any(p.requires_grad for p in policy.transformer.parameters()):
            _written(directory / "dit", lambda: policy.transformer.save_pretrained(str(directory / "dit")))
        projector = {
            k: v.detach().cpu().contiguous() for k, v in policy.encoder.projector.state_dict().items()
        }
        path = directory / "projector.safetensors"
        _written(path, lambda: save_file(projector, str(path), metadata={"format": "pt"}))


def save_checkpoint(context: StageContext, output: Path, name: str, step: int) -> Path:
    """Write checkpoint ``name`` (every process takes part: each saves its RNG state).

    Raises:
        WriteError: the file system refused a file (named); no part of this checkpoint is left and
            the earlier ones are untouched.
    """
    accelerator = context.accelerator
    final = Path(output) / name
    staging = Path(output) / f".{name}.partial"
    try:
        if accelerator.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
            _written(staging / STATE, lambda: (staging / STATE).mkdir(parents=True))
        accelerator.wait_for_everyone()
        rng = staging / STATE / f"rng-{accelerator.process_index}.pt"
        _written(rng, lambda: torch.save(_rng_state(), rng))
        if accelerator.is_main_process:
            export_parts(context, staging)
            _save_training_state(context, staging / STATE, step)
            metadata = json.dumps(training_metadata(context, step), indent=2) + "\n"
            _written(staging / TRAINING_METADATA, lambda: (staging / TRAINING_METADATA).write_text(metadata))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            _replace_folder(staging, final)
    except BaseException:
        if accelerator.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    accelerator.wait_for_everyone()
    return final


def _replace_folder(staging: Path, final: Path) -> None:
    """Move ``staging`` to ``final``; an older ``final`` goes only once the new one is in place."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _written(path: Path, write: Callable[[], object]) -> None:
    """Run ``write``, which writes ``path``; a refusal of the file system becomes one line naming it.

    torch.save and safetensors report a full disk or a file-size limit as their own errors
    (``RuntimeError``, ``SafetensorError``), not as ``OSError``.
    """
    try:
        write()
    except OSError as error:
        raise write_error(path, error) from error
    except (RuntimeError, SafetensorError) as error:
        raise WriteError(
            f"{path}: cannot write (the file system refused it: disk full or read-only?); free some "
            "space or choose another location, then rerun with --resume."
        ) from error


def _save_training_state(context: StageContext, directory: Path, step: int) -> None:
    trainable = {
        name: p.detach().cpu().contiguous() for name, p in context.policy.trainable_named_parameters()
    }
    _written(
        directory / "trainable.safetensors",
        lambda: save_file(trainable, str(directory / "trainable.safetensors")),
    )
    _written(
        directory / "optimizer.pt",
        lambda: torch.save(context.optimizer.state_dict(), directory / "optimizer.pt"),
    )
    _written(
        directory / "lr_scheduler.pt",
        lambda: torch.save(context.lr_scheduler.state_dict(), directory / "lr_scheduler.pt"),
    )
    if context.ema is not None:
        ema = context.ema.state_dict()
        _written(directory / "ema.safetensors", lambda: save_file(ema, str(directory / "ema.safetensors")))
    state = {
        "step": step,
        "optimizer_steps": context.optimizer_steps,
        "num_processes": context.accelerator.num_processes,
        "stage": context.config.stage,
        "model": context.config.model,
    }
    text = json.dumps(state, indent=2) + "\n"
    _written(directory / "trainer_state.json", lambda: (directory / "trainer_state.json").write_text(text))


def load_training_state(context: StageContext, checkpoint: Path) -> int:
    """Restore weights, optimizer, scheduler, EMA and RNG from ``checkpoint``; returns its step.

    Raises:
        InputError: the checkpoint is from another stage or base model, or misses a trainable tensor.
    """
    directory = Path(checkpoint) / STATE
    state = json.loads((directory / "trainer_state.json").read_text())
    config: TrainConfig = context.config
    if state["stage"] != config.stage or state["model"] != config.model:
        raise InputError(
            f"{checkpoint}: saved by stage {state['stage']} on {state['model']}, but this run is stage "
            f"{config.stage} on {config.model}; use a new --output or the original config."
        )
    saved = load_file(str(directory / "trainable.safetensors"))
    parameters = dict(context.policy.trainable_named_parameters())
    if set(saved) != set(parameters):
        missing = sorted(set(parameters) - set(saved))[:3]
        raise InputError(
            f"{checkpoint}: its trainable tensors do not match this run's (e.g. missing {missing}); "
            "was it written with other LoRA settings?"
        )
    with torch.no_grad():
        for name, parameter in parameters.items():
            parameter.copy_(saved[name])
    context.optimizer.load_state_dict(torch.load(directory / "optimizer.pt", weights_only=True))
    context.lr_scheduler.load_state_dict(torch.load(directory / "lr_scheduler.pt", weights_only=True))
    if context.ema is not None:
        context.ema.load_state_dict(load_file(str(directory / "ema.safetensors")))
    context.optimizer_steps = int(state["optimizer_steps"])
    rng_file = directory / f"rng-{context.accelerator.process_index}.pt"
    if not rng_file.is_file():
        rng_file = directory / "rng-0.pt"
    _restore_rng(torch.load(rng_file, weights_only=True))
    return int(state["step"])


def _rng_state() -> dict[str, Any]:
    numpy_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
