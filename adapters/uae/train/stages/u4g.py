"""Stage ``u4g`` (Understanding for Generation): Flow-GRPO on the decoder.

Per image: one caption from the frozen (stage-2) encoder, turned into prompt embeddings the way
``generate`` does it (role ``generate`` + projector, negative prompt padded alongside); ``G``
images sampled from it with the SDE step, recording every latent and each step's log-density;
rewards from the harness's scorers against the image; per-group z-scores clamped to
``±adv_clip_max``. Update, for every trained step ``j`` (the first ``int(steps x
timestep_fraction)``): re-score ``x_{j+1}`` under the current policy (same guidance as the
rollout), PPO-clip of the ratio, plus ``β`` times the KL of the step means to the reference (the
LoRA switched off), each step its own backward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..config import U4GConfig
from ..data import StepItem, derive_seed, generator, pick_caption, to_pil
from ..grpo import Advantages, ppo_clip_loss
from ..policy import UAEPolicy
from ..rewards import RewardBatch
from ..runtime import RunningMean, StageContext
from ..sde import mean_kl, sde_step_with_logprob
from .common import GroupStage, Schedule, caption_tokens, sampling_schedule, step_advantages


def configure(policy: UAEPolicy, config: U4GConfig) -> None:
    policy.train_decoder_lora(
        rank=config.lora_rank, alpha=config.lora_alpha, targets=tuple(config.dit_lora_targets)
    )


def guided_velocity(
    policy: UAEPolicy,
    *,
    latents: torch.Tensor,
    timestep: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor | None,
    guidance_scale: float,
    with_reference: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Velocity under the policy and, optionally, under the reference (LoRA off, no gradients).

    The policy's unconditional branch is detached, as in Flow-GRPO: the gradient is the
    conditional branch's, ``g ∂cond``.
    """
    reference = None
    if with_reference:
        with torch.no_grad(), policy.reference():
            reference = policy.velocity(latents, timestep, positive, negative, guidance_scale)
    policy_velocity = policy.velocity(
        latents, timestep, positive, negative, guidance_scale, detach_uncond=True
    )
    return policy_velocity, reference


