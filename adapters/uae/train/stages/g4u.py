"""Stage ``g4u`` (Generation for Understanding): GRPO on the encoder's caption tokens.

Per image: ``G`` captions sampled from the encoder (the policy: Qwen + the trained LoRA), each row
with its own seed, exactly as ``run`` samples with the checkpoint (its temperature, top-k, top-p,
repetition penalty; settings the config states are recorded in the checkpoint, so ``run`` uses
them too); their token log-probs, under that filtered distribution, recorded while sampling. The
frozen decoder draws each caption with one fixed per-image seed (so captions alone differ), the
harness's scorers score the reconstructions against the image, and the rewards become per-group
z-scores. Loss per token: PPO-clip of the ratio to the sampling policy, plus ``β`` times the k3 KL
to the reference (the same model with the LoRA switched off); tokens -> caption by
``loss_aggregation``; groups whose rewards are all equal are masked out.
"""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
)

from ...sampling import PerSampleGumbelSampler, SamplingSettings
from ..config import G4UConfig
from ..data import StepItem, derive_seed
from ..grpo import (
    Advantages,
    aggregate_token_loss,
    completion_mask,
    k3_kl,
    ppo_clip_loss,
)
from ..policy import QWEN_INPUT_KEYS, UAEPolicy
from ..rewards import RewardBatch
from ..runtime import RunningMean, StageContext
from .common import GroupStage, step_advantages


def configure(policy: UAEPolicy, config: G4UConfig) -> None:
    policy.train_encoder_lora(rank=config.lora_rank, alpha=config.lora_alpha)


@dataclass
class CaptionGroup:
    """One image's G sampled captions: prompt inputs, completion tokens, recorded log-probs, rewards."""

    item: StepItem
    inputs: dict[str, torch.Tensor]  # the captioning prompt, repeated G times
    completions: torch.Tensor  # [G, T]
    mask: torch.Tensor  # [G, T], 1 up to and including EOS
    old_log_probs: torch.Tensor  # [G, T]
    captions: list[str]
    rewards: RewardBatch | None = None
    advantages: Advantages | None = None


def repeat_inputs(inputs: dict[str, torch.Tensor], times: int) -> dict[str, torch.Tensor]:
    """The processor outputs of one image, repeated for ``times`` sequences (pixel patches included)."""
    return {
        key: inputs[key].repeat(times, *([1] * (inputs[key].dim() - 1)))
        for key in QWEN_INPUT_KEYS
        if key in inputs
    }


def sampler_log_probs(
    logits: torch.Tensor,
    prompt_ids: torch.Tensor,
    completions: torch.Tensor,
    processors: LogitsProcessorList,
) -> torch.Tensor:
    """Log-prob of each completion token under the distribution the sampler draws it from: ``[B, T]``.

    ``log softmax(processors(prefix_t, logits_t))`` at token ``t``, the processors being what
    ``generate`` applies before the Gumbel draw (repetition penalty, banned tokens, temperature,
    top-k, top-p). All ``T`` positions of a row go through the processors as one batch: position
    ``t``'s prefix is the prompt and ``completions[:, :t]``, filled up to one width with the
    prompt's first token, which every prefix already holds (so the repetition penalty sees the same
    set of tokens). A token outside the filtered set gets ``-inf``.
    """
    prompt_length, steps = prompt_ids.shape[1], completions.shape[1]
    positions = torch.arange(prompt_length + steps, device=completions.device)
    visible = positions[None, :] < (prompt_length + torch.arange(steps, device=completions.device))[:, None]
    rows = []
    for row in range(completions.shape[0]):
        sequence = torch.cat([prompt_ids[row], completions[row]])
        prefixes = torch.where(visible, sequence[None, :], prompt_ids[row, 0])
        scores = processors(prefixes, logits[row].float())
        rows.append(torch.log_softmax(scores, dim=-1).gather(-1, completions[row, :, None]).squeeze(-1))
    return torch.stack(rows)


