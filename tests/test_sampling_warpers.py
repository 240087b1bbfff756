"""unified_bench.sampling: the warpers a checkpoint asks for, applied as generate(do_sample=True) would."""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

from unified_bench.sampling import TokenSampling, greedy_sampling_warning

CHECKPOINT_FILTERS = {"min_p": 0.05, "typical_p": 0.9, "epsilon_cutoff": 3e-4, "eta_cutoff": 2e-3}


@pytest.fixture(scope="module")
def tiny_lm():
    config = LlamaConfig(vocab_size=64, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1)  # fmt: skip
    return LlamaForCausalLM(config)


def _library_warpers(model, config: GenerationConfig):
    """The processors transformers' own generate() builds for a sampling config."""
    return model._get_logits_processor(generation_config=config, input_ids_seq_length=1, device="cpu")


@pytest.mark.parametrize(
    "filters", [CHECKPOINT_FILTERS, {"min_p": 0.2}, {"typical_p": 0.5}, {"eta_cutoff": 0.01}]
)
def test_warpers_equal_what_generate_builds_from_the_checkpoint(tiny_lm, filters):
    checkpoint = GenerationConfig(top_k=20, top_p=0.8, **filters)
    ours = TokenSampling.resolve(checkpoint, temperature=0.7, top_k=None, top_p=None).warpers()
    library = _library_warpers(tiny_lm, GenerationConfig(do_sample=True, temperature=0.7, top_k=20, top_p=0.8,
                                                         **filters))  # fmt: skip
    assert [type(w) for w in ours] == [type(w) for w in library]
    scores = torch.randn(6, 64, generator=torch.Generator().manual_seed(0)) * 3
    ids = torch.zeros((6, 1), dtype=torch.long)
    torch.testing.assert_close(ours(ids, scores.clone()), library(ids, scores.clone()), rtol=0, atol=0)


def test_explicit_top_k_top_p_win_over_the_checkpoint_and_zero_switches_top_k_off():
    checkpoint = GenerationConfig(top_k=1, top_p=0.001)
    pinned = TokenSampling.resolve(checkpoint, 0.7, top_k=50, top_p=1.0)
    assert (pinned.top_k, pinned.top_p) == (50, 1.0)
    assert TokenSampling.resolve(checkpoint, 0.7, top_k=0, top_p=None).top_k is None


@pytest.mark.parametrize(
    ("top_k", "top_p", "greedy"),
    [
        (1, None, True),
        (None, 0.001, True),
        (1, 0.001, True),
        (50, 1.0, False),
        (None, 0.9, False),
        (2, 0.5, False),
    ],
)
def test_effectively_greedy_settings_get_one_warning_line(top_k, top_p, greedy):
    warning = greedy_sampling_warning("caption", 0.7, top_k, top_p)
    assert (warning is not None) == greedy
    if greedy:
        assert "\n" not in warning and "effectively greedy" in warning
    assert (TokenSampling(0.7, top_k, top_p).greedy_warning("caption") is not None) == greedy
    assert TokenSampling(0.0, top_k, top_p).greedy_warning("caption") is None  # asked for greedy: no news


def test_uae_warns_when_its_checkpoint_makes_sampling_greedy():
    from unified_bench_adapters.uae.adapter import UAEAdapter
    from unified_bench_adapters.uae.config import UAEConfig
    from unified_bench_adapters.uae.tiny import TINY_DEFAULTS, ensure_tiny_checkpoint

    root = ensure_tiny_checkpoint()

    def warnings(**settings) -> list[str]:
        config = UAEConfig(**{**TINY_DEFAULTS, "max_new_tokens": 4, **settings})
        return UAEAdapter.from_pretrained(str(root), config, device="cpu", dtype="float32").info()["warnings"]

    assert warnings(top_k=50, top_p=1.0) == []
    (warning,) = warnings(top_k=1)
    assert "effectively greedy" in warning and "top_k=1" in warning
