"""Per-sample random draws inside one batched autoregressive ``generate`` (imports torch: use lazily).

``generate(do_sample=True)`` draws all rows from one shared RNG, so a sample's caption (or image tokens)
would change with its neighbours in the batch. Instead decoding runs greedy, with a logits processor
that applies temperature / top-k / top-p and adds Gumbel noise from a generator owned by each row:
``argmax(logits + Gumbel)`` is an exact draw from ``softmax(logits)`` (the Gumbel-max trick). The noise
is drawn on the CPU, so a seed gives the same draws on any device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from transformers import (
    EpsilonLogitsWarper,
    EtaLogitsWarper,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopHLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

_LIBRARY_TOP_K = 50  # what generate() uses when neither the caller nor the checkpoint sets top_k
# Sampling-only fields that a greedy GenerationConfig must not carry (transformers warns about them).
SAMPLING_FIELDS = (
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
    "epsilon_cutoff",
    "eta_cutoff",
    "top_h",
)
# Below this top-p (or at top-k 1) sampling keeps a single token almost always: effectively greedy.
_GREEDY_TOP_P = 0.01


class CaptionSamplingConfig(Protocol):
    """The caption settings every sampling adapter's config carries."""

    caption_temperature: float
    caption_top_k: int | None
    caption_top_p: float | None


@dataclass(frozen=True)
class TokenSampling:
    """How tokens are drawn: ``temperature == 0`` means greedy; ``None`` warpers mean off.

    Besides temperature / top-k / top-p, the filters a checkpoint's generation_config may switch on
    (``min_p``, ``typical_p``, ``epsilon_cutoff``, ``eta_cutoff``, ``top_h``) are carried, and applied
    in the order ``generate(do_sample=True)`` applies them.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    typical_p: float | None = None
    epsilon_cutoff: float | None = None
    eta_cutoff: float | None = None
    top_h: float | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k is not None and self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 = off), got {self.top_k}")

    @classmethod
    def resolve(
        cls, checkpoint: GenerationConfig, temperature: float, top_k: int | None, top_p: float | None
    ) -> TokenSampling:
        """Explicit values win; ``None`` top-k/top-p come from the checkpoint's generation_config.json,
        then transformers' defaults (top-k 50, top-p 1.0): what ``generate(do_sample=True)`` would use.
        ``top_k=0`` / ``top_p=1`` switch them off. The other filters always come from the checkpoint."""
        if top_k is None:
            top_k = checkpoint.top_k if checkpoint.top_k is not None else _LIBRARY_TOP_K
        if top_p is None:
            top_p = checkpoint.top_p if checkpoint.top_p is not None else 1.0
        return cls(
            temperature=temperature,
            top_k=top_k or None,
            top_p=top_p,
            min_p=getattr(checkpoint, "min_p", None),
            typical_p=getattr(checkpoint, "typical_p", None),
            epsilon_cutoff=getattr(checkpoint, "epsilon_cutoff", None),
            eta_cutoff=getattr(checkpoint, "eta_cutoff", None),
            top_h=getattr(checkpoint, "top_h", None),
        )

    @classmethod
    def for_captions(cls, checkpoint: GenerationConfig, config: CaptionSamplingConfig) -> TokenSampling:
        """``resolve`` with an adapter config's caption settings."""
        return cls.resolve(checkpoint, config.caption_temperature, config.caption_top_k, config.caption_top_p)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def greedy_warning(self, what: str) -> str | None:
        """One line saying that ``what`` is sampled in name only, or None when it really samples."""
        if self.greedy:
            return None
        return greedy_sampling_warning(what, self.temperature, self.top_k, self.top_p)

    def warpers(self, device: str | torch.device = "cpu") -> LogitsProcessorList:
        """The warpers ``generate(do_sample=True)`` builds from these settings, in its order."""
        warpers = LogitsProcessorList()
        if self.greedy:
            return warpers
        if self.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(self.temperature))
        if self.top_h is not None:
            warpers.append(TopHLogitsWarper(top_h=self.top_h))
        if self.top_k:
            warpers.append(TopKLogitsWarper(top_k=self.top_k))
        if self.top_p is not None and self.top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p=self.top_p))
        if self.min_p is not None:
            warpers.append(MinPLogitsWarper(min_p=self.min_p))
        if self.typical_p is not None and self.typical_p < 1.0:
            warpers.append(TypicalLogitsWarper(mass=self.typical_p))
        if self.epsilon_cutoff is not None and 0.0 < self.epsilon_cutoff < 1.0:
            warpers.append(EpsilonLogitsWarper(epsilon=self.epsilon_cutoff))
        if self.eta_cutoff is not None and 0.0 < self.eta_cutoff < 1.0:
            warpers.append(EtaLogitsWarper(epsilon=self.eta_cutoff, device=str(device)))
        return warpers


