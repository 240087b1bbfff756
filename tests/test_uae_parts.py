"""UAE adapter building blocks that need no checkpoint: sampling, weight-name matching, call sharing."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import GenerationConfig, LogitsProcessorList

from unified_bench.errors import InputError, MissingWeightsError
from unified_bench_adapters.uae.adapter import share_calls
from unified_bench_adapters.uae.checkpoint import CheckpointOverride, processor_source
from unified_bench_adapters.uae.config import UAEConfig
from unified_bench_adapters.uae.sampling import PerSampleGumbelSampler, SamplingSettings
from unified_bench_adapters.uae.weights import canonical_key


@pytest.mark.parametrize(
    "name",
    [
        "model.base_model.model.layers.0.self_attn.q_proj.lora_A.default.weight",  # demo.py state dict
        "base_model.model.layers.0.self_attn.q_proj.lora_A.weight",  # PEFT adapter of the language model
        "base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight",  # PEFT, full model
        "model.language_model.layers.0.self_attn.q_proj.lora_A.default.weight",  # our injected layers
    ],
)
def test_lora_tensor_names_from_every_layout_meet_in_one_spelling(name):
    assert canonical_key(name) == "model.language_model.layers.0.self_attn.q_proj.lora_A.weight"


def test_transformers_4_50_base_names_map_to_the_nested_layout():
    assert canonical_key("visual.blocks.0.attn.qkv.weight") == "model.visual.blocks.0.attn.qkv.weight"
    assert canonical_key("model.norm.weight") == "model.language_model.norm.weight"
    assert canonical_key("projector.0.weight") == "projector.0.weight"
    assert canonical_key("lm_head.weight") == "lm_head.weight"


def test_gumbel_noise_of_a_row_depends_only_on_its_seed():
    scores = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    ids = torch.zeros(3, 1, dtype=torch.long)
    together = PerSampleGumbelSampler([5, 6, 7], LogitsProcessorList())(ids, scores.clone())
    alone = PerSampleGumbelSampler([6], LogitsProcessorList())(ids[1:2], scores[1:2].clone())
    assert torch.equal(together[1], alone[0])
    assert not torch.equal(together[0], together[2])


def test_argmax_of_gumbel_perturbed_logits_samples_the_softmax():
    probabilities = torch.tensor([0.1, 0.2, 0.3, 0.4])
    sampler = PerSampleGumbelSampler([11], LogitsProcessorList())
    ids = torch.zeros(1, 1, dtype=torch.long)
    draws = 4000
    counts = torch.zeros(4)
    for _ in range(draws):
        counts[sampler(ids, probabilities.log()[None].clone()).argmax()] += 1
    tolerance = 4 * math.sqrt(0.25 / draws)  # four standard errors
    assert torch.allclose(counts / draws, probabilities, atol=tolerance)


def test_top_k_and_top_p_come_from_the_checkpoint_unless_given():
    checkpoint = GenerationConfig(top_k=1, top_p=0.001, repetition_penalty=1.05)
    inherited = SamplingSettings.resolve(
        checkpoint, do_sample=True, temperature=0.7, top_k=None, top_p=None, max_new_tokens=8
    )
    assert (inherited.top_k, inherited.top_p, inherited.repetition_penalty) == (1, 0.001, 1.05)
    explicit = SamplingSettings.resolve(
        checkpoint, do_sample=True, temperature=0.7, top_k=0, top_p=1.0, max_new_tokens=8
    )
    assert explicit.warpers()[0].temperature == 0.7 and len(explicit.warpers()) == 1
    library = SamplingSettings.resolve(
        GenerationConfig(), do_sample=True, temperature=0.7, top_k=None, top_p=None, max_new_tokens=8
    )
    assert (library.top_k, library.top_p) == (50, 1.0)  # transformers' own defaults, as demo.py got
    greedy = SamplingSettings.resolve(
        checkpoint, do_sample=False, temperature=0.7, top_k=None, top_p=None, max_new_tokens=8
    )
    assert len(greedy.warpers()) == 0
    assert greedy.greedy_generation_config(checkpoint).do_sample is False


def test_only_equal_length_samples_share_a_call_unless_batch_invariant():
    assert share_calls([43, 48, 43, 43], batch_invariant=False) == [[0, 2, 3], [1]]
    assert share_calls([43, 48, 43], batch_invariant=True) == [[0], [1], [2]]


def test_config_defaults_are_the_demo_settings():
    config = UAEConfig()
    assert (config.temperature, config.max_new_tokens, config.do_sample) == (0.7, 512, True)
    assert (config.height, config.width, config.num_inference_steps) == (1024, 1024, 40)
    assert config.guidance_scale == 5.0
    assert (config.min_pixels, config.max_pixels, config.generate_role) == (3136, 65536, "generate")
    assert config.caption_prompt.startswith("You are an expert vision-language model.  \nYour task is:")


def test_processor_comes_from_the_first_folder_that_has_a_tokenizer(tmp_path):
    (tmp_path / "llm_model_preprocessor").mkdir()
    (tmp_path / "llm_model_preprocessor" / "preprocessor_config.json").write_text("{}")  # as on GitHub
    (tmp_path / "llm_model").mkdir()
    with pytest.raises(MissingWeightsError, match=r"processor=Qwen/Qwen2\.5-VL-3B-Instruct"):
        processor_source(tmp_path, None)
    (tmp_path / "llm_model" / "tokenizer.json").write_text("{}")
    assert processor_source(tmp_path, None) == str(tmp_path / "llm_model")
    (tmp_path / "llm_model_preprocessor" / "tokenizer_config.json").write_text("{}")
    assert processor_source(tmp_path, None) == str(tmp_path / "llm_model_preprocessor")
    assert processor_source(tmp_path, "Qwen/Qwen2.5-VL-3B-Instruct") == "Qwen/Qwen2.5-VL-3B-Instruct"


def test_checkpoint_override_needs_at_least_one_known_part(tmp_path):
    with pytest.raises(MissingWeightsError, match="no such directory"):
        CheckpointOverride.from_dir(str(tmp_path / "absent"))
    with pytest.raises(InputError, match="found none of them"):
        CheckpointOverride.from_dir(str(tmp_path))
    (tmp_path / "dit_lora").mkdir()
    override = CheckpointOverride.from_dir(str(tmp_path))
    assert (override.dit_lora, override.llm_lora, override.projector) == (tmp_path / "dit_lora", None, None)
