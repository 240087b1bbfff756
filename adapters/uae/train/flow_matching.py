"""SD3's flow-matching training objective (the decoder SFT stage), as diffusers' SD3 scripts compute it.

A clean latent ``x0`` and noise ``ε`` are mixed at a sampled ``σ``: ``x_σ = (1 - σ) x0 + σ ε``; the
transformer predicts the velocity ``v = ε - x0``; loss = mean of ``w(σ) · (v̂ - v)²``. ``σ`` is drawn
through ``u`` from diffusers' ``compute_density_for_timestep_sampling`` (logit-normal by default)
and mapped onto the (shifted) 1000-step training schedule; ``w`` is
``compute_loss_weighting_for_sd3`` (1 for ``logit_normal``). With ``precondition_outputs`` the
prediction is turned into an ``x0`` estimate ``x_σ - σ v̂`` and compared with ``x0`` (an option of
diffusers' DreamBooth SD3 script).

Each sample draws ``u`` from its own generator, so a sample's loss does not depend on its batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.training_utils import compute_density_for_timestep_sampling, compute_loss_weighting_for_sd3

from .config import WEIGHTING_SCHEMES

__all__ = [
    "WEIGHTING_SCHEMES",
    "flow_matching_loss",
    "noisy_latents",
    "sample_timesteps",
    "training_scheduler",
]


def training_scheduler(
    inference_scheduler: FlowMatchEulerDiscreteScheduler,
) -> FlowMatchEulerDiscreteScheduler:
    """A fresh copy of the scheduler at its full training schedule (``num_train_timesteps`` steps)."""
    return FlowMatchEulerDiscreteScheduler.from_config(inference_scheduler.config)


def sample_timesteps(
    scheduler: FlowMatchEulerDiscreteScheduler,
    generators: Sequence[torch.Generator],
    *,
    weighting_scheme: str = "logit_normal",
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
    mode_scale: float = 1.29,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One ``(sigma, timestep)`` per generator from the training schedule: ``([B], [B])``."""
    u = torch.cat(
        [
            compute_density_for_timestep_sampling(
                weighting_scheme=weighting_scheme,
                batch_size=1,
                logit_mean=logit_mean,
                logit_std=logit_std,
                mode_scale=mode_scale,
                generator=generator,
            )
            for generator in generators
        ]
    )
    num_train = scheduler.config.num_train_timesteps
    indices = (u * num_train).long().clamp(max=num_train - 1)
    return scheduler.sigmas[indices].float(), scheduler.timesteps[indices].float()


def noisy_latents(latents: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """``(1 - σ) x0 + σ ε`` with one ``σ`` per sample."""
    sigma = sigmas.view(-1, *([1] * (latents.dim() - 1))).to(latents)
    return (1 - sigma) * latents + sigma * noise


def flow_matching_loss(
    prediction: torch.Tensor,
    latents: torch.Tensor,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    weighting_scheme: str = "logit_normal",
    precondition_outputs: bool = False,
) -> torch.Tensor:
    """Per-sample SD3 loss ``mean_CHW(w(σ) · (prediction' - target)²)``, shape ``[B]`` (float32)."""
    sigma = sigmas.view(-1, *([1] * (latents.dim() - 1))).float().to(latents.device)
    prediction, latents, noise = prediction.float(), latents.float(), noise.float()
    if precondition_outputs:
        prediction = noisy_latents(latents, noise, sigmas.float()) - sigma * prediction
        target = latents
    else:
        target = noise - latents
    weighting = compute_loss_weighting_for_sd3(weighting_scheme, sigma)
    dims = tuple(range(1, latents.dim()))
    return (weighting * (prediction - target) ** 2).mean(dim=dims)
