"""The four stages on uae-tiny: train = inference, the reward -> advantage -> update path, the loss maths.

The RL tests drive the stages' own code from rewards of a known sign: the reference image of a
step is replaced by one of the step's own reconstructions, so the harness's scorer gives that
sample the highest reward (cosine 1 with itself) without any hand-set advantage.
"""

from __future__ import annotations

import dataclasses
import statistics

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    SuppressTokensLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from tests._tiny_training import (  # noqa: F401 (single_torch_thread is a fixture)
    cache_env,
    preserved,
    single_torch_thread,
    tiny_config,
    write_manifest,
)
from unified_bench.adapter import AdapterOptions
from unified_bench.datasets import Sample, load_dataset
from unified_bench_adapters.uae.adapter import build_uae_tiny
from unified_bench_adapters.uae.train.checkpoints import save_checkpoint
from unified_bench_adapters.uae.train.config import U4GConfig
from unified_bench_adapters.uae.train.data import (
    StepItem,
    TrainData,
    derive_seed,
    generator,
    square_image,
    to_pil,
)
from unified_bench_adapters.uae.train.flow_matching import flow_matching_loss, noisy_latents, sample_timesteps
from unified_bench_adapters.uae.train.lora import lora_named_parameters
from unified_bench_adapters.uae.train.runtime import RunningMean
from unified_bench_adapters.uae.train.sde import sde_step_with_logprob
from unified_bench_adapters.uae.train.stages.cold_start import ColdStartStage, reconstruct
from unified_bench_adapters.uae.train.stages.g4u import G4UStage, completion_log_probs
from unified_bench_adapters.uae.train.stages.sft import SFTStage, predict_velocity, prompt_ids
from unified_bench_adapters.uae.train.stages.u4g import ImageGroup, U4GStage, guided_velocity
from unified_bench_adapters.uae.train.trainer import build_context

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


def with_reference(item: StepItem, image: Image.Image) -> StepItem:
    """The same sample (id, captions, stream position) with ``image`` as its reference image."""
    return StepItem(item.position, Sample.from_image(item.sample.id, image, item.sample.captions))


def update(stage, groups) -> None:
    """The stage's own update of already-scored groups: its backward passes, then its optimizer step."""
    stage.accumulate(groups, RunningMean())
    stage.context.optimizer_step()


def gradients(context) -> dict[str, torch.Tensor]:
    return {
        name: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
        for name, p in context.policy.trainable_named_parameters()
    }


# --- g4u: GRPO on caption tokens -------------------------------------------------------------------


@pytest.fixture(scope="module")
def g4u_stage(session_cache, manifest):
    return make_stage(
        G4UStage, session_cache, manifest, "g4u", group_size=4, max_new_tokens=12, learning_rate=5e-3
    )


@pytest.fixture
def g4u(g4u_stage):
    stage, data = g4u_stage
    with preserved(stage.context, stage):
        yield stage, data


def caption_log_probs(stage: G4UStage, group) -> torch.Tensor:
    with torch.no_grad():
        log_probs, _ = completion_log_probs(
            stage.context.policy,
            inputs=group.inputs,
            completions=group.completions,
            processors=stage.processors(),
            with_reference=False,
        )
    return log_probs


def run_sampling_stage(stage: G4UStage) -> G4UStage:
    """The fixture's stage with the config's sampling unset: g4u samples as `run` does."""
    reconfigure(stage, temperature=None, top_k=None, top_p=None)
    return G4UStage(stage.context)


