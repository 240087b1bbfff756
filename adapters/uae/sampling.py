"""Per-sample seeded token sampling inside one batched ``generate`` call.

``generate(do_sample=True)`` draws every row from one shared RNG, so a caption would depend on
its neighbours in the batch. Instead we run greedy decoding with a logits processor that applies
the sampling warpers (temperature, top-k, top-p, min-p) and adds Gumbel noise drawn from a
generator owned by each row: argmax(logits + Gumbel) is an exact sample from softmax(logits)
(the Gumbel-max trick). Noise is drawn on the CPU, so a seed gives the same draws on any device.
The noise itself is ``unified_bench.sampling.gumbel_noise``, shared with the other adapters; UAE
keeps its own settings (min-p, repetition penalty, demo.py's gap filling).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from unified_bench.sampling import SAMPLING_FIELDS, gumbel_noise

# What `generate` uses when neither the caller nor the checkpoint sets them (transformers defaults).
_LIBRARY_TOP_K = 50
_LIBRARY_TOP_P = 1.0


@dataclass(frozen=True)
class SamplingSettings:
    """The effective caption sampling settings (config values, gaps filled from the checkpoint)."""

    do_sample: bool
    temperature: float
    top_k: int | None
    top_p: float | None
    min_p: float | None
    repetition_penalty: float | None
    max_new_tokens: int

    @classmethod
    def resolve(
        cls,
        checkpoint_config: GenerationConfig,
        *,
        do_sample: bool,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        max_new_tokens: int,
    ) -> SamplingSettings:
        """Explicit values win; ``None`` top-k/top-p come from the checkpoint's generation_config.json,
        then from transformers' defaults (top-k 50, top-p 1.0), as in demo.py's ``generate`` call."""
        if not do_sample:
            top_k = top_p = min_p = None
        else:
            if top_k is None:
                top_k = checkpoint_config.top_k if checkpoint_config.top_k is not None else _LIBRARY_TOP_K
            if top_p is None:
                top_p = checkpoint_config.top_p if checkpoint_config.top_p is not None else _LIBRARY_TOP_P
            min_p = checkpoint_config.min_p
        return cls(
            do_sample=do_sample,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            min_p=min_p,
            repetition_penalty=checkpoint_config.repetition_penalty,
            max_new_tokens=max_new_tokens,
        )

    def warpers(self) -> LogitsProcessorList:
        """The warpers ``generate`` would apply when sampling, in its order."""
        warpers = LogitsProcessorList()
        if not self.do_sample:
            return warpers
        if self.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(self.temperature))
        if self.top_k:
            warpers.append(TopKLogitsWarper(top_k=self.top_k))
        if self.top_p is not None and self.top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p=self.top_p))
        if self.min_p is not None:
            warpers.append(MinPLogitsWarper(min_p=self.min_p))
        return warpers

    def greedy_generation_config(self, checkpoint_config: GenerationConfig) -> GenerationConfig:
        """The checkpoint's config (EOS, pad, repetition penalty...) switched to greedy decoding."""
        config = GenerationConfig.from_dict(checkpoint_config.to_dict())
        config.do_sample = False
        for name in SAMPLING_FIELDS:
            if hasattr(config, name):
                setattr(config, name, None)
        config.max_new_tokens = self.max_new_tokens
        config.max_length = None
        return config


class PerSampleGumbelSampler(LogitsProcessor):
    """Applies the sampling warpers, then adds Gumbel noise from row ``i``'s own generator.

    Used with greedy decoding, row ``i``'s token at step ``t`` depends only on its logits and the
    ``t``-th draw of ``torch.Generator().manual_seed(seeds[i])``.
    """

    def __init__(self, seeds: list[int], warpers: LogitsProcessorList) -> None:
        self.generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
        self.warpers = warpers

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.shape[0] != len(self.generators):
            raise ValueError(f"got {scores.shape[0]} rows of scores for {len(self.generators)} seeds")
        scores = self.warpers(input_ids, scores)
        gumbel = gumbel_noise(self.generators, scores.shape[-1])
        return scores + gumbel.to(device=scores.device, dtype=scores.dtype)
