"""unified_bench.sampling: per-row Gumbel-max sampling, exact in distribution and blind to the batch."""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig

from unified_bench.sampling import PerRowSampler, TokenSampling, greedy_generation_config

LOGITS = torch.tensor([2.0, 1.0, 0.0, -1.0])


def _draws(sampler: PerRowSampler, scores: torch.Tensor, steps: int) -> torch.Tensor:
    ids = torch.zeros((scores.shape[0], 1), dtype=torch.long)
    return torch.stack([sampler(ids, scores.clone()).argmax(-1) for _ in range(steps)], dim=1)


def test_greedy_argmax_of_the_noisy_scores_is_a_sample_of_the_softmax():
    rows = 4000
    sampler = PerRowSampler(list(range(rows)), TokenSampling(temperature=1.0))
    tokens = _draws(sampler, LOGITS.repeat(rows, 1), steps=1).flatten()
    frequencies = torch.bincount(tokens, minlength=4).float() / rows
    assert torch.allclose(frequencies, torch.softmax(LOGITS, -1), atol=0.03)


@pytest.mark.parametrize(
    ("sampling", "expected"),
    [
        # softmax(logits / T), written out: T = 0.7 sharpens the distribution
        (TokenSampling(temperature=0.7), torch.exp(LOGITS / 0.7) / torch.exp(LOGITS / 0.7).sum()),
        # top-p 0.8 keeps the smallest head whose mass reaches 0.8: tokens 0 and 1, renormalised
        (
            TokenSampling(temperature=1.0, top_p=0.8),
            torch.tensor([LOGITS[0].exp(), LOGITS[1].exp(), 0, 0]) / (LOGITS[0].exp() + LOGITS[1].exp()),
        ),
        # top-k 3 drops the last token
        (TokenSampling(temperature=1.0, top_k=3), torch.cat([torch.softmax(LOGITS[:3], -1), torch.zeros(1)])),
    ],
    ids=["temperature-0.7", "top-p-0.8", "top-k-3"],
)
def test_warped_draws_follow_the_warped_softmax(sampling, expected):
    rows = 4000
    tokens = _draws(PerRowSampler(list(range(rows)), sampling), LOGITS.repeat(rows, 1), steps=1).flatten()
    frequencies = torch.bincount(tokens, minlength=4).float() / rows
    assert torch.allclose(frequencies, expected.float(), atol=0.03)


def test_a_row_draws_the_same_tokens_alone_or_in_a_batch():
    scores = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    batched = _draws(PerRowSampler([7, 8, 9], TokenSampling(0.8)), scores, steps=20)
    alone = _draws(PerRowSampler([8], TokenSampling(0.8)), scores[1:2], steps=20)
    assert torch.equal(alone[0], batched[1])
    other_seed = _draws(PerRowSampler([80], TokenSampling(0.8)), scores[1:2], steps=20)
    assert not torch.equal(other_seed[0], batched[1])


def test_top_k_one_and_temperature_zero_are_greedy():
    scores = LOGITS.repeat(5, 1)
    assert (_draws(PerRowSampler(list(range(5)), TokenSampling(1.0, top_k=1)), scores, 10) == 0).all()
    greedy = PerRowSampler([1], TokenSampling(temperature=0))
    assert torch.equal(greedy(torch.zeros((1, 1), dtype=torch.long), LOGITS[None]), LOGITS[None])


def test_unset_top_k_and_top_p_come_from_the_checkpoint_then_the_library():
    assert TokenSampling.resolve(GenerationConfig(top_k=7, top_p=0.9), 0.7, None, None) == TokenSampling(
        0.7, 7, 0.9
    )
    assert TokenSampling.resolve(GenerationConfig(), 0.7, None, None) == TokenSampling(0.7, 50, 1.0)
    assert TokenSampling.resolve(GenerationConfig(top_k=7), 0.7, 0, 0.5) == TokenSampling(0.7, None, 0.5)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="temperature"):
        TokenSampling(temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        TokenSampling(top_p=0)


def test_the_greedy_config_keeps_the_checkpoints_special_tokens():
    base = GenerationConfig(do_sample=True, top_k=5, temperature=0.3, eos_token_id=4, pad_token_id=2)
    greedy = greedy_generation_config(base, max_new_tokens=9)
    assert not greedy.do_sample and greedy.max_new_tokens == 9
    assert (greedy.eos_token_id, greedy.pad_token_id) == (4, 2)
    assert greedy.top_k == 50 and greedy.temperature == 1.0  # library defaults: nothing to warn about