def test_g4u_training_log_probs_equal_the_samplers_under_the_inputs_run_uses(g4u):
    stage, data = g4u
    stage = run_sampling_stage(stage)
    run = stage.context.adapter.encoder.sampling  # what `run` samples with (encoder.caption)
    assert (run.temperature, run.top_k, run.top_p, run.repetition_penalty) == (0.7, 20, 0.9, 1.05)
    item = data.step_items(0)[0]
    group = stage.sample_captions(item, step=0)
    assert group.mask.sum() > 0 and len(set(group.captions)) > 1  # really sampled
    # Reference, built here with transformers: every processor output `run` gives Qwen (image-token
    # positions included), followed by the sampled tokens, in one plain forward pass; then, token by
    # token, generate's processors as `run` applies them (repetition penalty over the whole prefix,
    # temperature, top-k, top-p), the placeholder tokens banned.
    rows = group.completions.shape[0]
    run_inputs = stage.context.adapter.encoder.caption_inputs([item.sample.image])
    assert "mm_token_type_ids" in run_inputs
    inputs = {key: value.repeat(rows, *([1] * (value.dim() - 1))) for key, value in run_inputs.items()}
    start = inputs["input_ids"].shape[1]
    inputs["input_ids"] = torch.cat([inputs["input_ids"], group.completions], dim=1)
    inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(group.completions)], 1)
    text = torch.zeros_like(group.completions, dtype=inputs["mm_token_type_ids"].dtype)
    inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], text], dim=1)
    with torch.no_grad():
        logits = stage.context.policy.encoder(**inputs).logits[:, start - 1 : -1].float()
    chain = LogitsProcessorList(
        [
            RepetitionPenaltyLogitsProcessor(run.repetition_penalty),
            SuppressTokensLogitsProcessor(stage.context.adapter.encoder.placeholder_token_ids()),
            TemperatureLogitsWarper(run.temperature),
            TopKLogitsWarper(run.top_k),
            TopPLogitsWarper(run.top_p),
        ]
    )
    expected = torch.stack(
        [
            torch.log_softmax(chain(inputs["input_ids"][:, : start + t], logits[:, t]), -1)
            .gather(-1, group.completions[:, t : t + 1])
            .squeeze(-1)
            for t in range(group.completions.shape[1])
        ],
        dim=1,
    )
    mask = group.mask.bool()
    assert torch.isfinite(expected[mask]).all()
    training = caption_log_probs(stage, group)
    torch.testing.assert_close(training[mask], expected[mask], rtol=0, atol=1e-5)
    torch.testing.assert_close(group.old_log_probs[mask], expected[mask], rtol=0, atol=1e-5)
    again = stage.sample_captions(item, step=0)
    assert torch.equal(again.completions, group.completions)  # seeded per (step, image, row)


@pytest.mark.parametrize("sampling", ["run's", "stated"])
def test_g4u_samples_captions_exactly_as_run_does_with_its_checkpoint(g4u, tmp_path, sampling):
    """g4u's captions of an image are the captions `run` samples with the stage's checkpoint and the
    same seeds: by default run's own sampling, or the config's, which the checkpoint then records."""
    stage, data = g4u
    if sampling == "run's":
        stage = run_sampling_stage(stage)
    else:
        assert (stage.config.temperature, stage.config.top_k, stage.config.top_p) == (1.0, 0, 1.0)
    item = data.step_items(0)[0]
    group = stage.sample_captions(item, step=0)
    checkpoint = save_checkpoint(stage.context, tmp_path, "final", 0)
    run = build_uae_tiny(AdapterOptions(args={"checkpoint": str(checkpoint)}, device="cpu", dtype="float32"))
    rows = len(group.captions)
    seeds = [derive_seed(stage.config.seed, "g4u-caption", 0, item.position, row) for row in range(rows)]
    assert run.caption([item.sample.image] * rows, seeds=seeds) == group.captions
    assert len(set(group.captions)) > 1


def test_g4u_update_makes_the_caption_that_reconstructs_the_reference_more_likely(g4u):
    """Rewards of known sign through the stage's own score -> advantages -> update (KL on)."""
    stage, data = g4u
    context, config = stage.context, stage.config
    assert config.kl_beta > 0
    item = data.step_items(1)[0]
    group = stage.sample_captions(item, step=1)
    # What the frozen decoder draws from caption 0 with the image's fixed seed becomes the reference.
    seed = derive_seed(config.seed, "g4u-reconstruction", item.sample.id)
    size = (config.resolution, config.resolution)
    (target,) = context.adapter.generate(group.captions[:1], seeds=[seed], size=size)
    group.item = with_reference(item, target)
    stage.score([group])
    rewards = group.rewards.total
    assert rewards[0] == rewards.max() and rewards[0] > rewards.min()
    worst = int(rewards.argmin())
    before = (caption_log_probs(stage, group) * group.mask).sum(dim=1)
    update(stage, [group])
    change = (caption_log_probs(stage, group) * group.mask).sum(dim=1) - before
    assert change[0] > 0 and change[worst] < 0, (rewards, change)


