"""UAE's `native` protocol: the decoder is conditioned on caption tokens read with the image in context."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from unified_bench.errors import InputError
from unified_bench_adapters.uae.adapter import UAEAdapter
from unified_bench_adapters.uae.config import UAEConfig
from unified_bench_adapters.uae.tiny import TINY_DEFAULTS, ensure_tiny_checkpoint


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path_factory.mktemp("uae-cache")))
        return ensure_tiny_checkpoint()


def _load(root, protocol: str) -> UAEAdapter:
    config = UAEConfig(**{**TINY_DEFAULTS, "max_new_tokens": 12})
    return UAEAdapter.from_pretrained(str(root), config, device="cpu", dtype="float32", protocol=protocol)


@pytest.fixture(scope="module")
def native(tiny_root) -> UAEAdapter:
    return _load(tiny_root, "native")


def _image(seed: int) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 256, (64, 64, 3), dtype=np.uint8))


def test_positive_embeddings_are_the_caption_token_states_with_the_image_in_context(native):
    image, caption = _image(0), "a red square on a blue field"
    negative, positive = native.encoder.project_native_pair(image, caption)
    inputs, mask = native.encoder.caption_answer_inputs(image, caption)
    with torch.inference_mode():
        hidden = native.encoder.model.model(
            **{k: v for k, v in inputs.items() if k != "labels"}
        ).last_hidden_state
        expected = native.encoder.model.projector(hidden[mask])
    assert negative.shape == positive.shape
    torch.testing.assert_close(positive[: expected.shape[0]], expected, rtol=1e-4, atol=1e-5)


def test_native_images_depend_on_the_reference_image_and_text_images_do_not(tiny_root, native):
    caption = "a red square on a blue field"
    first = native.generate([caption], seeds=[3], references=[_image(0)])[0]
    second = native.generate([caption], seeds=[3], references=[_image(1)])[0]
    again = native.generate([caption], seeds=[3], references=[_image(0)])[0]
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(second))
    text = _load(tiny_root, "text").generate([caption], seeds=[3])[0]
    assert not np.array_equal(np.asarray(first), np.asarray(text))


def test_native_generate_without_references_is_refused(native):
    with pytest.raises(InputError, match="reference image"):
        native.generate(["a cat"], seeds=[1])


def test_unknown_protocol_is_refused(tiny_root):
    with pytest.raises(InputError, match="--protocol"):
        _load(tiny_root, "latent")


def test_run_with_protocol_native_records_it(cli, tmp_path):
    output = tmp_path / "native"
    result = cli(
        "run",
        "--model",
        "uae-tiny",
        "--dataset",
        "samples",
        "--limit",
        "2",
        "--output",
        output,
        "--protocol",
        "native",
        "--scorer",
        "ssim",
    )
    assert result.code == 0, result.err
    results = json.loads((output / "results.json").read_text())
    assert results["protocol"] == "native"
    assert results["model"]["info"]["protocol"] == "native"
    refused = cli(
        "run",
        "--model",
        "uae-tiny",
        "--dataset",
        "samples",
        "--limit",
        "2",
        "--output",
        output,
        "--scorer",
        "ssim",
    )
    assert refused.code != 0 and "protocol" in refused.err
