"""cosmos3: one tiny random Cosmos3-Omni checkpoint (reasoner + pipeline), loaded as users load it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests._tiny_adapters import one_torch_thread, pixels, random_images, run_args
from tests._tiny_cosmos3 import build_tiny_cosmos3
from unified_bench.adapter import AdapterOptions
from unified_bench.errors import MissingWeightsError
from unified_bench.registry import default_registry
from unified_bench.results import read_results
from unified_bench.store import RunStore


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_tiny_cosmos3(tmp_path_factory.mktemp("cosmos3") / "Cosmos3-tiny")


@pytest.fixture(scope="module")
def adapter_args(checkpoint):
    return {
        "model": str(checkpoint),
        "caption_max_new_tokens": "8",
        "num_inference_steps": "2",
        "guidance_scale": "3.0",
        "width": "64",
        "height": "64",
    }


@pytest.fixture(scope="module")
def adapter(adapter_args):
    return default_registry().build("cosmos3", AdapterOptions(args=adapter_args, device="cpu"))


def test_both_halves_are_the_cosmos3_classes_from_one_checkpoint(adapter, checkpoint):
    from diffusers import Cosmos3OmniPipeline
    from transformers import Cosmos3OmniForConditionalGeneration

    assert isinstance(adapter.reasoner, Cosmos3OmniForConditionalGeneration)
    assert isinstance(adapter.pipeline, Cosmos3OmniPipeline)
    assert adapter.pipeline.safety_checker is None  # cosmos_guardrail is not installed here
    info = adapter.info()
    assert info["checkpoint"] == str(checkpoint) and info["dtype"] == "float32"
    assert info["classes"] == {
        "caption": "Cosmos3OmniForConditionalGeneration",
        "generate": "Cosmos3OmniPipeline",
    }
    assert info["drawing"]["num_inference_steps"] == 2 and info["guardrail"] is False


def test_a_caption_depends_on_its_seed_not_on_its_batch(adapter):
    images = random_images(3)
    batched = adapter.caption(images, seeds=[1, 2, 3])
    assert len(batched) == 3 and all(isinstance(text, str) and text for text in batched)
    assert adapter.caption(images, seeds=[1, 2, 3]) == batched
    assert adapter.caption(images[1:2], seeds=[2]) == batched[1:2]
    assert any(adapter.caption(images[1:2], seeds=[seed])[0] != batched[1] for seed in (7, 8, 9))


def test_an_image_depends_on_its_seed_not_on_its_batch(adapter):
    prompts = ["a cat", "a big red dog running on a green hill", "x"]
    batched = adapter.generate(prompts, seeds=[4, 5, 6])
    assert [image.size for image in batched] == [(64, 64)] * 3
    assert all(image.mode == "RGB" for image in batched)
    alone = adapter.generate(prompts[1:2], seeds=[5])
    assert (pixels(alone[0]) == pixels(batched[1])).all()
    assert (pixels(adapter.generate(prompts[1:2], seeds=[50])[0]) != pixels(batched[1])).any()


def test_the_requested_size_is_drawn_as_one_frame_with_the_settings(adapter):
    image = adapter.generate(["a cat"], seeds=[1], size=(96, 64))[0]
    assert image.size == (96, 64)
    assert adapter.pipeline.num_timesteps == 2 and adapter.pipeline.guidance_scale == 3.0


def test_a_transparent_reference_is_captioned_as_composited_on_white(adapter):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    alpha = np.where(np.arange(48)[None, :] < 24, 255, 0).astype(np.uint8).repeat(48, axis=0)
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")  # black-free noise under transparent pixels
    a = alpha[..., None].astype(np.float64) / 255
    on_white = Image.fromarray((rgb * a + 255 * (1 - a)).round().astype(np.uint8), "RGB")
    seen = adapter.caption_inputs([rgba])["pixel_values"]
    expected = adapter.caption_inputs([on_white])["pixel_values"]
    assert (seen == expected).all()
    assert not (seen == adapter.caption_inputs([rgba.convert("RGB")])["pixel_values"]).all()


def test_a_missing_checkpoint_is_named(adapter_args, tmp_path):
    args = {**adapter_args, "model": str(tmp_path / "no-cosmos3")}
    with pytest.raises(MissingWeightsError, match="Cosmos3 reasoner: no folder at"):
        default_registry().build("cosmos3", AdapterOptions(args=args, device="cpu"))


def test_unified_bench_run_end_to_end(cli, tmp_path, adapter_args):
    output = tmp_path / "run"
    extra = [arg for key, value in adapter_args.items() for arg in ("--adapter-arg", f"{key}={value}")]
    result = cli(*run_args("cosmos3", output, *extra, "--size", "64x64", "--batch-size", "2", limit=2))
    assert result.code == 0, result.err
    assert read_results(output).model["name"] == "cosmos3" and len(RunStore(output).captions()) == 2
    assert json.loads((output / "adapter.json").read_text())["checkpoint"] == adapter_args["model"]