def completion_log_probs(
    policy: UAEPolicy,
    *,
    inputs: dict[str, torch.Tensor],
    completions: torch.Tensor,
    processors: LogitsProcessorList,
    with_reference: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Sampler log-probs of ``completions`` after the prompt, under the policy and (optionally) the reference.

    The vocabulary projection runs one row at a time on the completion positions only, which keeps
    the ``[T, V]`` logits of a 150k-token vocabulary small.
    """
    start = inputs["input_ids"].shape[1]
    sequence = dict(inputs)
    sequence["input_ids"] = torch.cat([inputs["input_ids"], completions], dim=1)
    sequence["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(completions)], dim=1)
    if "mm_token_type_ids" in inputs:  # completion tokens are text (type 0)
        text = torch.zeros_like(completions, dtype=inputs["mm_token_type_ids"].dtype)
        sequence["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], text], dim=1)

    def log_probs() -> torch.Tensor:
        hidden = policy.encoder.model(**sequence).last_hidden_state[:, start - 1 : -1]
        rows = [
            sampler_log_probs(
                policy.encoder.lm_head(hidden[row : row + 1]),
                inputs["input_ids"][row : row + 1],
                completions[row : row + 1],
                processors,
            )
            for row in range(hidden.shape[0])
        ]
        return torch.cat(rows)

    reference = None
    if with_reference:
        with torch.no_grad(), policy.reference():
            reference = log_probs()
    return log_probs(), reference


def run_sampling(config: G4UConfig, run: SamplingSettings) -> SamplingSettings:
    """The caption sampling of g4u: ``run``'s (the adapter's, for this checkpoint) where the config
    leaves a setting at None, the config's value otherwise (the checkpoint then records it, so
    ``run`` samples the same way). The repetition penalty is always the checkpoint's, as in ``run``."""
    return dataclasses.replace(
        run,
        do_sample=True,
        temperature=run.temperature if config.temperature is None else config.temperature,
        top_k=run.top_k if config.top_k is None else config.top_k,
        top_p=run.top_p if config.top_p is None else config.top_p,
        max_new_tokens=config.max_new_tokens,
    )


SAMPLING_ARGS = ("do_sample", "temperature", "top_k", "top_p", "max_new_tokens")


def sampling_adapter_args(settings: SamplingSettings) -> dict[str, str]:
    """The ``--adapter-arg`` values (``SAMPLING_ARGS``) that make ``run`` sample captions as ``settings``."""
    values = (True, settings.temperature, settings.top_k or 0, settings.top_p or 1.0, settings.max_new_tokens)
    return {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in zip(SAMPLING_ARGS, values, strict=True)
    }


