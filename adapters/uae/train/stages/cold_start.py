"""Stage ``cold-start``: semantic reconstruction loss with gradients through the whole sampler.

As UAE's ``modeling_longcontext_rec.py`` does: Qwen reads the image, the instruction and the
caption; the projected states of the caption tokens (which attended to the image) are the
decoder's prompt embeddings, the negative prompt's the unconditional ones; the decoder samples
``num_inference_steps`` Euler steps with guidance, every step differentiable (recomputed in the
backward pass with ``gradient_checkpointing``); the loss is ``Σ_s w_s (1 - cos)`` between the
scorers' embeddings of the reconstruction and of the image (frozen scorers, CLIP-L/14 by default).
"""

from __future__ import annotations

import time

import torch
from PIL import Image
from torch.utils.checkpoint import checkpoint

from ..config import ColdStartConfig
from ..data import StepItem, derive_seed, pick_caption
from ..policy import UAEPolicy
from ..runtime import RunningMean, StageContext
from .common import Schedule, caption_tokens, sampling_schedule


def configure(policy: UAEPolicy, config: ColdStartConfig) -> None:
    policy.train_encoder_lora(rank=config.lora_rank, alpha=config.lora_alpha)
    if config.train_projector:
        policy.train_projector()
    if config.train_decoder_lora:
        policy.train_decoder_lora(
            rank=config.lora_rank, alpha=config.lora_alpha, targets=tuple(config.dit_lora_targets)
        )


def reconstruct(
    policy: UAEPolicy,
    *,
    image: Image.Image,
    caption: str,
    latents: torch.Tensor,
    schedule: Schedule,
    guidance_scale: float,
    recompute: bool,
) -> torch.Tensor:
    """Native conditioning -> Euler sampling -> VAE decode, all differentiable: ``[1, 3, H, W]``.

    The conditioning is the ``native`` protocol's (caption-token states with the image in context,
    the negative prompt padded to the same length), so training reconstructs as inference does.
    """
    negative, positive = (embedding.unsqueeze(0) for embedding in policy.native_embeddings(image, caption))
    sigmas = schedule.sigmas.to(latents.device)

    def euler_step(sample: torch.Tensor, index: int) -> torch.Tensor:
        timestep = schedule.timesteps[index].to(sample.device)
        velocity = policy.velocity(sample, timestep, positive, negative, guidance_scale)
        return sample + (sigmas[index + 1] - sigmas[index]) * velocity

    sample = latents
    for index in range(len(schedule.timesteps)):
        if recompute:
            sample = checkpoint(euler_step, sample, index, use_reentrant=False)
        else:
            sample = euler_step(sample, index)
    return policy.decode(sample)


class ColdStartStage:
    def __init__(self, context: StageContext) -> None:
        self.context = context
        self.config: ColdStartConfig = context.config  # type: ignore[assignment]
        self.schedule = sampling_schedule(
            context.adapter.decoder.pipeline.scheduler,
            self.config.num_inference_steps,
            width=self.config.resolution,
            height=self.config.resolution,
        )

    def caption_for(self, item: StepItem) -> str:
        config = self.config
        if config.caption_source == "dataset":
            return pick_caption(item.sample, config.seed, item.position, "cold-start")
        seed = derive_seed(config.seed, "cold-start-caption", item.position)
        return self.context.adapter.caption([item.sample.image], seeds=[seed])[0]

    def run_step(self, step: int, items: list[StepItem]) -> dict[str, float]:
        context, config, adapter = self.context, self.config, self.context.adapter
        assert context.reward is not None
        started = time.perf_counter()
        running = RunningMean()
        for index, item in enumerate(items):
            caption = self.caption_for(item)
            seed = derive_seed(config.seed, "cold-start-latent", item.position)
            latents = adapter.decoder.initial_latents([seed], config.resolution, config.resolution).float()
            with context.micro_step(last=index == len(items) - 1):
                images = context.model(
                    reconstruct,
                    image=item.sample.image,
                    caption=caption,
                    latents=latents,
                    schedule=self.schedule,
                    guidance_scale=config.guidance_scale,
                    recompute=config.gradient_checkpointing,
                )
                similarity = context.reward.similarity([item.sample], images)
                loss = context.reward.total_weight() - similarity
                context.backward(loss.sum() / len(items))
            running.add("loss", loss.detach())
            running.add("similarity", similarity.detach())
            running.add("caption_tokens", caption_tokens(adapter, [caption]))
        metrics = running.means(context)
        metrics.update(context.optimizer_step())
        elapsed = time.perf_counter() - started
        metrics["samples_per_s"] = context.sum(len(items) / elapsed) if elapsed > 0 else 0.0
        return metrics