def test_g4u_advantages_are_bessel_z_scores_of_the_rewards(g4u):
    stage, data = g4u
    assert stage.config.advantage_std == "bessel" and stage.config.advantage_scale == "group"
    group = stage.sample_captions(data.step_items(0)[0], step=0)
    stage.score([group])
    rewards = group.rewards.total.tolist()
    mean, std = statistics.fmean(rewards), statistics.stdev(rewards)  # n - 1, TRL's torch.std
    expected = torch.tensor([(r - mean) / (std + stage.config.advantage_eps) for r in rewards])
    # float32 rewards a few 1e-4 apart: compare to 1e-3 (population vs Bessel differ by 15 % at G = 4)
    torch.testing.assert_close(group.advantages.values, expected, rtol=1e-3, atol=1e-3)


def test_g4u_loss_is_the_mean_over_captions_that_train_only(g4u):
    """A group whose rewards are all equal (masked) leaves the step's gradient unchanged (both RL
    stages' rule for zero-variance groups; the u4g twin is below)."""
    stage, data = g4u
    varied = stage.sample_captions(data.step_items(0)[0], step=0)
    # G copies of one caption: one image per caption and seed, equal rewards, so the group is masked.
    rows = varied.completions.shape[0]
    copies = dataclasses.replace(
        varied,
        completions=varied.completions[:1].repeat(rows, 1),
        mask=varied.mask[:1].repeat(rows, 1),
        old_log_probs=varied.old_log_probs[:1].repeat(rows, 1),
        captions=varied.captions[:1] * rows,
    )
    assert_masked_group_leaves_the_gradient_unchanged(stage, varied, copies)


def assert_masked_group_leaves_the_gradient_unchanged(stage, varied, copies) -> None:
    """The step's gradient of ``[varied]`` equals that of ``[varied, copies]``, ``copies`` being a
    group of identical samples (equal rewards, so masked): the loss is the mean over samples that train."""
    context = stage.context
    stage.score([varied])
    context.optimizer.zero_grad(set_to_none=True)
    stage.accumulate([varied], RunningMean())
    alone = gradients(context)
    stage.score([varied, copies])
    assert bool(copies.advantages.zero_std.all()) and not bool(varied.advantages.zero_std.any())
    context.optimizer.zero_grad(set_to_none=True)
    stage.accumulate([varied, copies], RunningMean())
    together = gradients(context)
    assert any(g.abs().sum() > 0 for g in alone.values())
    for name, gradient in alone.items():
        torch.testing.assert_close(together[name], gradient, rtol=1e-5, atol=1e-9)


def test_g4u_second_pass_over_a_step_is_off_policy_and_the_clip_acts(g4u):
    """A real step with two passes (TRL's num_iterations = 2): the first is on-policy (ratio 1),
    the second starts from the weights the first moved, so token ratios leave 1 ± ε and clip."""
    stage, data = g4u
    context = stage.context
    for group in context.optimizer.param_groups:  # a large step, so ratios leave 1 ± 0.2
        group["lr"] = 5e-2
    items = data.step_items(0)
    reconfigure(stage, num_inner_epochs=1, kl_beta=0.0)
    on_policy = stage.run_step(0, items)
    assert on_policy["ratio_max_deviation"] < 1e-4 and on_policy["clip_fraction"] == 0
    reconfigure(stage, num_inner_epochs=2, kl_beta=0.0)
    steps_before = context.optimizer_steps
    metrics = stage.run_step(1, items)
    assert context.optimizer_steps == steps_before + 2
    # Means over the two passes: the first adds 0 to both, so the second's clip acted.
    assert metrics["ratio_max_deviation"] > 0 and metrics["clip_fraction"] > 0


