"""The uae adapter conditions SD3 as the release's demo.py did under the transformers 4.50 it pins.

* demo.py right-pads the negative prompt and the prompt to one length and keeps the padding states;
  under 4.50 Qwen2.5-VL gave a text-only batch the positions ``(mask.cumsum(-1) - 1)`` with padding
  at 1, so the padding states (which SD3 attends to) must come from those positions;
* demo.py's processor used the PIL ("slow") Qwen2-VL image processor;
* demo.py drew its initial latents with a CUDA generator in the pipeline's dtype (bfloat16).
"""

from __future__ import annotations

import pytest
import torch

from unified_bench_adapters.uae.adapter import UAEAdapter
from unified_bench_adapters.uae.config import UAEConfig
from unified_bench_adapters.uae.decoder import latent_draw_placement
from unified_bench_adapters.uae.tiny import TINY_DEFAULTS, ensure_tiny_checkpoint

LONG_PROMPT = "a very long prompt about a red cat sitting on a wooden chair next to a window " * 2


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> UAEAdapter:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path_factory.mktemp("uae-cache")))
        root = ensure_tiny_checkpoint()
    config = UAEConfig(**{**TINY_DEFAULTS, "max_new_tokens": 4})
    return UAEAdapter.from_pretrained(str(root), config, device="cpu", dtype="float32")


def test_padded_negative_gets_the_position_ids_transformers_4_50_gave_it(adapter):
    encoder = adapter.encoder
    ids = encoder.generate_role_ids([encoder.config.negative_prompt, LONG_PROMPT])
    mask = ids.ne(encoder.pad_token_id)
    assert not mask[0].all() and mask[1].all()  # the negative is the padded row
    # transformers 4.50, Qwen2_5_VL get_rope_index, text-only branch with an attention mask:
    positions_4_50 = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 1)
    with torch.no_grad():
        hidden = encoder.model.model(
            input_ids=ids, attention_mask=mask, position_ids=positions_4_50[None].expand(3, -1, -1)
        ).last_hidden_state
        expected = encoder.model.projector(hidden)
        negative, positive = encoder.project_pair(LONG_PROMPT)
    torch.testing.assert_close(negative, expected[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(positive, expected[1], rtol=1e-5, atol=1e-6)

    # The padding positions are what the test is about: numbered on (n, n+1, ...) they differ.
    numbered = torch.arange(ids.shape[1]).expand_as(ids)
    with torch.no_grad():
        other = encoder.model.model(
            input_ids=ids, attention_mask=mask, position_ids=numbered[None].expand(3, -1, -1)
        ).last_hidden_state
    padding = ~mask[0]
    assert not torch.allclose(encoder.model.projector(other)[0][padding], negative[padding], atol=1e-5)


def test_encoder_uses_the_pil_qwen2_vl_image_processor(adapter):
    processor = adapter.encoder.processor.image_processor
    assert type(processor).__name__ == "Qwen2VLImageProcessorPil"
    assert dict(processor.size) == {"shortest_edge": 3136, "longest_edge": 65536}  # from the checkpoint
    assert adapter.encoder.info()["image_processor"] == "Qwen2VLImageProcessorPil"


def test_initial_latents_are_drawn_on_cuda_in_the_model_dtype_and_on_cpu_in_float32():
    cuda = torch.device("cuda:1")
    assert latent_draw_placement(cuda, torch.bfloat16) == (cuda, torch.bfloat16)
    assert latent_draw_placement(torch.device("cpu"), torch.bfloat16) == (torch.device("cpu"), torch.float32)


def test_cpu_latents_depend_on_each_seed_alone(adapter):
    decoder = adapter.decoder
    together = decoder.initial_latents([5, 9], 64, 64)
    alone = decoder.initial_latents([9], 64, 64)
    channels = decoder.pipeline.transformer.config.in_channels
    scale = decoder.pipeline.vae_scale_factor
    expected = torch.randn(
        (1, channels, 64 // scale, 64 // scale), generator=torch.Generator().manual_seed(9)
    )
    torch.testing.assert_close(together[1:], alone)
    torch.testing.assert_close(alone, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_latents_are_demo_pys_draw():
    from diffusers.utils.torch_utils import randn_tensor

    from unified_bench_adapters.uae.decoder import UAEDecoder

    class _Pipeline:  # only what initial_latents reads
        vae_scale_factor = 8

        class transformer:
            config = type("Config", (), {"in_channels": 16})

    pooled = torch.zeros(1, 4, device="cuda", dtype=torch.bfloat16)
    decoder = UAEDecoder(_Pipeline(), pooled, None)
    ours = decoder.initial_latents([42, 7], 1024, 1024)
    for row, seed in enumerate((42, 7)):
        generator = torch.Generator(device="cuda").manual_seed(seed)
        release = randn_tensor(
            (1, 16, 128, 128), generator=generator, device=pooled.device, dtype=torch.bfloat16
        )
        assert torch.equal(ours[row : row + 1], release)
