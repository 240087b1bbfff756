"""The training loop shared by every stage: load, wrap with accelerate, step, log, checkpoint, evaluate.

One "step" is one optimizer round of the stage (for the RL stages: rollouts of
``images_per_step`` images, then the update). Launch with ``accelerate launch`` (or ``torchrun``)
for several processes; each process takes its slice of every step's images.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unified_bench.errors import InputError
from unified_bench.evaluate import Hooks, SilentHooks
from unified_bench.io import atomic_write_text

from ..adapter import TINY_BASE_MODEL, UAEAdapter
from ..config import UAEConfig
from .checkpoints import (
    FINAL,
    STATE,
    latest_checkpoint,
    load_training_state,
    prune_checkpoints,
    save_checkpoint,
)
from .config import TrainConfig, render_config, updates_per_step
from .data import TrainData, check_held_out, derive_seed, window, write_manifest
from .ema import EMA
from .evaluation import HELD_OUT_MANIFEST, evaluate_checkpoint
from .metrics_log import METRICS_FILE, MetricsLog, resolve_report_to, tracker_config
from .policy import UAEPolicy, freeze
from .rewards import ReconstructionReward
from .runtime import StageContext
from .stages import stage_class, stage_module

CONFIG_FILE = "train_config.yaml"
Callback = Callable[[int, dict[str, Any]], None]
_SUMMARY_KEYS = ("reward_mean", "reward_std", "loss", "caption_tokens", "kl", "clip_fraction", "grad_norm")


@dataclass(frozen=True)
class TrainResult:
    output: Path
    final: Path
    step: int
    metrics: dict[str, Any]
    is_main_process: bool = True


def load_adapter(config: TrainConfig, device: torch.device, dtype: torch.dtype) -> UAEAdapter:
    """The ``uae`` adapter's model at the stage's settings (base LoRAs and init checkpoint applied)."""
    model = config.model
    if model == TINY_BASE_MODEL:
        from ..tiny import ensure_tiny_checkpoint

        model = str(ensure_tiny_checkpoint())
    settings: dict[str, Any] = {
        "revision": config.revision,
        "checkpoint": config.init_checkpoint,
        "use_llm_lora": config.base_llm_lora,
        "use_dit_lora": config.base_dit_lora,
        "height": config.resolution,
        "width": config.resolution,
        "num_inference_steps": config.num_inference_steps,
        "guidance_scale": config.guidance_scale,
    }
    if hasattr(config, "caption_temperature"):
        settings["temperature"] = config.caption_temperature
        settings["max_new_tokens"] = config.caption_max_new_tokens
    try:
        uae_config = UAEConfig(model=model, **settings)
    except ValueError as error:
        raise InputError(f"training config: {error}") from None
    return UAEAdapter.from_pretrained(model, uae_config, device=device, dtype=dtype)


def _prepare_output(output: Path, resume: bool) -> None:
    started = (
        (output / METRICS_FILE).exists() or any(output.glob("checkpoint-*")) or (output / FINAL).exists()
    )
    if started and not resume:
        raise InputError(
            f"{output} already holds a training run; pass --resume to continue it, or choose a new --output."
        )
    output.mkdir(parents=True, exist_ok=True)


def _resume_point(output: Path) -> Path | None:
    """The newest complete checkpoint: the last checkpoint-STEP, or final/ when it is at least as new."""
    candidates = [path for path in (latest_checkpoint(output), output / FINAL) if path is not None]
    candidates = [path for path in candidates if (path / STATE / "trainer_state.json").is_file()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: json.loads((p / STATE / "trainer_state.json").read_text())["step"])


def _summary(step: int, total: int, metrics: dict[str, Any]) -> str:
    parts = [f"{key} {metrics[key]:.4g}" for key in _SUMMARY_KEYS if isinstance(metrics.get(key), float)]
    return f"step {step}/{total}: " + ", ".join(parts)


def build_context(
    config: TrainConfig, hooks: Hooks | None = None, *, project_dir: Path | None = None
) -> StageContext:
    """Everything a stage runs with: accelerate, the adapter's model with the stage's trainable parts,
    optimizer, learning-rate schedule, rewards and EMA (no data). With ``project_dir`` (the run
    folder) the trackers of ``report_to`` are set up there (accelerate's ``log_with``)."""
    from accelerate import Accelerator
    from transformers import get_scheduler

    from unified_bench.torch_utils import resolve_dtype

    # Several processes and no GPU: accelerate's CPU mode is what sets up gloo (MULTI_CPU).
    multi_cpu = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    trackers = sorted(resolve_report_to(config.report_to)) if project_dir is not None else []
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision,
        cpu=multi_cpu,
        log_with=trackers or None,
        project_dir=str(project_dir) if trackers else None,
    )
    device = accelerator.device
    if hooks is not None:
        hooks.note(f"Loading {config.model} for stage {config.stage} on {device} ...")
    adapter = load_adapter(config, device, resolve_dtype(config.dtype, device))
    freeze(adapter)
    policy = UAEPolicy(adapter)
    torch.manual_seed(derive_seed(config.seed, "init"))  # fresh LoRA weights: same on every process
    stage_module(config.stage).configure(policy, config)
    if config.gradient_checkpointing:
        policy.enable_gradient_checkpointing()
    trainable = [parameter for _, parameter in policy.trainable_named_parameters()]
    optimizer = torch.optim.AdamW(
        trainable,
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
        weight_decay=config.weight_decay,
    )
    lr_scheduler = get_scheduler(
        config.lr_scheduler,
        optimizer,
        num_warmup_steps=config.warmup_steps,
        num_training_steps=config.max_steps * updates_per_step(config),
    )
    model, optimizer = accelerator.prepare(policy, optimizer)
    reward = None
    if config.stage != "sft":
        reward = ReconstructionReward(
            config.reward_scorers,
            config.scorer_models,
            device=str(device),
            dtype="float32" if device.type == "cpu" else None,
            batch_size=config.reward_batch_size,
        )
    ema = None
    if getattr(config, "ema", False):
        ema = EMA(trainable, decay_cap=config.ema_decay, every=config.ema_every)
    return StageContext(
        config=config,
        accelerator=accelerator,
        adapter=adapter,
        policy=policy,
        model=model,
        optimizer=optimizer,
        lr_scheduler=lr_scheduler,
        reward=reward,
        ema=ema,
        trainable=trainable,
    )


