"""Edges of the Unified-GRPO maths that mutation testing found untested: shapes, the deterministic step,
per-sample KL, messages. Known answers only; the formulas themselves are checked in test_train_maths.py."""

from __future__ import annotations

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from unified_bench_adapters.uae.train.grpo import aggregate_token_loss, group_advantages, token_log_probs
from unified_bench_adapters.uae.train.sde import mean_kl, sde_step_with_logprob

BATCH, CHANNELS = 2, 3  # distinct, so a batch axis and a channel axis cannot be confused


def sigmas(steps: int = 4) -> torch.Tensor:
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    scheduler.set_timesteps(steps)
    return scheduler.sigmas


def latent(seed: int) -> torch.Tensor:
    return torch.randn(BATCH, CHANNELS, 5, 5, generator=torch.Generator().manual_seed(seed))


def test_a_scalar_step_index_gives_one_std_per_sample():
    step = sde_step_with_logprob(latent(1), latent(0), sigmas(), 1, noise_level=0.7, noise=latent(2))
    assert step.std_dev_t.shape == (BATCH, 1, 1, 1)
    assert step.log_prob.shape == (BATCH,)
    per_sample = sde_step_with_logprob(
        latent(1), latent(0), sigmas(), torch.tensor([1, 1]), noise_level=0.7, noise=latent(2)
    )
    assert per_sample.std_dev_t.shape == (BATCH, 1, 1, 1)
    torch.testing.assert_close(per_sample.prev_sample, step.prev_sample)


def test_the_deterministic_step_returns_the_euler_mean_a_zero_std_and_nan_log_probs():
    x, v, schedule = latent(0), latent(1), sigmas()
    step = sde_step_with_logprob(v, x, schedule, 1, noise_level=0.0)
    euler = x + (schedule[2] - schedule[1]) * v
    torch.testing.assert_close(step.mean, euler)
    torch.testing.assert_close(step.prev_sample, euler)
    assert step.std_dev_t.shape == (BATCH, 1, 1, 1) and bool((step.std_dev_t == 0).all())
    assert step.log_prob.shape == (BATCH,) and bool(step.log_prob.isnan().all())


def test_the_deterministic_step_keeps_a_given_next_sample():
    given = latent(5)
    step = sde_step_with_logprob(latent(1), latent(0), sigmas(), 1, noise_level=0.0, prev_sample=given)
    torch.testing.assert_close(step.prev_sample, given)


def test_drawing_a_step_without_noise_says_what_to_pass():
    with pytest.raises(ValueError, match=r"^pass `noise` \(standard normal\) to draw a step"):
        sde_step_with_logprob(latent(1), latent(0), sigmas(), 1, noise_level=0.5)


def test_mean_kl_is_per_sample():
    reference = torch.zeros(BATCH, CHANNELS, 2, 2)
    mean = reference.clone()
    mean[1] = 2.0  # sample 0 equals its reference, sample 1 is 2 away everywhere
    std = torch.tensor([0.5, 0.5]).view(-1, 1, 1, 1)
    # mean over C, H, W of the squared gap, over 2 std²: 0 and 4 / 0.5
    torch.testing.assert_close(mean_kl(mean, reference, std), torch.tensor([0.0, 8.0]))


# --- GRPO ----------------------------------------------------------------------------------------


def test_advantages_divide_by_the_std_plus_a_small_default_eps():
    # rewards 1 and 3: mean 2, population std 1, so ±1 / (1 + 1e-4)
    values = group_advantages(torch.tensor([1.0, 3.0]), 2).values
    torch.testing.assert_close(values, torch.tensor([-1.0, 1.0]) / (1 + 1e-4))


def test_batch_scaled_advantages_add_eps_to_the_batch_std():
    rewards = torch.tensor([0.0, 2.0, 0.0, 2.0])  # batch std 1
    values = group_advantages(rewards, 2, scale="batch", eps=0.5).values
    torch.testing.assert_close(values, torch.tensor([-1.0, 1.0, -1.0, 1.0]) / 1.5)


def test_unknown_modes_are_named_in_the_error():
    with pytest.raises(ValueError, match=r"scale must be one of .*got 'median'"):
        group_advantages(torch.tensor([1.0, 2.0]), 2, scale="median")
    with pytest.raises(ValueError, match=r"mode must be one of .*got 'sum'"):
        aggregate_token_loss(torch.ones(1, 2), torch.ones(1, 2), "sum", max_completion_length=2)


def test_token_log_probs_default_to_temperature_one():
    logits = torch.randn(1, 2, 5, generator=torch.Generator().manual_seed(0))
    tokens = torch.tensor([[3, 0]])
    expected = torch.log_softmax(logits, dim=-1)[0, [0, 1], [3, 0]].unsqueeze(0)
    torch.testing.assert_close(token_log_probs(logits, tokens), expected)


def test_a_one_token_completion_keeps_its_loss_and_an_empty_one_gives_zero():
    per_token = torch.tensor([[5.0, 7.0], [3.0, 4.0]])
    mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert aggregate_token_loss(per_token, mask, "grpo", max_completion_length=2).tolist() == [5.0, 0.0]