class G4UStage(GroupStage[CaptionGroup]):
    def __init__(self, context: StageContext) -> None:
        self.context = context
        self.config: G4UConfig = context.config  # type: ignore[assignment]
        generation = context.policy.encoder.generation_config
        eos = generation.eos_token_id
        self.eos_token_ids = [eos] if isinstance(eos, int) else list(eos)
        self.settings = run_sampling(self.config, context.adapter.encoder.sampling)

    # --- rollouts -----------------------------------------------------------------------------

    def warpers(self) -> LogitsProcessorList:
        """The sampler's warpers, `run`'s own (placeholder tokens banned, then temperature, top-k, top-p)."""
        return self.context.adapter.encoder.caption_warpers(self.settings)

    def processors(self) -> LogitsProcessorList:
        """Everything between the logits and the Gumbel draw: ``generate``'s repetition penalty (the
        checkpoint's, in force in ``run`` too), then :meth:`warpers`."""
        penalty = self.settings.repetition_penalty
        first = [RepetitionPenaltyLogitsProcessor(penalty)] if penalty not in (None, 1.0) else []
        return LogitsProcessorList([*first, *self.warpers()])

    @torch.no_grad()
    def sample_captions(self, item: StepItem, step: int) -> CaptionGroup:
        """G captions of one image, each row seeded by (seed, step, position, row); log-probs recorded."""
        config, adapter = self.config, self.context.adapter
        group = config.group_size
        prompt = repeat_inputs(adapter.encoder.caption_inputs([item.sample.image]), group)
        seeds = [derive_seed(config.seed, "g4u-caption", step, item.position, row) for row in range(group)]
        output = self.context.policy.encoder.generate(
            **prompt,
            logits_processor=LogitsProcessorList([PerSampleGumbelSampler(seeds, self.warpers())]),
            do_sample=False,
            max_new_tokens=config.max_new_tokens,
            output_logits=True,
            return_dict_in_generate=True,
        )
        completions = output.sequences[:, prompt["input_ids"].shape[1] :]
        logits = torch.stack(output.logits, dim=1)
        old_log_probs = sampler_log_probs(logits, prompt["input_ids"], completions, self.processors())
        mask = completion_mask(completions, self.eos_token_ids)
        captions = adapter.encoder.processor.batch_decode(completions, skip_special_tokens=True)
        return CaptionGroup(item, prompt, completions, mask, old_log_probs, captions)

    def rollout(self, item: StepItem, step: int) -> CaptionGroup:
        return self.sample_captions(item, step)

    @torch.no_grad()
    def score(self, groups: list[CaptionGroup]) -> None:
        """Reconstruct every caption with its image's fixed seed (frozen decoder), score, advantages."""
        config, context = self.config, self.context
        reference = config.condition_with == "reference"
        for group in groups:
            seed = derive_seed(config.seed, "g4u-reconstruction", group.item.sample.id)
            with context.policy.reference() if reference else nullcontext():
                images = context.adapter.generate(
                    group.captions,
                    seeds=[seed] * len(group.captions),
                    size=(config.resolution, config.resolution),
                )
            group.rewards = context.reward.score([group.item.sample] * len(images), images)
        for group, advantages in zip(groups, step_advantages(context, groups), strict=True):
            group.advantages = advantages

    # --- update -------------------------------------------------------------------------------

    def sample_losses(self, group: CaptionGroup, running: RunningMean) -> torch.Tensor:
        """Per-caption loss of one group (zero-variance groups masked), with its metrics recorded."""
        config = self.config
        assert group.advantages is not None
        log_probs, reference = self.context.model(
            completion_log_probs,
            inputs=group.inputs,
            completions=group.completions,
            processors=self.processors(),
            with_reference=config.kl_beta > 0,
        )
        # Filtered sampling (top-k/top-p) gives -inf to tokens outside the kept set: the padding past
        # EOS (no loss there) and a sampled token the updated policy or the reference no longer keeps
        # (ratio 0, so no PPO gradient; no KL term, which is infinite there).
        mask = group.mask
        inside = mask.bool()
        log_probs = torch.where(inside, log_probs, 0.0)
        objective = ppo_clip_loss(
            log_probs,
            torch.where(inside, group.old_log_probs, 0.0),
            group.advantages.values.unsqueeze(1),
            clip_low=config.clip_epsilon,
            clip_high=config.clip_epsilon_high,
        )
        per_token = objective.loss
        tokens = mask.sum().clamp(min=1)
        if reference is not None:
            kept = torch.isfinite(log_probs) & torch.isfinite(reference)
            kl = k3_kl(torch.where(kept, log_probs, 0.0), torch.where(kept, reference, 0.0))
            kl = torch.where(kept, kl, 0.0)
            per_token = per_token + config.kl_beta * kl
            running.add("kl", (kl.detach() * mask).sum() / tokens)
        ratio = objective.ratio.detach()
        running.add("clip_fraction", (objective.clipped.float() * mask).sum() / tokens)
        running.add("ratio_mean", (ratio * mask).sum() / tokens)
        running.add("ratio_max_deviation", ((ratio - 1).abs() * mask).max())
        per_sample = aggregate_token_loss(
            per_token, mask, config.loss_aggregation, max_completion_length=config.max_new_tokens
        )
        return per_sample * group.advantages.sample_weights

    def accumulate(self, groups: list[CaptionGroup], running: RunningMean) -> None:
        """One backward pass per group: the gradient of the step's loss.

        The loss is the mean over the captions that train, across every process: zero-variance
        groups carry weight 0 and are left out of the count (the rule both RL stages follow, as
        Flow-GRPO drops them and DAPO's dynamic sampling filters them), so the step size does not
        shrink with the number of masked groups. ``token_mean`` counts the tokens of those captions.
        """
        context, config = self.context, self.config
        token_mean = config.loss_aggregation == "token_mean"

        def trained(group: CaptionGroup) -> float:
            assert group.advantages is not None
            weights = group.advantages.sample_weights
            return float((weights * group.mask.sum(dim=1)).sum() if token_mean else weights.sum())

        # Each process divides by the global count over the process count: DDP averages gradients.
        total = context.sum(sum(trained(group) for group in groups))
        normaliser = max(total / context.accelerator.num_processes, 1e-8)
        for index, group in enumerate(groups):
            with context.micro_step(last=index == len(groups) - 1):
                per_sample = self.sample_losses(group, running)
                context.backward(per_sample.sum() / normaliser)
            running.add("loss", per_sample.detach().sum() / config.group_size)

    def caption_lengths(self, groups: list[CaptionGroup]) -> torch.Tensor:
        """Tokens of each caption, its EOS not counted."""
        return torch.cat([group.mask.sum(dim=1) - self.ended(group) for group in groups])

    def ended(self, group: CaptionGroup) -> torch.Tensor:
        """1 for captions that stopped at an EOS token (not counted in the caption length)."""
        last = (group.mask.sum(dim=1).long() - 1).clamp(min=0)
        final_tokens = group.completions.gather(1, last.unsqueeze(1)).squeeze(1)
        return torch.isin(final_tokens, torch.tensor(self.eos_token_ids, device=final_tokens.device)).float()