def sde_trajectory(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    sample: torch.Tensor,
    schedule: Schedule,
    *,
    noise_level: float,
    noise: Callable[[int], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Flow-GRPO sampler: every latent ``[B, S+1, ...]`` and every step's log-density ``[B, S]``.

    ``velocity(latents, timestep)`` is the guided model output; ``noise(step)`` the step's standard
    normal draws (per-sample seeded by the caller).
    """
    trajectory, log_probs = [sample], []
    for index, timestep in enumerate(schedule.timesteps):
        result = sde_step_with_logprob(
            velocity(sample, timestep),
            sample,
            schedule.sigmas,
            index,
            noise_level=noise_level,
            noise=noise(index).to(sample),
        )
        sample = result.prev_sample
        trajectory.append(sample)
        log_probs.append(result.log_prob)
    return torch.stack(trajectory, dim=1), torch.stack(log_probs, dim=1)


@dataclass
class ImageGroup:
    """One caption's G trajectories: latents ``[G, S+1, ...]``, step log-probs ``[G, S]``, rewards."""

    item: StepItem
    caption: str
    positive: torch.Tensor  # [G, L, D]
    negative: torch.Tensor  # [G, L, D]
    latents: torch.Tensor
    log_probs: torch.Tensor
    images: torch.Tensor
    rewards: RewardBatch | None = None
    advantages: Advantages | None = None


class U4GStage(GroupStage[ImageGroup]):
    def __init__(self, context: StageContext) -> None:
        self.context = context
        self.config: U4GConfig = context.config  # type: ignore[assignment]
        self.schedule: Schedule = sampling_schedule(
            context.adapter.decoder.pipeline.scheduler,
            self.config.num_inference_steps,
            width=self.config.resolution,
            height=self.config.resolution,
        )
        self.trained_steps = int(self.config.num_inference_steps * self.config.timestep_fraction)

    @property
    def training_guidance(self) -> float:
        return self.config.guidance_scale if self.config.cfg_in_training else 1.0

    def caption_for(self, item: StepItem, step: int) -> str:
        config = self.config
        if config.caption_source == "dataset":
            return pick_caption(item.sample, config.seed, item.position, "u4g")
        seed = derive_seed(config.seed, "u4g-caption", step, item.position)
        return self.context.adapter.caption([item.sample.image], seeds=[seed])[0]

    # --- rollouts -----------------------------------------------------------------------------

    @torch.no_grad()
    def rollout(
        self, item: StepItem, step: int, *, caption: str | None = None, noise_level: float | None = None
    ) -> ImageGroup:
        """G SDE trajectories from one caption; per-sample seeds for the start noise and every step."""
        context, config = self.context, self.config
        caption = caption if caption is not None else self.caption_for(item, step)
        noise_level = config.noise_level if noise_level is None else noise_level
        group = config.group_size
        negative, positive = context.adapter.encoder.project_pair(caption)
        positive = positive.clone().unsqueeze(0).expand(group, -1, -1)
        negative = negative.clone().unsqueeze(0).expand(group, -1, -1)
        seeds = [
            derive_seed(config.seed, "u4g-latent", step, item.position, 0 if config.same_latent else member)
            for member in range(group)
        ]
        sample = context.adapter.decoder.initial_latents(seeds, config.resolution, config.resolution).float()

        def velocity(latents: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
            return context.model(
                guided_velocity,
                latents=latents,
                timestep=timestep.to(context.device),
                positive=positive,
                negative=negative,
                guidance_scale=config.guidance_scale,
            )[0]

        def noise(index: int) -> torch.Tensor:
            return torch.stack(
                [
                    torch.randn(
                        sample.shape[1:],
                        generator=generator(config.seed, "u4g-sde", step, item.position, m, index),
                    )
                    for m in range(group)
                ]
            )

        latents, log_probs = sde_trajectory(
            velocity, sample, self.schedule, noise_level=noise_level, noise=noise
        )
        sample = latents[:, -1]
        images = context.policy.decode(sample)
        return ImageGroup(
            item=item,
            caption=caption,
            positive=positive,
            negative=negative,
            latents=latents,
            log_probs=log_probs,
            images=images,
        )

    def score(self, groups: list[ImageGroup]) -> None:
        """Rewards from the harness's scorers, then the step's advantages (clamped to ``±adv_clip_max``)."""
        config = self.config
        for group in groups:
            group.rewards = self.context.reward.score(
                [group.item.sample] * config.group_size, to_pil(group.images)
            )
        for group, advantages in zip(groups, step_advantages(self.context, groups), strict=True):
            clamped = advantages.values.clamp(-config.adv_clip_max, config.adv_clip_max)
            group.advantages = Advantages(clamped, advantages.zero_std)

    # --- update -------------------------------------------------------------------------------

    def accumulate(self, groups: list[ImageGroup], running: RunningMean) -> None:
        """One backward pass per (micro-batch, trained step): the gradient of the step's loss.

        The loss is the mean over the samples that train (zero-variance groups carry weight 0 and
        are left out of the count, as Flow-GRPO drops them) and over the trained steps, across
        every process.
        """
        context, config = self.context, self.config
        micro = config.micro_batch_size
        passes = [
            (group, slice(start, start + micro), index)
            for group in groups
            for start in range(0, config.group_size, micro)
            for index in range(self.trained_steps)
        ]
        weights = torch.cat([group.advantages.sample_weights for group in groups if group.advantages])
        # Each process divides by the global count over the process count: DDP averages gradients.
        trained = context.sum(float(weights.sum())) / context.accelerator.num_processes
        normaliser = max(trained, 1e-8) * self.trained_steps
        for number, (group, rows, index) in enumerate(passes):
            with context.micro_step(last=number == len(passes) - 1):
                per_sample = self.step_losses(group, rows, index, running)
                context.backward(per_sample.sum() / normaliser)
            running.add("loss", per_sample.detach().mean())

    def step_losses(self, group: ImageGroup, rows: slice, index: int, running: RunningMean) -> torch.Tensor:
        """Per-sample loss of trained step ``index`` for rows ``rows`` of a group (masked groups give 0)."""
        config = self.config
        assert group.advantages is not None
        latents = group.latents[rows, index]
        velocity, reference = self.context.model(
            guided_velocity,
            latents=latents,
            timestep=self.schedule.timesteps[index].to(latents.device),
            positive=group.positive[rows],
            negative=group.negative[rows],
            guidance_scale=self.training_guidance,
            with_reference=config.kl_beta > 0,
        )
        next_latents = group.latents[rows, index + 1]
        result = sde_step_with_logprob(
            velocity,
            latents,
            self.schedule.sigmas,
            index,
            noise_level=config.noise_level,
            prev_sample=next_latents,
        )
        objective = ppo_clip_loss(
            result.log_prob,
            group.log_probs[rows, index],
            group.advantages.values[rows],
            clip_low=config.clip_range,
        )
        loss = objective.loss
        if reference is not None:
            reference_mean = sde_step_with_logprob(
                reference,
                latents,
                self.schedule.sigmas,
                index,
                noise_level=config.noise_level,
                prev_sample=next_latents,
            ).mean
            kl = mean_kl(result.mean, reference_mean, result.std_dev_t)
            loss = loss + config.kl_beta * kl
            running.add("kl", kl.detach())
        running.add("clip_fraction", objective.clipped.float())
        running.add("ratio_mean", objective.ratio.detach())
        running.add("ratio_max_deviation", (objective.ratio.detach() - 1).abs().max())
        return loss * group.advantages.sample_weights[rows]

    def caption_lengths(self, groups: list[ImageGroup]) -> torch.Tensor:
        """Encoder tokens of each group's caption."""
        return caption_tokens(self.context.adapter, [group.caption for group in groups])