def _evaluate(
    context: StageContext, output: Path, step: int, hooks: Hooks, log: MetricsLog, saved: Path | None = None
) -> Path:
    """Save ``checkpoint-STEP`` (unless just saved) and score it with the harness on the main process."""
    config, accelerator = context.config, context.accelerator
    saved = saved or save_checkpoint(context, output, f"checkpoint-{step}", step)
    if accelerator.is_main_process:
        hooks.note(f"Evaluating {saved.name} on {config.eval_dataset} with the harness ...")
        device = str(accelerator.device)
        scores = evaluate_checkpoint(saved, config, output, step, device=device)
        log.log({"step": step, "kind": "eval", **scores})
        hooks.note(", ".join(f"{key} {value:.4f}" for key, value in scores.items()))
    accelerator.wait_for_everyone()
    return saved


def train(
    config: TrainConfig,
    output: Path,
    *,
    resume: bool = False,
    hooks: Hooks | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train ``config.stage`` into ``output`` (checkpoints, metrics.jsonl, final/).

    Args:
        config: the stage's config (see ``config.py``).
        output: the run folder.
        resume: continue from the newest checkpoint in ``output`` (exactly: weights, optimizer,
            scheduler, EMA, RNG states, data position).
        hooks: progress reporting (rich in the CLI).
        callbacks: called as ``callback(step, record)`` after each step's metrics are logged.

    Raises:
        InputError: ``output`` holds a run and ``resume`` is false, bad data, or a mismatched checkpoint.
    """
    from unified_bench.datasets import load_dataset

    if hooks is None or int(os.environ.get("RANK", "0")) != 0:
        hooks = SilentHooks()  # one process reports
    output = Path(output)
    dataset = load_dataset(config.dataset)
    dataset = dataclasses.replace(
        dataset, samples=window(dataset.samples, config.dataset_offset, config.dataset_limit)
    )
    if not dataset.samples:
        raise InputError(
            f"dataset {config.dataset}: no images from dataset_offset={config.dataset_offset} on."
        )
    held_out: list = []
    if config.eval_every:  # before anything is written: a refused run leaves the output as it was
        held_out = window(load_dataset(config.eval_dataset).samples, config.eval_offset, config.eval_limit)
        check_held_out(list(dataset.samples), held_out, f"eval_dataset {config.eval_dataset}")
    _prepare_output(output, resume)
    if held_out and config.eval_offset:
        write_manifest(held_out, output / HELD_OUT_MANIFEST)
    context = build_context(config, hooks, project_dir=output)
    accelerator = context.accelerator
    is_main = accelerator.is_main_process
    if accelerator.log_with:
        accelerator.init_trackers(
            "unified-bench",  # the TensorBoard subfolder of the run; the W&B project
            config=tracker_config(vars(config)),
            init_kwargs={"wandb": {"dir": str(output), "resume": "allow"}},
        )
    log = MetricsLog(output, accelerator=accelerator, enabled=is_main)
    start = 0
    if resume:
        checkpoint = _resume_point(output)
        if checkpoint is not None:
            start = load_training_state(context, checkpoint)
            hooks.note(f"Resuming from {checkpoint} (step {start}).")
        log.truncate_after(start)
    if is_main:
        atomic_write_text(output / CONFIG_FILE, render_config(config))
    data = TrainData(
        dataset,
        images_per_step=config.images_per_step,
        seed=config.seed,
        num_processes=accelerator.num_processes,
        process_index=accelerator.process_index,
    )
    stage = stage_class(config.stage)(context)
    hooks.stage("train", config.max_steps)
    hooks.advance("train", start)
    record: dict[str, Any] = {}
    if config.eval_every and config.eval_before_training and start == 0:
        _evaluate(context, output, 0, hooks, log)
    for step in range(start, config.max_steps):
        metrics = stage.run_step(step, data.step_items(step))
        done = step + 1
        record = {
            "step": done,
            "kind": "train",
            "stage": config.stage,
            "epoch": done * config.images_per_step / len(dataset),
            **metrics,
        }
        log.log(record)
        hooks.advance("train", 1)
        if done % config.log_every == 0 or done == config.max_steps:
            hooks.note(_summary(done, config.max_steps, metrics))
        for callback in callbacks:
            callback(done, record)
        saved = None
        if config.save_every and done % config.save_every == 0:
            saved = save_checkpoint(context, output, f"checkpoint-{done}", done)
        if config.eval_every and done % config.eval_every == 0:
            saved = _evaluate(context, output, done, hooks, log, saved)
        if saved is not None and is_main:
            prune_checkpoints(output, config.keep_checkpoints)
    final = save_checkpoint(context, output, FINAL, config.max_steps)
    log.close()
    accelerator.wait_for_everyone()
    return TrainResult(output, final, config.max_steps, record, is_main_process=is_main)
