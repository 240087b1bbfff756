"""Stage ``sft``: decoder pre-training on long captions with SD3's flow-matching loss.

The caption, wrapped in the ``generate`` role, goes through the frozen Qwen; its last hidden states
of every token, through the (trainable) projector, condition the (trainable) DiT, exactly as
inference conditions it (``project_pair``: padded to the negative prompt's length only, never to a
neighbour's in the micro-batch). With probability
``caption_dropout`` the negative prompt replaces the caption, so guidance keeps working.
"""

from __future__ import annotations

import time

import torch

from ...encoder import UAEEncoder
from ..config import SFTConfig
from ..data import StepItem, generator, pick_caption, square_image
from ..flow_matching import flow_matching_loss, noisy_latents, sample_timesteps, training_scheduler
from ..policy import UAEPolicy
from ..runtime import RunningMean, StageContext
from .common import caption_tokens, chunks


def configure(policy: UAEPolicy, config: SFTConfig) -> None:
    if config.dit_training == "full":
        policy.train_decoder_fully()
    else:
        policy.train_decoder_lora(
            rank=config.lora_rank, alpha=config.lora_alpha, targets=tuple(config.dit_lora_targets)
        )
    if config.train_projector:
        policy.train_projector()


def predict_velocity(
    policy: UAEPolicy,
    *,
    prompt_ids: list[torch.Tensor],
    noisy: torch.Tensor,
    timesteps: torch.Tensor,
) -> torch.Tensor:
    """The transformer's velocity for noisy latents, each sample conditioned on its own prompt.

    ``prompt_ids[i]`` ``[L_i]`` are sample ``i``'s ``generate``-role ids as ``project_pair`` builds
    them (padded to the negative prompt's length only): SD3 has no text mask, so samples of different
    lengths go through the transformer one at a time, and no neighbour's padding reaches SD3.
    """
    velocities = []
    for row, ids in enumerate(prompt_ids):
        ids = ids.unsqueeze(0)
        prompt = policy.prompt_embeddings(ids, ids.ne(policy.adapter.encoder.pad_token_id).long())
        velocities.append(policy.velocity(noisy[row : row + 1], timesteps[row : row + 1], prompt, None, 1.0))
    return torch.cat(velocities)


def prompt_ids(encoder: UAEEncoder, caption: str) -> torch.Tensor:
    """``generate``-role ids of ``caption`` exactly as inference conditions on them (``project_pair``:
    right-padded to the negative prompt's length when shorter, otherwise its own tokens): ``[L]``."""
    return encoder.generate_role_ids([encoder.config.negative_prompt, caption])[1]


class SFTStage:
    def __init__(self, context: StageContext) -> None:
        self.context = context
        self.config: SFTConfig = context.config  # type: ignore[assignment]
        self.scheduler = training_scheduler(context.adapter.decoder.pipeline.scheduler)

    def caption_for(self, item: StepItem, step: int) -> str:
        config = self.config
        dropout = torch.rand(1, generator=generator(config.seed, "sft-dropout", item.position)).item()
        if dropout < config.caption_dropout:
            return self.context.adapter.config.negative_prompt
        return pick_caption(item.sample, config.seed, item.position, "sft")

    def run_step(self, step: int, items: list[StepItem]) -> dict[str, float]:
        context, config, policy = self.context, self.config, self.context.policy
        started = time.perf_counter()
        encoder = context.adapter.encoder
        running = RunningMean()
        batches = chunks(items, config.micro_batch_size)
        for index, batch in enumerate(batches):
            captions = [self.caption_for(item, step) for item in batch]
            pixels = torch.stack([square_image(item.sample.image, config.resolution) for item in batch])
            with torch.no_grad():
                latents = policy.encode(
                    pixels.to(context.device),
                    [generator(config.seed, "sft-posterior", item.position) for item in batch],
                )
            noise = torch.stack(
                [
                    torch.randn(
                        latents.shape[1:], generator=generator(config.seed, "sft-noise", item.position)
                    )
                    for item in batch
                ]
            ).to(latents)
            sigmas, timesteps = sample_timesteps(
                self.scheduler,
                [generator(config.seed, "sft-timestep", item.position) for item in batch],
                weighting_scheme=config.weighting_scheme,
                logit_mean=config.logit_mean,
                logit_std=config.logit_std,
                mode_scale=config.mode_scale,
            )
            sigmas, timesteps = sigmas.to(context.device), timesteps.to(context.device)
            with context.micro_step(last=index == len(batches) - 1):
                prediction = context.model(
                    predict_velocity,
                    prompt_ids=[prompt_ids(encoder, caption) for caption in captions],
                    noisy=noisy_latents(latents, noise, sigmas),
                    timesteps=timesteps,
                )
                per_sample = flow_matching_loss(
                    prediction,
                    latents,
                    noise,
                    sigmas,
                    weighting_scheme=config.weighting_scheme,
                    precondition_outputs=config.precondition_outputs,
                )
                context.backward(per_sample.sum() / len(items))
            running.add("loss", per_sample.detach(), count=len(batch))
            running.add("caption_tokens", caption_tokens(context.adapter, captions), count=len(batch))
        metrics = running.means(context)
        metrics.update(context.optimizer_step())
        elapsed = time.perf_counter() - started
        metrics["samples_per_s"] = context.sum(len(items) / elapsed) if elapsed > 0 else 0.0
        return metrics
