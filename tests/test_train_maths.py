"""Unified-GRPO maths as pure functions: Flow-GRPO SDE step, advantages, PPO-clip, KL, token log-probs."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from unified_bench_adapters.uae.train.grpo import (
    aggregate_token_loss,
    completion_mask,
    group_advantages,
    k3_kl,
    ppo_clip_loss,
    token_log_probs,
)
from unified_bench_adapters.uae.train.sde import mean_kl, sde_step_with_logprob


def schedule(steps: int = 6) -> FlowMatchEulerDiscreteScheduler:
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    scheduler.set_timesteps(steps)
    return scheduler


def latents(seed: int, batch: int = 3) -> torch.Tensor:
    return torch.randn(batch, 4, 6, 6, generator=torch.Generator().manual_seed(seed))


# --- the SDE step --------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 2, 5])
def test_sde_log_prob_equals_an_independent_gaussian_log_density(index):
    sigmas = schedule().sigmas
    x, v, noise = latents(0), latents(1), latents(2)
    a = 0.7
    step = sde_step_with_logprob(v, x, sigmas, index, noise_level=a, noise=noise)
    # Flow-GRPO's formulas, written out independently of the implementation.
    sigma, sigma_next = float(sigmas[index]), float(sigmas[index + 1])
    dt = sigma_next - sigma
    sigma_in_denominator = float(sigmas[1]) if sigma == 1 else sigma
    std_t = a * math.sqrt(sigma / (1 - sigma_in_denominator))
    mean = x * (1 + std_t**2 / (2 * sigma) * dt) + v * (1 + std_t**2 * (1 - sigma) / (2 * sigma)) * dt
    scale = std_t * math.sqrt(-dt)
    density = torch.distributions.Normal(mean.double(), scale).log_prob(step.prev_sample.double())
    expected = density.mean(dim=(1, 2, 3))
    torch.testing.assert_close(step.log_prob.double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(step.prev_sample, mean + scale * noise, rtol=1e-5, atol=1e-5)
    assert float(step.std_dev_t.flatten()[0]) == pytest.approx(std_t, rel=1e-5)


def test_noise_level_zero_reproduces_the_plain_euler_step():
    scheduler = schedule()
    x, v = latents(3), latents(4)
    for index, timestep in enumerate(scheduler.timesteps):
        scheduler._step_index = index
        euler = scheduler.step(v, timestep, x).prev_sample
        step = sde_step_with_logprob(v, x, scheduler.sigmas, index, noise_level=0.0)
        torch.testing.assert_close(step.prev_sample, euler, rtol=0, atol=1e-6)
        assert torch.isnan(step.log_prob).all()  # a deterministic step has no density


def test_scoring_a_drawn_step_gives_back_its_log_prob_and_other_samples_score_lower():
    sigmas = schedule().sigmas
    x, v = latents(5), latents(6)
    drawn = sde_step_with_logprob(v, x, sigmas, 1, noise_level=0.7, noise=latents(7))
    scored = sde_step_with_logprob(v, x, sigmas, 1, noise_level=0.7, prev_sample=drawn.prev_sample)
    torch.testing.assert_close(scored.log_prob, drawn.log_prob)
    at_mean = sde_step_with_logprob(v, x, sigmas, 1, noise_level=0.7, prev_sample=drawn.mean)
    assert (at_mean.log_prob > drawn.log_prob).all()


def test_per_sample_step_indices_score_each_sample_at_its_own_sigma():
    sigmas = schedule().sigmas
    x, v, noise = latents(8), latents(9), latents(10)
    mixed = sde_step_with_logprob(v, x, sigmas, torch.tensor([0, 3, 4]), noise_level=0.7, noise=noise)
    for row, index in enumerate([0, 3, 4]):
        alone = sde_step_with_logprob(
            v[row : row + 1], x[row : row + 1], sigmas, index, noise_level=0.7, noise=noise[row : row + 1]
        )
        torch.testing.assert_close(mixed.log_prob[row : row + 1], alone.log_prob)


def test_kl_of_step_means_is_zero_when_equal_and_quadratic_in_the_gap():
    mean, std = latents(11), torch.full((3,), 0.5)
    assert torch.equal(mean_kl(mean, mean, std), torch.zeros(3))
    one, two = mean_kl(mean + 0.1, mean, std), mean_kl(mean + 0.2, mean, std)
    torch.testing.assert_close(two, 4 * one)
    torch.testing.assert_close(one, torch.full((3,), 0.01 / (2 * 0.25)))


# --- advantages ----------------------------------------------------------------------------------


def test_advantages_are_per_group_z_scores():
    rewards = torch.tensor([0.2, 0.4, 0.9, 0.5, 0.1, 0.3, 0.3, 0.7])
    advantages = group_advantages(rewards, 4, eps=1e-4)
    expected = []
    for group in rewards.view(2, 4):
        mean = group.mean()
        std = ((group - mean) ** 2).mean().sqrt()
        expected.append((group - mean) / (std + 1e-4))
    torch.testing.assert_close(advantages.values, torch.cat(expected))
    assert not advantages.zero_std.any()
    for group in advantages.values.view(2, 4):
        assert abs(float(group.sum())) < 1e-5  # centred per group, not per batch


def test_zero_variance_groups_get_no_advantage_and_carry_no_gradient():
    rewards = torch.tensor([0.3, 0.3, 0.3, 0.1, 0.5, 0.2])
    advantages = group_advantages(rewards, 3)
    assert advantages.zero_std.tolist() == [True] * 3 + [False] * 3
    assert torch.equal(advantages.values[:3], torch.zeros(3))
    log_prob = torch.randn(6, 5, requires_grad=True)
    old = log_prob.detach() + 0.01 * torch.randn(6, 5)
    objective = ppo_clip_loss(log_prob, old, advantages.values.unsqueeze(1), clip_low=0.2)
    kl = k3_kl(log_prob, torch.randn(6, 5))  # the KL alone would still pull on every sample
    per_sample = (objective.loss + 0.04 * kl).mean(dim=1) * advantages.sample_weights
    per_sample.sum().backward()
    assert torch.equal(log_prob.grad[:3], torch.zeros(3, 5))
    assert (log_prob.grad[3:].abs().sum(dim=1) > 0).all()


def test_batch_scale_and_no_scale_options():
    rewards = torch.tensor([1.0, 2.0, 3.0, 5.0])
    batch = group_advantages(rewards, 2, scale="batch", eps=0.0)
    torch.testing.assert_close(batch.values, torch.tensor([-0.5, 0.5, -1.0, 1.0]) / rewards.std(correction=0))
    torch.testing.assert_close(
        group_advantages(rewards, 2, scale="none").values, torch.tensor([-0.5, 0.5, -1, 1])
    )
    with pytest.raises(ValueError, match="whole groups"):
        group_advantages(rewards, 3)


def test_bessel_correction_and_a_batch_std_gathered_elsewhere():
    rewards = torch.tensor([1.0, 2.0, 3.0, 4.0])
    # Worked by hand: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, Bessel std sqrt(5/3).
    bessel = group_advantages(rewards, 4, eps=0.0, correction=1)
    torch.testing.assert_close(bessel.values, torch.tensor([-1.5, -0.5, 0.5, 1.5]) / (5 / 3) ** 0.5)
    population = group_advantages(rewards, 4, eps=0.0, correction=0)  # sqrt(5/4)
    torch.testing.assert_close(population.values, torch.tensor([-1.5, -0.5, 0.5, 1.5]) / 1.25**0.5)
    # scale="batch" divides by the std of the rewards it is given for the whole step (all processes)
    everything = torch.tensor([1.0, 2.0, 3.0, 4.0, 10.0, 20.0])
    batch = group_advantages(rewards, 2, eps=0.0, scale="batch", batch_rewards=everything)
    torch.testing.assert_close(
        batch.values, torch.tensor([-0.5, 0.5, -0.5, 0.5]) / everything.std(correction=0)
    )


# --- PPO-clip, KL, tokens ------------------------------------------------------------------------


def test_first_ppo_pass_has_every_ratio_one_and_the_plain_policy_gradient():
    log_prob = torch.randn(4, 7, requires_grad=True)
    advantages = torch.tensor([1.0, -1.0, 0.5, -2.0]).unsqueeze(1)
    objective = ppo_clip_loss(log_prob, log_prob.detach(), advantages, clip_low=1e-4)
    assert torch.equal(objective.ratio, torch.ones(4, 7))
    assert not objective.clipped.any()
    objective.loss.sum().backward()
    torch.testing.assert_close(log_prob.grad, -advantages.expand(4, 7))


def test_clipping_stops_the_gradient_once_the_ratio_left_the_range_in_the_advantage_direction():
    old = torch.zeros(2)
    log_prob = torch.tensor([0.5, -0.5], requires_grad=True)  # ratios e^0.5 (up) and e^-0.5 (down)
    objective = ppo_clip_loss(log_prob, old, torch.tensor([1.0, -1.0]), clip_low=0.2)
    assert objective.clipped.tolist() == [True, True]
    objective.loss.sum().backward()
    assert torch.equal(log_prob.grad, torch.zeros(2))
    above_1_2 = torch.tensor([math.log(1.27)])
    assert ppo_clip_loss(above_1_2, torch.zeros(1), torch.ones(1), clip_low=0.2).clipped.all()
    clip_higher = ppo_clip_loss(above_1_2, torch.zeros(1), torch.ones(1), clip_low=0.2, clip_high=0.28)
    assert not clip_higher.clipped.any()  # DAPO's clip-higher leaves room above 1 + ε_low


def test_k3_kl_is_non_negative_and_zero_only_at_equality():
    log_prob = torch.randn(50)
    reference = torch.randn(50)
    assert (k3_kl(log_prob, reference) >= 0).all()
    assert torch.equal(k3_kl(log_prob, log_prob), torch.zeros(50))


def test_token_log_probs_follow_the_temperature_and_leave_out_banned_tokens():
    logits = torch.randn(2, 3, 10)
    tokens = torch.tensor([[1, 2, 3], [4, 5, 6]])
    expected = torch.log_softmax(logits / 0.7, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(token_log_probs(logits, tokens, 0.7), expected)
    banned = token_log_probs(logits, tokens, 1.0, torch.tensor([0, 9]))
    kept = logits.clone()
    kept[..., [0, 9]] = float("-inf")
    torch.testing.assert_close(
        banned, torch.log_softmax(kept, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    )


def test_completion_mask_covers_tokens_up_to_and_including_the_first_eos():
    tokens = torch.tensor([[5, 6, 1, 2, 2], [5, 6, 7, 8, 9], [1, 2, 2, 2, 2]])
    mask = completion_mask(tokens, eos_token_ids=[1, 2])
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]


def test_token_losses_aggregate_per_sequence_or_by_a_constant():
    per_token = torch.tensor([[1.0, 3.0, 9.0], [2.0, 2.0, 2.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    assert aggregate_token_loss(per_token, mask, "grpo", max_completion_length=4).tolist() == [2.0, 2.0]
    assert aggregate_token_loss(per_token, mask, "dr_grpo", max_completion_length=4).tolist() == [1.0, 1.5]
    assert aggregate_token_loss(per_token, mask, "token_mean", max_completion_length=4).tolist() == [4.0, 6.0]