# --- u4g: Flow-GRPO on the decoder ----------------------------------------------------------------


@pytest.fixture(scope="module")
def u4g_stage(session_cache, manifest):
    return make_stage(
        U4GStage, session_cache, manifest, "u4g", group_size=4, micro_batch_size=2, learning_rate=1e-2
    )


@pytest.fixture
def u4g(u4g_stage):
    stage, data = u4g_stage
    with preserved(stage.context, stage):
        yield stage, data


def reconfigure(stage, **changes) -> None:
    """Swap the stage's config (``preserved`` puts the fixture's back)."""
    stage.config = stage.context.config = dataclasses.replace(stage.config, **changes)


def trajectory_log_probs(stage: U4GStage, group, rows: slice) -> torch.Tensor:
    """Log-probs of the recorded steps under the current policy, ``[rows, trained steps]``."""
    return torch.stack(
        [re_evaluate(stage, group, rows, index).log_prob for index in range(stage.trained_steps)], 1
    )


def re_evaluate(stage: U4GStage, group, rows: slice, index: int, *, reference: bool = False):
    with torch.no_grad():
        velocity, reference_velocity = guided_velocity(
            stage.context.policy,
            latents=group.latents[rows, index],
            timestep=stage.schedule.timesteps[index],
            positive=group.positive[rows],
            negative=group.negative[rows],
            guidance_scale=stage.training_guidance,
            with_reference=reference,
        )
        return sde_step_with_logprob(
            reference_velocity if reference else velocity,
            group.latents[rows, index],
            stage.schedule.sigmas,
            index,
            noise_level=stage.config.noise_level,
            prev_sample=group.latents[rows, index + 1],
        )


def test_u4g_rollout_equals_its_re_evaluation_under_the_unchanged_policy(u4g):
    stage, data = u4g
    config = stage.config
    item = data.step_items(0)[0]
    group = stage.rollout(item, step=0)
    steps = config.num_inference_steps
    assert group.latents.shape[:2] == (4, steps + 1)
    for rows in (slice(0, 2), slice(2, 4)):  # a training micro-batch is smaller than the rollout batch
        ratios = torch.exp(
            trajectory_log_probs(stage, group, rows) - group.log_probs[rows, : stage.trained_steps]
        )
        torch.testing.assert_close(ratios, torch.ones_like(ratios), rtol=0, atol=1e-5)
    # The latents themselves: the re-evaluated step mean plus the step's seeded noise.
    for index in range(steps):
        step = re_evaluate(stage, group, slice(0, 4), index)
        sigmas = stage.schedule.sigmas
        scale = step.std_dev_t * torch.sqrt(sigmas[index] - sigmas[index + 1])
        noise = torch.stack(
            [
                torch.randn(
                    group.latents.shape[2:],
                    generator=generator(config.seed, "u4g-sde", 0, item.position, m, index),
                )
                for m in range(4)
            ]
        )
        torch.testing.assert_close(step.mean + scale * noise, group.latents[:, index + 1], rtol=0, atol=1e-5)


def test_u4g_update_makes_the_image_that_is_the_reference_more_likely(u4g):
    """Rewards of known sign through the stage's own score -> advantages -> update (KL on)."""
    stage, data = u4g
    assert stage.config.kl_beta > 0
    item = data.step_items(1)[0]
    group = stage.rollout(item, step=1)
    group.item = with_reference(item, to_pil(group.images[:1])[0])
    stage.score([group])
    rewards = group.rewards.total
    assert rewards[0] == rewards.max() and rewards[0] > rewards.min()
    worst = int(rewards.argmin())
    before = trajectory_log_probs(stage, group, slice(0, 4)).sum(dim=1)
    update(stage, [group])
    change = trajectory_log_probs(stage, group, slice(0, 4)).sum(dim=1) - before
    assert change[0] > 0 and change[worst] < 0, (rewards, change)


