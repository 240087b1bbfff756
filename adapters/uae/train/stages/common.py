"""Pieces the stages share: the decoder's sampling schedule, the step's advantages and reward summary,
and the GRPO step skeleton of g4u and u4g."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from unified_bench.errors import InputError

from ...adapter import UAEAdapter
from ..data import StepItem
from ..grpo import Advantages, group_advantages
from ..rewards import RewardBatch
from ..runtime import RunningMean, StageContext

T = TypeVar("T")


class ScoredGroup(Protocol):
    rewards: RewardBatch | None


class RolloutGroup(ScoredGroup, Protocol):
    """One item's ``G`` rollouts after scoring: their rewards and advantages."""

    advantages: Advantages | None


G = TypeVar("G", bound=RolloutGroup)


STD_CORRECTION = {"population": 0, "bessel": 1}


class Stage(Protocol):
    """A training stage: what it trains (``configure``), and one optimizer round (``run_step``)."""

    def run_step(self, step: int, items: list[StepItem]) -> dict[str, float]: ...


@dataclass(frozen=True)
class Schedule:
    """The decoder's sampling timesteps (SD3 scale, 1000 = noise) and sigmas (one more, ending at 0)."""

    timesteps: torch.Tensor
    sigmas: torch.Tensor


def sampling_schedule(
    scheduler: FlowMatchEulerDiscreteScheduler, num_steps: int, *, width: int, height: int, patch: int = 2
) -> Schedule:
    """The schedule ``StableDiffusion3Pipeline`` uses for ``num_steps`` (on a copy of the scheduler)."""
    copy = FlowMatchEulerDiscreteScheduler.from_config(scheduler.config)
    kwargs = {}
    if copy.config.get("use_dynamic_shifting"):
        from diffusers.pipelines.stable_diffusion_3.pipeline_stable_diffusion_3 import calculate_shift

        sequence = (height // 8 // patch) * (width // 8 // patch)
        kwargs["mu"] = calculate_shift(
            sequence,
            copy.config.get("base_image_seq_len", 256),
            copy.config.get("max_image_seq_len", 4096),
            copy.config.get("base_shift", 0.5),
            copy.config.get("max_shift", 1.16),
        )
    copy.set_timesteps(num_steps, device="cpu", **kwargs)
    return Schedule(copy.timesteps.float(), copy.sigmas.float())


def caption_tokens(adapter: UAEAdapter, captions: Sequence[str]) -> torch.Tensor:
    """Length of each caption in encoder tokens (the paper's caption-length curve)."""
    tokenizer = adapter.encoder.processor.tokenizer
    return torch.tensor([len(tokenizer.encode(text, add_special_tokens=False)) for text in captions]).float()


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def reward_metrics(context: StageContext, rewards: Sequence[RewardBatch]) -> dict[str, float]:
    """Mean and std of the step's rewards over every process, and each scorer's mean."""
    if not rewards:
        return {}
    total = context.gather(torch.cat([batch.total for batch in rewards]))
    metrics = {"reward_mean": float(total.mean()), "reward_std": float(total.std(correction=0))}
    # The spread inside a group is what GRPO learns from (the batch spread is mostly image identity).
    group_std = context.gather(torch.stack([batch.total.std(correction=0) for batch in rewards]))
    metrics["reward_group_std"] = float(group_std.mean())
    for name in rewards[0].per_scorer:
        column = context.gather(torch.cat([batch.per_scorer[name] for batch in rewards]))
        metrics[f"reward_{name}"] = float(column.mean())
    return metrics


def step_advantages(context: StageContext, groups: Sequence[ScoredGroup]) -> list[Advantages]:
    """Each group's advantages from the rewards of the whole step.

    ``advantage_scale="batch"`` divides by the std of every reward of the step, gathered from all
    processes; ``advantage_std`` picks the population or Bessel-corrected std.
    """
    config = context.config
    rewards = torch.cat([group.rewards.total for group in groups if group.rewards is not None])
    everything = context.gather(rewards) if config.advantage_scale == "batch" else None
    advantages = group_advantages(
        rewards,
        config.group_size,
        eps=config.advantage_eps,
        scale=config.advantage_scale,
        correction=STD_CORRECTION[config.advantage_std],
        batch_rewards=everything,
    )
    size = config.group_size
    return [
        Advantages(advantages.values[start : start + size], advantages.zero_std[start : start + size])
        for start in range(0, rewards.numel(), size)
    ]


def grpo_step(
    context: StageContext,
    items: list[StepItem],
    *,
    rollout: Callable[[StepItem], G],
    score: Callable[[list[G]], None],
    accumulate: Callable[[list[G], RunningMean], None],
    caption_lengths: Callable[[list[G]], torch.Tensor],
) -> dict[str, float]:
    """One GRPO round: roll out a group per item, score it, then ``num_inner_epochs`` passes over
    the groups, each split into ``minibatches`` (whole groups, in item order): per minibatch,
    ``accumulate`` (the backward passes) and an optimizer step. Every update after the first is
    off-policy (the ratio to the rollout policy leaves 1), which is what lets the PPO clip act.

    The metrics: the last optimizer step's, the running means ``accumulate`` recorded, the reward
    summary, the mean caption length (``caption_lengths``, one value per caption), the fraction of
    zero-variance rollouts and the throughput, every one over all processes.
    """
    config = context.config
    started = time.perf_counter()
    groups = [rollout(item) for item in items]
    score(groups)
    samples = len(groups) * config.group_size
    running = RunningMean()
    metrics: dict[str, float] = {}
    if len(groups) % config.minibatches:
        raise InputError(
            f"minibatches={config.minibatches}: this process holds {len(groups)} images of the step; "
            "use a minibatches that divides images_per_step / processes."
        )
    for _ in range(config.num_inner_epochs):
        for minibatch in chunks(groups, len(groups) // config.minibatches):
            accumulate(minibatch, running)
            metrics = context.optimizer_step()
    metrics.update(running.means(context))
    metrics.update(reward_metrics(context, [group.rewards for group in groups if group.rewards is not None]))
    metrics["caption_tokens"] = float(context.gather(caption_lengths(groups)).mean())
    zero = torch.cat([group.advantages.zero_std.float() for group in groups if group.advantages is not None])
    metrics["zero_std_fraction"] = float(context.gather(zero).mean())
    elapsed = time.perf_counter() - started
    metrics["samples_per_s"] = context.sum(samples / elapsed) if elapsed > 0 else 0.0
    return metrics


class GroupStage(Generic[G]):
    """A GRPO stage (g4u, u4g): a group of rollouts per item, scored, then ``grpo_step``'s update.

    A stage says how to roll out one item, score the step's groups, accumulate the gradient and
    measure the captions; ``run_step`` is the same for every such stage.
    """

    context: StageContext

    def rollout(self, item: StepItem, step: int) -> G:
        raise NotImplementedError

    def score(self, groups: list[G]) -> None:
        raise NotImplementedError

    def accumulate(self, groups: list[G], running: RunningMean) -> None:
        raise NotImplementedError

    def caption_lengths(self, groups: list[G]) -> torch.Tensor:
        raise NotImplementedError

    def run_step(self, step: int, items: list[StepItem]) -> dict[str, float]:
        return grpo_step(
            self.context,
            items,
            rollout=lambda item: self.rollout(item, step),
            score=self.score,
            accumulate=self.accumulate,
            caption_lengths=self.caption_lengths,
        )
