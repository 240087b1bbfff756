"""GRPO's maths as pure functions: group advantages, the PPO-clip objective, KL estimators, token log-probs.

Shared by both RL stages: Generation-for-Understanding (token-level GRPO on the encoder, R1-V/TRL
style) and Understanding-for-Generation (Flow-GRPO on the decoder, one "token" per denoising step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SCALE_MODES = ("group", "batch", "none")
AGGREGATIONS = ("grpo", "dr_grpo", "token_mean")


@dataclass(frozen=True)
class Advantages:
    """Per-sample advantages and the mask of samples whose group had identical rewards."""

    values: torch.Tensor
    zero_std: torch.Tensor

    @property
    def sample_weights(self) -> torch.Tensor:
        """1 for samples that train, 0 for zero-variance groups (they carry no gradient, KL included)."""
        return (~self.zero_std).float()


def group_advantages(
    rewards: torch.Tensor,
    group_size: int,
    *,
    eps: float = 1e-4,
    scale: str = "group",
    correction: int = 0,
    batch_rewards: torch.Tensor | None = None,
) -> Advantages:
    """Per-group z-scores ``(r - mean_g) / (std_g + eps)`` of rewards laid out group after group.

    ``correction`` is the std's degrees-of-freedom correction: 0 is the population std
    (Flow-GRPO's ``np.std``), 1 Bessel's (TRL's ``torch.std``; x1.069 smaller at G = 8).
    ``scale="batch"`` divides by the std of the whole step's rewards instead (Flow-GRPO's
    ``global_std``, TRL's ``scale_rewards="batch"``): ``batch_rewards`` are those rewards, gathered
    from every process (default: ``rewards`` themselves). ``"none"`` only centres (Dr. GRPO).
    Groups whose rewards are all equal get advantage exactly 0 and are flagged.

    >>> group_advantages(torch.tensor([1.0, 3.0, 2.0, 2.0]), 2).values
    tensor([-0.9999,  0.9999,  0.0000,  0.0000])
    """
    if scale not in SCALE_MODES:
        raise ValueError(f"scale must be one of {SCALE_MODES}, got {scale!r}")
    if rewards.dim() != 1 or rewards.numel() % group_size:
        raise ValueError(
            f"expected a flat tensor of whole groups of {group_size}, got {tuple(rewards.shape)}"
        )
    grouped = rewards.float().view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale == "group":
        centred = centred / (grouped.std(dim=1, correction=correction, keepdim=True) + eps)
    elif scale == "batch":
        everything = rewards if batch_rewards is None else batch_rewards
        centred = centred / (everything.float().std(correction=correction) + eps)
    zero_std = (grouped.amax(dim=1) == grouped.amin(dim=1)).unsqueeze(1).expand_as(grouped)
    values = torch.where(zero_std, torch.zeros_like(centred), centred)
    return Advantages(values.reshape(-1), zero_std.reshape(-1))


@dataclass(frozen=True)
class ClippedObjective:
    """Elementwise PPO-clip loss (to minimise), the ratios and where the clip was active."""

    loss: torch.Tensor
    ratio: torch.Tensor
    clipped: torch.Tensor


def ppo_clip_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_low: float,
    clip_high: float | None = None,
) -> ClippedObjective:
    """``max(-A ρ, -A clip(ρ, 1 - ε_low, 1 + ε_high))`` with ``ρ = exp(log p - log p_old)``, elementwise.

    ``advantages`` broadcasts against ``log_prob`` (one per sample for per-token losses).
    ``clipped`` marks elements where the clipped term won (the gradient is zero there).
    """
    clip_high = clip_low if clip_high is None else clip_high
    ratio = torch.exp(log_prob - old_log_prob)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    return ClippedObjective(torch.maximum(unclipped, clipped), ratio, clipped > unclipped)


def k3_kl(log_prob: torch.Tensor, reference_log_prob: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(π‖π_ref): ``exp(r - p) - (r - p) - 1`` (non-negative, unbiased)."""
    difference = reference_log_prob - log_prob
    return torch.exp(difference) - difference - 1


def token_log_probs(
    logits: torch.Tensor,
    tokens: torch.Tensor,
    temperature: float = 1.0,
    banned_token_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """``log softmax(logits / T)`` at ``tokens``: ``[B, T, V]`` x ``[B, T]`` -> ``[B, T]`` (float32).

    ``banned_token_ids`` are excluded from the distribution (the sampler never draws them).
    """
    logits = logits.float() / temperature
    if banned_token_ids is not None and banned_token_ids.numel():
        logits = logits.index_fill(-1, banned_token_ids.to(logits.device), float("-inf"))
    log_probs = torch.log_softmax(logits, dim=-1)
    return log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def completion_mask(tokens: torch.Tensor, eos_token_ids: list[int]) -> torch.Tensor:
    """1 up to and including the first EOS of each row, 0 after it (generate pads finished rows)."""
    is_eos = torch.isin(tokens, torch.tensor(eos_token_ids, device=tokens.device))
    eos_seen_before = (is_eos.cumsum(dim=1) - is_eos.long()) > 0
    return (~eos_seen_before).float()


def aggregate_token_loss(
    per_token: torch.Tensor, mask: torch.Tensor, mode: str, *, max_completion_length: int
) -> torch.Tensor:
    """Per-sample loss from per-token values.

    ``grpo``: token mean per sequence (DeepSeekMath, R1-V); ``dr_grpo``: token sum divided by a
    constant ``max_completion_length``; ``token_mean``: the token sum, which the caller divides by
    the number of completion tokens in the whole (global) batch (DAPO).
    """
    total = (per_token * mask).sum(dim=1)
    if mode == "grpo":
        return total / mask.sum(dim=1).clamp(min=1)
    if mode == "dr_grpo":
        return total / max_completion_length
    if mode == "token_mean":
        return total
    raise ValueError(f"mode must be one of {AGGREGATIONS}, got {mode!r}")