def test_u4g_kl_penalty_pulls_the_policy_back_to_the_reference(u4g):
    stage, data = u4g
    context = stage.context
    reconfigure(stage, kl_beta=1e3)  # the KL term dominates the step's gradient
    lora = [p for name, p in context.policy.trainable_named_parameters() if ".lora_B." in name]
    with torch.no_grad():  # move the policy away from the reference (LoRA B starts at zero)
        for number, parameter in enumerate(lora):
            parameter.copy_(
                0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(number))
            )
    group = stage.rollout(data.step_items(0)[0], step=0)
    stage.score([group])

    def distance() -> float:
        """Squared distance of policy and reference step means over the trained steps (the KL up to scale)."""
        total = 0.0
        for index in range(stage.trained_steps):
            policy = re_evaluate(stage, group, slice(0, 4), index).mean
            reference = re_evaluate(stage, group, slice(0, 4), index, reference=True).mean
            total += float(((policy - reference) ** 2).mean())
        return total

    before = distance()
    assert before > 0
    context.optimizer.zero_grad(set_to_none=True)
    stage.accumulate([group], RunningMean())  # the stage's loss, KL term included
    step = gradients(context)
    norm = torch.sqrt(sum((g**2).sum() for g in step.values()))
    with torch.no_grad():  # a small plain gradient-descent step (Adam's first step is a sign step)
        for name, parameter in context.policy.trainable_named_parameters():
            parameter.sub_(0.05 * step[name] / norm)
    assert distance() < 0.9 * before


def clip_gradient_counts(stage: U4GStage, group) -> tuple[int, int]:
    """Per (sample, trained step) of ``group`` under the current policy: its loss's gradient is 0
    where the ratio left the trust region on the side its advantage pushes, and non-zero elsewhere
    (advantage != 0). Returns how many were clipped and unclipped."""
    epsilon = stage.config.clip_range
    rows = group.latents.shape[0]
    ratios = torch.exp(
        trajectory_log_probs(stage, group, slice(0, rows)) - group.log_probs[:, : stage.trained_steps]
    )
    advantages = group.advantages.values
    parameters = [p for _, p in stage.context.policy.trainable_named_parameters()]
    clipped = unclipped = 0
    for row in range(rows):
        for index in range(stage.trained_steps):
            ratio, advantage = float(ratios[row, index]), float(advantages[row])
            loss = stage.step_losses(group, slice(row, row + 1), index, RunningMean()).sum()
            grads = torch.autograd.grad(loss, parameters, allow_unused=True)
            norm = sum(float(g.abs().sum()) for g in grads if g is not None)
            if (advantage > 0 and ratio > 1 + epsilon) or (advantage < 0 and ratio < 1 - epsilon):
                clipped += 1
                assert norm == 0, (row, index, ratio, advantage)
            elif advantage != 0:
                unclipped += 1
                assert norm > 0
    return clipped, unclipped


def test_u4g_ppo_clip_zeroes_the_gradient_of_samples_whose_ratio_left_the_trust_region(u4g):
    stage, data = u4g
    reconfigure(stage, kl_beta=0.0)  # the KL term has a gradient whatever the clip does
    group = stage.rollout(data.step_items(0)[0], step=0)
    stage.score([group])
    update(stage, [group])  # after one step at lr 1e-2 the ratios are far outside 1 ± 1e-4
    clipped, _ = clip_gradient_counts(stage, group)
    assert clipped > 0  # the clip was exercised


