"""The four stages on uae-tiny: recorded log-probs, first-pass ratios, update directions, losses, grads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _tiny_training import (  # noqa: F401 (single_torch_thread is a fixture)
    cache_env,
    single_torch_thread,
    tiny_config,
    trainable_state,
    write_manifest,
)

from unified_bench.datasets import load_dataset
from unified_bench_adapters.uae.train.data import TrainData, derive_seed, generator, square_image, to_pil
from unified_bench_adapters.uae.train.flow_matching import flow_matching_loss, noisy_latents, sample_timesteps
from unified_bench_adapters.uae.train.grpo import Advantages
from unified_bench_adapters.uae.train.runtime import RunningMean
from unified_bench_adapters.uae.train.sde import sde_step_with_logprob
from unified_bench_adapters.uae.train.stages.cold_start import ColdStartStage, reconstruct
from unified_bench_adapters.uae.train.stages.g4u import G4UStage, completion_log_probs
from unified_bench_adapters.uae.train.stages.sft import SFTStage, predict_velocity
from unified_bench_adapters.uae.train.stages.u4g import U4GStage, guided_velocity
from unified_bench_adapters.uae.train.trainer import build_context

SIGNS = torch.tensor([1.0, -1.0, 1.0, -1.0])
pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def manifest(session_cache, tmp_path_factory):
    return write_manifest(tmp_path_factory.mktemp("train-data"), count=2)


def make_stage(stage_cls, session_cache, manifest, stage: str, **overrides):
    with cache_env(session_cache):
        config = tiny_config(stage, dataset=str(manifest), **overrides)
        context = build_context(config)
        data = TrainData(load_dataset(str(manifest)), images_per_step=1, seed=config.seed)
        return stage_cls(context), data


def restore(context, state) -> None:
    with torch.no_grad():
        for name, parameter in context.policy.trainable_named_parameters():
            parameter.copy_(state[name])


# --- g4u: GRPO on caption tokens -------------------------------------------------------------------


@pytest.fixture(scope="module")
def g4u(session_cache, manifest):
    return make_stage(
        G4UStage,
        session_cache,
        manifest,
        "g4u",
        group_size=4,
        max_new_tokens=12,
        kl_beta=0.0,
        learning_rate=5e-3,
    )


def caption_log_probs(stage: G4UStage, group) -> torch.Tensor:
    with torch.no_grad():
        log_probs, _ = completion_log_probs(
            stage.context.policy,
            inputs=group.inputs,
            completions=group.completions,
            temperature=stage.config.temperature,
            banned_token_ids=stage.banned_token_ids,
            with_reference=False,
        )
    return log_probs


def test_g4u_token_log_probs_recorded_while_sampling_equal_a_fresh_forward_pass(g4u):
    stage, data = g4u
    group = stage.sample_captions(data.step_items(0)[0], step=0)
    assert group.completions.shape[0] == 4 and len(set(group.captions)) > 1  # really sampled
    fresh = caption_log_probs(stage, group)
    assert group.mask.sum() > 0
    difference = ((fresh - group.old_log_probs) * group.mask).abs().max()
    assert difference < 1e-4
    again = stage.sample_captions(data.step_items(0)[0], step=0)
    assert torch.equal(again.completions, group.completions)  # seeded per (step, image, row)


def test_g4u_one_step_raises_positive_and_lowers_negative_advantage_captions(g4u):
    stage, data = g4u
    context = stage.context
    saved = trainable_state(context)
    group = stage.sample_captions(data.step_items(1)[0], step=1)
    group.advantages = Advantages(SIGNS.clone(), torch.zeros(4, dtype=torch.bool))
    before = (caption_log_probs(stage, group) * group.mask).sum(dim=1)
    with context.micro_step(last=True):
        context.backward(stage.sample_losses(group, RunningMean()).sum() / 4)
    context.optimizer_step()
    after = (caption_log_probs(stage, group) * group.mask).sum(dim=1)
    change = after - before
    assert (change[SIGNS > 0] > 0).all() and (change[SIGNS < 0] < 0).all(), change
    restore(context, saved)


# --- u4g: Flow-GRPO on the decoder ----------------------------------------------------------------


@pytest.fixture(scope="module")
def u4g(session_cache, manifest):
    return make_stage(
        U4GStage,
        session_cache,
        manifest,
        "u4g",
        group_size=4,
        micro_batch_size=2,
        kl_beta=0.0,
        learning_rate=1e-2,
    )


def trajectory_log_probs(stage: U4GStage, group, rows: slice) -> torch.Tensor:
    """Log-probs of the recorded steps under the current policy, ``[rows, trained steps]``."""
    columns = []
    with torch.no_grad():
        for index in range(stage.trained_steps):
            velocity, _ = guided_velocity(
                stage.context.policy,
                latents=group.latents[rows, index],
                timestep=stage.schedule.timesteps[index],
                positive=group.positive[rows],
                negative=group.negative[rows],
                guidance_scale=stage.training_guidance,
            )
            step = sde_step_with_logprob(
                velocity,
                group.latents[rows, index],
                stage.schedule.sigmas,
                index,
                noise_level=stage.config.noise_level,
                prev_sample=group.latents[rows, index + 1],
            )
            columns.append(step.log_prob)
    return torch.stack(columns, dim=1)


def test_u4g_first_ppo_pass_has_every_ratio_one(u4g):
    stage, data = u4g
    group = stage.rollout(data.step_items(0)[0], step=0)
    assert group.latents.shape[:2] == (4, stage.config.num_inference_steps + 1)
    for rows in (slice(0, 2), slice(2, 4)):  # a training micro-batch is smaller than the rollout batch
        ratios = torch.exp(
            trajectory_log_probs(stage, group, rows) - group.log_probs[rows, : stage.trained_steps]
        )
        torch.testing.assert_close(ratios, torch.ones_like(ratios), rtol=0, atol=1e-5)


def test_u4g_one_step_raises_positive_and_lowers_negative_advantage_images(u4g):
    stage, data = u4g
    context = stage.context
    saved = trainable_state(context)
    group = stage.rollout(data.step_items(1)[0], step=1)
    group.advantages = Advantages(SIGNS.clone(), torch.zeros(4, dtype=torch.bool))
    before = trajectory_log_probs(stage, group, slice(0, 4)).sum(dim=1)
    passes = [(rows, index) for rows in (slice(0, 2), slice(2, 4)) for index in range(stage.trained_steps)]
    for number, (rows, index) in enumerate(passes):
        with context.micro_step(last=number == len(passes) - 1):
            loss = stage.step_losses(group, rows, index, RunningMean())
            context.backward(loss.sum() / (4 * stage.trained_steps))
    context.optimizer_step()
    change = trajectory_log_probs(stage, group, slice(0, 4)).sum(dim=1) - before
    assert (change[SIGNS > 0] > 0).all() and (change[SIGNS < 0] < 0).all(), change
    restore(context, saved)


def test_u4g_rollout_without_noise_draws_the_benchmark_image(u4g):
    stage, data = u4g
    item = data.step_items(0)[0]
    config = stage.config
    group = stage.rollout(item, step=0, caption="a red cat on a chair", noise_level=0.0)
    negative, positive = stage.context.adapter.encoder.project_pair("a red cat on a chair")
    seed = derive_seed(config.seed, "u4g-latent", 0, item.position, 0)
    (benchmark,) = stage.context.adapter.decoder.render(
        positive[None],
        negative[None],
        [seed],
        width=config.resolution,
        height=config.resolution,
        num_inference_steps=config.num_inference_steps,
        guidance_scale=config.guidance_scale,
    )
    ours = to_pil(group.images[:1])[0]
    difference = (
        torch.tensor(np.asarray(ours), dtype=torch.int16) - torch.tensor(np.asarray(benchmark))
    ).abs()
    assert difference.max() <= 1


# --- sft: flow matching ---------------------------------------------------------------------------


def test_sft_loss_falls_over_20_steps_on_a_tiny_fixed_set(session_cache, manifest):
    stage, _ = make_stage(
        SFTStage,
        session_cache,
        manifest,
        "sft",
        images_per_step=2,
        micro_batch_size=2,
        caption_dropout=0.0,
        learning_rate=1e-2,
    )
    context, config = stage.context, stage.config
    data = TrainData(load_dataset(str(manifest)), images_per_step=2, seed=0)
    items = data.step_items(0)
    encoder = context.adapter.encoder
    ids = encoder.generate_role_ids([item.sample.captions[0] for item in items])
    pixels = torch.stack([square_image(item.sample.image, config.resolution) for item in items])
    with torch.no_grad():
        latents = context.policy.encode(pixels, [generator(1, "fixed", i) for i in range(2)])
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(3))
    sigmas, timesteps = sample_timesteps(stage.scheduler, [generator(2, "fixed", i) for i in range(2)])

    def fixed_loss() -> float:
        with torch.no_grad():
            prediction = predict_velocity(
                context.policy,
                input_ids=ids,
                attention_mask=ids.ne(encoder.pad_token_id).long(),
                noisy=noisy_latents(latents, noise, sigmas),
                timesteps=timesteps,
            )
            return float(flow_matching_loss(prediction, latents, noise, sigmas).mean())

    start = fixed_loss()
    losses = [stage.run_step(step, data.step_items(step))["loss"] for step in range(20)]
    assert fixed_loss() < 0.97 * start  # on a fixed batch (same noise and timesteps)
    assert sum(losses[-5:]) < 0.97 * sum(losses[:5])  # and on the steps' own batches


# --- cold start: gradients through the sampler ----------------------------------------------------


def test_cold_start_gradient_reaches_the_encoder_lora_and_the_projector(session_cache, manifest):
    stage, data = make_stage(ColdStartStage, session_cache, manifest, "cold-start")
    context, config = stage.context, stage.config
    item = data.step_items(0)[0]
    inputs, reply_mask = context.adapter.encoder.caption_answer_inputs(
        item.sample.image, item.sample.captions[0]
    )
    latents = context.adapter.decoder.initial_latents([7], config.resolution, config.resolution).float()

    def gradients(recompute: bool) -> dict[str, torch.Tensor]:
        context.optimizer.zero_grad(set_to_none=True)
        images = reconstruct(
            context.policy,
            inputs=dict(inputs),
            reply_mask=reply_mask,
            latents=latents,
            schedule=stage.schedule,
            guidance_scale=config.guidance_scale,
            recompute=recompute,
        )
        (1 - context.reward.similarity([item.sample], images)).sum().backward()
        return {
            name: p.grad.clone()
            for name, p in context.policy.trainable_named_parameters()
            if p.grad is not None
        }

    grads = gradients(recompute=True)
    lora = [name for name in grads if ".lora_B." in name and "language_model" in name]
    projector = [name for name in grads if name.startswith("encoder.projector.")]
    assert lora and all(grads[name].abs().sum() > 0 for name in lora)
    assert len(projector) == 4 and all(grads[name].abs().sum() > 0 for name in projector)
    assert not any(p.requires_grad for p in context.policy.transformer.parameters())  # decoder frozen
    plain = gradients(recompute=False)
    for name in lora + projector:  # step recomputation (gradient checkpointing) changes nothing
        torch.testing.assert_close(grads[name], plain[name], rtol=1e-4, atol=1e-7)
