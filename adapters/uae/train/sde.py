"""Flow-GRPO's stochastic sampling step for rectified flow, with the log-density of the step taken.

The Euler ODE step of ``FlowMatchEulerDiscreteScheduler`` is ``x' = x + (σ' - σ) v``. Flow-GRPO
(arXiv 2505.05470) turns it into an SDE with the same marginals, so that each step is a Gaussian
``x' ~ N(μ, s²)`` whose log-density a policy gradient can use:

    std_t = a · sqrt(σ / (1 - σ̃))         σ̃ = sigmas[1] where σ = 1 (avoids 1/0), else σ
    μ     = x + Δ · [v + std_t² / (2σ) · (x + (1 - σ) v)]         Δ = σ' - σ < 0
    s     = std_t · sqrt(-Δ)
    log p = mean over C, H, W of  -(x' - μ)² / (2 s²) - log s - log sqrt(2π)

``a`` is the noise level; ``a = 0`` gives back the Euler step (the log-density of a deterministic
step is undefined and returned as NaN). Everything is computed in float32: bf16 overflows here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class SDEStep:
    """One step: the next latent, its log-density (mean over non-batch dims), the mean and ``std_t``.

    ``std_dev_t`` excludes ``sqrt(-Δ)``, as in Flow-GRPO (its KL term divides by ``2 std_t²``).
    """

    prev_sample: torch.Tensor
    log_prob: torch.Tensor
    mean: torch.Tensor
    std_dev_t: torch.Tensor


def _per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``[B]`` or scalar -> shape ``[B, 1, 1, ...]`` broadcastable against ``like``."""
    values = values.to(dtype=torch.float32, device=like.device)
    if values.dim() == 0:
        values = values.expand(like.shape[0])
    return values.view(-1, *([1] * (like.dim() - 1)))


def sde_step_with_logprob(
    velocity: torch.Tensor,
    sample: torch.Tensor,
    sigmas: torch.Tensor,
    step_index: int | torch.Tensor,
    *,
    noise_level: float,
    noise: torch.Tensor | None = None,
    prev_sample: torch.Tensor | None = None,
) -> SDEStep:
    """Take (or score) one SDE step from ``sample`` at ``sigmas[step_index]`` to ``sigmas[step_index + 1]``.

    Args:
        velocity: the model's prediction ``v`` (after classifier-free guidance), ``[B, C, H, W]``.
        sample: the current latent ``x``.
        sigmas: the scheduler's sigma schedule (``scheduler.sigmas``: ``num_steps + 1`` values, last 0).
        step_index: the step, one for the batch or one per sample (``[B]``).
        noise_level: Flow-GRPO's ``a``; 0 is the deterministic Euler step.
        noise: ``ε`` for drawing ``x'`` (standard normal, shape of ``sample``); required unless
            ``prev_sample`` is given or ``noise_level`` is 0.
        prev_sample: score this ``x'`` instead of drawing one (the training pass).

    Returns:
        ``SDEStep`` with ``log_prob`` of shape ``[B]``.
    """
    sample = sample.float()
    velocity = velocity.float()
    sigmas = sigmas.float().to(sample.device)
    index = torch.as_tensor(step_index, device=sample.device)
    sigma = _per_sample(sigmas[index], sample)
    sigma_next = _per_sample(sigmas[index + 1], sample)
    delta = sigma_next - sigma
    sigma_for_noise = torch.where(sigma == 1, sigmas[1], sigma)
    std_dev_t = noise_level * torch.sqrt(sigma / (1 - sigma_for_noise))
    correction = std_dev_t**2 / (2 * sigma) * (sample + (1 - sigma) * velocity)
    mean = sample + delta * (velocity + correction)
    scale = std_dev_t * torch.sqrt(-delta)
    dims = tuple(range(1, sample.dim()))
    if noise_level == 0:
        next_sample = mean if prev_sample is None else prev_sample.float()
        log_prob = torch.full((sample.shape[0],), float("nan"), device=sample.device)
        return SDEStep(next_sample, log_prob, mean, std_dev_t)
    if prev_sample is None:
        if noise is None:
            raise ValueError("pass `noise` (standard normal) to draw a step, or `prev_sample` to score one")
        prev_sample = mean + scale * noise.float()
    else:
        prev_sample = prev_sample.float()
    log_density = -((prev_sample.detach() - mean) ** 2) / (2 * scale**2) - torch.log(scale) - _LOG_SQRT_2PI
    return SDEStep(prev_sample, log_density.mean(dim=dims), mean, std_dev_t)


def mean_kl(mean: torch.Tensor, reference_mean: torch.Tensor, std_dev_t: torch.Tensor) -> torch.Tensor:
    """Flow-GRPO's per-sample KL of two steps with equal variance: ``mean_CHW((μ - μ_ref)²) / (2 std_t²)``."""
    dims = tuple(range(1, mean.dim()))
    squared = ((mean.float() - reference_mean.float()) ** 2).mean(dim=dims)
    return squared / (2 * std_dev_t.float().view(-1) ** 2)