def test_u4g_step_updates_once_per_minibatch_and_the_clip_acts_on_the_off_policy_one(u4g, monkeypatch):
    """A real step of two images with Flow-GRPO's two minibatches: the second update starts from
    the weights the first one moved, so its ratios leave 1 and the clip zeroes the gradient of the
    samples outside the trust region; with one minibatch the step is on-policy (ratio 1)."""
    stage, data = u4g
    assert U4GConfig(dataset="samples").minibatches == 2  # the u4g default, Flow-GRPO's
    items = data.step_items(0) + data.step_items(1)
    reconfigure(stage, kl_beta=0.0, minibatches=1)
    on_policy = stage.run_step(0, items)
    assert on_policy["ratio_max_deviation"] < 1e-5 and on_policy["clip_fraction"] == 0
    reconfigure(stage, kl_beta=0.0, minibatches=2)
    steps_before = stage.context.optimizer_steps
    seen: list[tuple[int, int]] = []
    accumulate = stage.accumulate

    def observed(groups, running):
        """The stage's own accumulate, after checking the clip at the weights it starts from."""
        assert len(groups) == 1  # one image (group) per minibatch
        seen.append(clip_gradient_counts(stage, groups[0]))
        accumulate(groups, running)

    monkeypatch.setattr(stage, "accumulate", observed)
    metrics = stage.run_step(1, items)
    assert stage.context.optimizer_steps == steps_before + 2  # one optimizer update per minibatch
    (first_clipped, _), (second_clipped, _) = seen
    assert first_clipped == 0  # the first update is on-policy
    assert second_clipped > 0  # the second is not, and the clip acts
    assert metrics["ratio_max_deviation"] > stage.config.clip_range and metrics["clip_fraction"] > 0


def test_u4g_gradient_flows_through_the_conditional_branch_only(u4g):
    stage, data = u4g
    policy, guidance = stage.context.policy, stage.config.guidance_scale
    assert guidance > 1
    group = stage.rollout(data.step_items(0)[0], step=0)
    latents, timestep = group.latents[:2, 1], stage.schedule.timesteps[1]
    parameters = [p for _, p in lora_named_parameters(policy.transformer)]
    with torch.no_grad():  # a LoRA with an effect, so that both branches depend on every LoRA weight
        for number, parameter in enumerate(parameters):
            parameter.add_(
                0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(number))
            )
    direction = torch.randn(latents.shape, generator=torch.Generator().manual_seed(0))
    velocity, _ = guided_velocity(
        policy,
        latents=latents,
        timestep=timestep,
        positive=group.positive[:2],
        negative=group.negative[:2],
        guidance_scale=guidance,
    )
    ours = torch.autograd.grad((velocity * direction).sum(), parameters)
    # Flow-GRPO: uncond.detach() + g (cond - uncond.detach()); its gradient is g ∂cond.
    cond = policy.transformer(
        hidden_states=latents,
        timestep=timestep.expand(2),
        encoder_hidden_states=group.positive[:2],
        pooled_projections=policy.pooled(2),
        return_dict=False,
    )[0]
    expected = torch.autograd.grad(guidance * (cond.float() * direction).sum(), parameters)
    for got, want in zip(ours, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-5 * float(want.abs().max()))


def test_u4g_batch_advantages_divide_by_the_population_std_of_the_whole_step(u4g):
    stage, data = u4g
    reconfigure(stage, advantage_scale="batch")
    assert stage.config.advantage_std == "population"
    groups = [stage.rollout(item, step=0) for item in data.step_items(0) + data.step_items(1)]
    stage.score(groups)
    rewards = [group.rewards.total.tolist() for group in groups]
    std = statistics.pstdev([r for group in rewards for r in group])  # n, Flow-GRPO's np.std
    for group, values in zip(groups, rewards, strict=True):
        mean = statistics.fmean(values)
        expected = torch.tensor([(r - mean) / (std + stage.config.advantage_eps) for r in values])
        torch.testing.assert_close(group.advantages.values, expected.clamp(-5, 5), rtol=1e-3, atol=1e-3)


def test_u4g_loss_is_the_mean_over_samples_that_train_only(u4g):
    """A group whose rewards are all equal (masked) leaves the step's gradient unchanged."""
    stage, data = u4g
    varied = stage.rollout(data.step_items(0)[0], step=0)
    # Four copies of one trajectory: the scorer gives them equal rewards, so the group is masked.
    copies = ImageGroup(
        item=varied.item,
        caption=varied.caption,
        positive=varied.positive,
        negative=varied.negative,
        latents=varied.latents[:1].repeat(4, *([1] * (varied.latents.dim() - 1))),
        log_probs=varied.log_probs[:1].repeat(4, 1),
        images=varied.images[:1].repeat(4, 1, 1, 1),
    )
    assert_masked_group_leaves_the_gradient_unchanged(stage, varied, copies)