def greedy_sampling_warning(
    what: str, temperature: float, top_k: int | None, top_p: float | None
) -> str | None:
    """One line when sampling settings (almost) always keep a single token: seeds then change nothing.

    Some copies of a checkpoint's generation_config.json ship ``top_k=1`` or a tiny ``top_p``; inherited
    silently, they turn the protocol's "sample at temperature 0.7" into greedy decoding.
    """
    if top_k != 1 and (top_p is None or top_p >= _GREEDY_TOP_P):
        return None
    return (
        f"{what} sampling at temperature {temperature} is effectively greedy (top_k={top_k}, top_p={top_p}): "
        "seeds and temperature change nothing; pass top_k / top_p adapter args to sample."
    )


class PerRowSampler(LogitsProcessor):
    """Makes greedy decoding sample row ``i`` from ``torch.Generator().manual_seed(seeds[i])`` only.

    Put it last in the processor list (after guidance and constraints): it warps the final scores and
    adds the noise, and the greedy argmax then picks the sample. A fresh instance per ``generate`` call.
    """

    def __init__(self, seeds: list[int], sampling: TokenSampling) -> None:
        self.sampling = sampling
        self._warpers: LogitsProcessorList | None = None
        self._generators = [torch.Generator(device="cpu").manual_seed(int(seed)) for seed in seeds]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.shape[0] != len(self._generators):
            raise ValueError(f"{scores.shape[0]} rows of scores for {len(self._generators)} seeds")
        if self.sampling.greedy:
            return scores
        if self._warpers is None:
            self._warpers = self.sampling.warpers(scores.device)
        scores = self._warpers(input_ids, scores.float())
        return scores + gumbel_noise(self._generators, scores.shape[-1]).to(scores.device)


def gumbel_noise(generators: list[torch.Generator], vocab_size: int) -> torch.Tensor:
    """``[rows, vocab_size]`` float32 standard Gumbel noise, row ``i`` from ``generators[i]`` (CPU)."""
    tiny = torch.finfo(torch.float32).tiny
    uniform = torch.stack(
        [torch.rand(vocab_size, generator=generator, dtype=torch.float32) for generator in generators]
    ).clamp_(min=tiny)
    return -torch.log(-torch.log(uniform))


def greedy_generation_config(base: GenerationConfig, **overrides: object) -> GenerationConfig:
    """A copy of a checkpoint's generation config (EOS, pad, special ids kept) switched to greedy."""
    config = GenerationConfig.from_dict(base.to_dict())
    config.do_sample = False
    config.num_beams = 1
    # The library defaults, not None: generate() would refill None from the checkpoint's sampling
    # values and warn that greedy decoding ignores them.
    defaults = GenerationConfig._get_default_generation_params()
    for name in SAMPLING_FIELDS:
        if hasattr(config, name):
            setattr(config, name, defaults.get(name))
    config.max_length = None
    for name, value in overrides.items():
        setattr(config, name, value)
    return config