def test_u4g_decoder_lora_wraps_the_configured_modules(u4g):
    stage, _ = u4g
    assert "proj_out" in stage.config.dit_lora_targets  # tiny-u4g adds the toy DiT's output layer
    names = [name for name, _ in stage.context.policy.trainable_named_parameters()]
    assert any(".proj_out.lora_B." in name for name in names)
    assert any(".attn.to_q.lora_B." in name for name in names)
    assert all(".lora_" in name for name in names)  # nothing but the LoRA trains


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
    assert pixel_difference(to_pil(group.images[:1])[0], benchmark) <= 1


def pixel_difference(ours: Image.Image, theirs: Image.Image) -> int:
    difference = torch.tensor(np.asarray(ours), dtype=torch.int16) - torch.tensor(np.asarray(theirs))
    return int(difference.abs().max())


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
    ids = [prompt_ids(encoder, item.sample.captions[0]) for item in items]
    pixels = torch.stack([square_image(item.sample.image, config.resolution) for item in items])
    with torch.no_grad():
        latents = context.policy.encode(pixels, [generator(1, "fixed", i) for i in range(2)])
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(3))
    sigmas, timesteps = sample_timesteps(stage.scheduler, [generator(2, "fixed", i) for i in range(2)])

    def fixed_loss() -> float:
        with torch.no_grad():
            prediction = predict_velocity(
                context.policy,
                prompt_ids=ids,
                noisy=noisy_latents(latents, noise, sigmas),
                timesteps=timesteps,
            )
            return float(flow_matching_loss(prediction, latents, noise, sigmas).mean())

    start = fixed_loss()
    losses = [stage.run_step(step, data.step_items(step))["loss"] for step in range(20)]
    assert fixed_loss() < 0.97 * start  # on a fixed batch (same noise and timesteps)
    assert sum(losses[-5:]) < 0.97 * sum(losses[:5])  # and on the steps' own batches


LONG_CAPTION = (
    "a small red circle in the upper left corner, two large blue squares at the bottom, a green "
    "triangle in the middle and a yellow star on the right, all on a plain white background"
)


def test_sft_conditions_each_sample_on_exactly_what_inference_gives_sd3(session_cache, manifest):
    """A long and a short caption in one micro-batch: each reaches SD3 as ``project_pair`` makes it
    (its own tokens, padded to the negative prompt only), never right-padded to its neighbour."""
    stage, data = make_stage(
        SFTStage, session_cache, manifest, "sft", images_per_step=2, micro_batch_size=2, caption_dropout=0.0
    )
    context = stage.context
    encoder = context.adapter.encoder
    captions = [LONG_CAPTION, "a red cat"]
    lengths = [len(encoder.generate_role_ids([text])[0]) for text in captions]
    negative_length = len(encoder.generate_role_ids([encoder.config.negative_prompt])[0])
    assert lengths[0] > negative_length > lengths[1]  # both paddings are exercised
    items = [
        StepItem(item.position, Sample.from_image(item.sample.id, item.sample.image, [caption]))
        for item, caption in zip(data.step_items(0) + data.step_items(1), captions, strict=True)
    ]
    seen: list[torch.Tensor] = []

    def record(module, args, kwargs):
        seen.extend(kwargs["encoder_hidden_states"].detach().unbind(0))

    hook = context.policy.base_transformer.register_forward_pre_hook(record, with_kwargs=True)
    try:
        with preserved(context, stage):
            stage.run_step(0, items)
    finally:
        hook.remove()
    assert len(seen) == 2
    for states, caption in zip(seen, captions, strict=True):
        _, positive = encoder.project_pair(caption)
        assert states.shape == positive.shape
        torch.testing.assert_close(states.float(), positive.float(), rtol=0, atol=1e-5)


# --- cold start: gradients through the sampler ----------------------------------------------------


@pytest.fixture(scope="module")
def cold_start(session_cache, manifest):
    """The encoder side alone (tiny-cold-start also trains a decoder LoRA)."""
    return make_stage(ColdStartStage, session_cache, manifest, "cold-start", train_decoder_lora=False)


@pytest.mark.parametrize("long", [False, True], ids=["short-caption", "long-caption"])
def test_cold_start_reconstructs_exactly_as_the_native_protocol_draws(cold_start, long):
    stage, data = cold_start
    context, config = stage.context, stage.config
    item = data.step_items(0)[0]
    caption = LONG_CAPTION if long else item.sample.captions[0]
    encoder = context.adapter.encoder
    negative_ids = encoder.generate_role_ids([encoder.config.negative_prompt])
    reply_length = int(encoder.caption_answer_inputs(item.sample.image, caption)[1].sum())
    # The long caption outgrows the negative prompt, so the *negative* is the side that is padded.
    assert (reply_length > negative_ids.shape[1]) is long
    # Inference: the adapter's native conditioning (encoder.py), drawn by the decoder's pipeline.
    negative, positive = context.adapter.encoder.project_native_pair(item.sample.image, caption)
    (native,) = context.adapter.decoder.render(
        positive[None],
        negative[None],
        [7],
        width=config.resolution,
        height=config.resolution,
        num_inference_steps=config.num_inference_steps,
        guidance_scale=config.guidance_scale,
    )
    trained_negative, trained_positive = context.policy.native_embeddings(item.sample.image, caption)
    torch.testing.assert_close(trained_negative, negative.float(), rtol=0, atol=1e-6)
    torch.testing.assert_close(trained_positive, positive.float(), rtol=0, atol=1e-6)
    # Both sides have the longer one's length; the negative is its own tokens, then pad tokens.
    length = max(reply_length, negative_ids.shape[1])
    assert trained_negative.shape[0] == trained_positive.shape[0] == length
    padded = torch.nn.functional.pad(
        negative_ids, (0, length - negative_ids.shape[1]), value=encoder.pad_token_id
    )
    with torch.no_grad():
        expected = encoder.model.get_projected_embeddings(padded, padded.ne(encoder.pad_token_id))[0]
    torch.testing.assert_close(trained_negative, expected.float(), rtol=0, atol=1e-5)
    latents = context.adapter.decoder.initial_latents([7], config.resolution, config.resolution).float()
    with torch.no_grad():
        images = reconstruct(
            context.policy,
            image=item.sample.image,
            caption=caption,
            latents=latents,
            schedule=stage.schedule,
            guidance_scale=config.guidance_scale,
            recompute=False,
        )
    assert pixel_difference(to_pil(images)[0], native) <= 1


def test_cold_start_gradient_reaches_the_encoder_lora_and_the_projector(cold_start):
    stage, data = cold_start
    context, config = stage.context, stage.config
    item = data.step_items(0)[0]
    latents = context.adapter.decoder.initial_latents([7], config.resolution, config.resolution).float()

    def gradients_of_loss(recompute: bool) -> dict[str, torch.Tensor]:
        context.optimizer.zero_grad(set_to_none=True)
        images = reconstruct(
            context.policy,
            image=item.sample.image,
            caption=item.sample.captions[0],
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

    grads = gradients_of_loss(recompute=True)
    context.optimizer.zero_grad(set_to_none=True)
    lora = [name for name in grads if ".lora_B." in name and "language_model" in name]
    projector = [name for name in grads if name.startswith("encoder.projector.")]
    assert lora and all(grads[name].abs().sum() > 0 for name in lora)
    assert len(projector) == 4 and all(grads[name].abs().sum() > 0 for name in projector)
    assert not any(p.requires_grad for p in context.policy.transformer.parameters())  # decoder frozen
    plain = gradients_of_loss(recompute=False)
    context.optimizer.zero_grad(set_to_none=True)
    for name in lora + projector:  # step recomputation (gradient checkpointing) changes nothing
        torch.testing.assert_close(grads[name], plain[name], rtol=1e-4, atol=1e-7)
