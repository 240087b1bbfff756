"""composite: its default pair at tiny size (Qwen2.5-VL + StableDiffusion3Pipeline), and another family."""

from __future__ import annotations

import json

import pytest

from tests._tiny_adapters import (
    build_tiny_qwen2_vl,
    build_tiny_stable_diffusion,
    one_torch_thread,
    pixels,
    random_images,
    run_args,
)
from unified_bench.adapter import AdapterArgError, AdapterOptions
from unified_bench.errors import MissingWeightsError
from unified_bench.registry import default_registry
from unified_bench.results import read_results
from unified_bench.store import RunStore


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def adapter_args(tiny_sd3_composite):
    return {
        **tiny_sd3_composite,
        "caption_max_new_tokens": "8",
        "num_inference_steps": "2",
        "width": "32",
        "height": "32",
    }


@pytest.fixture(scope="module")
def adapter(adapter_args):
    return default_registry().build("composite", AdapterOptions(args=adapter_args, device="cpu"))


def test_a_caption_depends_on_its_seed_not_on_its_batch(adapter):
    images = random_images(3)  # different sizes: different numbers of visual tokens, left padding
    batched = adapter.caption(images, seeds=[1, 2, 3])
    assert len(batched) == 3 and all(isinstance(text, str) for text in batched)
    assert adapter.caption(images[:1], seeds=[1]) == batched[:1]
    assert any(adapter.caption(images[:1], seeds=[seed])[0] != batched[0] for seed in (7, 8, 9))


def test_an_image_depends_on_its_seed_not_on_its_batch(adapter):
    prompts = ["a cat", "a big red dog running on a green hill", "x"]
    batched = adapter.generate(prompts, seeds=[4, 5, 6])
    assert [image.size for image in batched] == [(32, 32)] * 3
    assert (pixels(adapter.generate(prompts[2:], seeds=[6])[0]) == pixels(batched[2])).all()
    assert (pixels(adapter.generate(prompts[2:], seeds=[60])[0]) != pixels(batched[2])).any()


def test_batch_denoise_draws_the_same_images_up_to_rounding(adapter_args):
    args = {**adapter_args, "batch_denoise": "true"}
    batched_adapter = default_registry().build("composite", AdapterOptions(args=args, device="cpu"))
    prompts = ["a cat", "a big red dog running on a green hill", "x"]
    together = batched_adapter.generate(prompts, seeds=[4, 5, 6])
    one_by_one = batched_adapter.generate(prompts[2:], seeds=[6])
    assert abs(pixels(together[2]) - pixels(one_by_one[0])).max() <= 2


def test_size_overrides_the_configured_resolution(adapter):
    assert adapter.generate(["a cat"], seeds=[1], size=(32, 16))[0].size == (32, 16)


def test_info_names_both_models_and_their_classes(adapter, adapter_args):
    info = adapter.info()
    assert info["captioner"]["source"] == adapter_args["captioner"]
    assert info["captioner"]["class"] == "Qwen2_5_VLForConditionalGeneration"
    assert info["generator"]["class"] == "StableDiffusion3Pipeline"
    # SD3 draws with UAE's decoder settings (guidance 5.0, T5 at 512); the steps given win.
    assert info["drawing"]["family"] == "sd3"
    assert info["drawing"]["settings"]["guidance_scale"] == 5.0
    assert info["drawing"]["settings"]["num_inference_steps"] == 2


def test_memory_options_reach_the_pipeline(adapter_args):
    args = {**adapter_args, "attention_slicing": "true", "vae_tiling": "true", "cpu_offload": "model"}
    adapter = default_registry().build("composite", AdapterOptions(args=args, device="cpu"))
    # Offloading only means something with an accelerator; on CPU it is skipped, not faked.
    assert adapter.info()["memory_options"] == ["attention_slicing", "vae_tiling"]
    assert adapter.pipeline.vae.use_tiling
    assert len(adapter.generate(["a cat"], seeds=[1])) == 1


def test_a_bad_memory_option_lists_the_choices(adapter_args):
    with pytest.raises(AdapterArgError, match="none, model, sequential"):
        default_registry().build("composite", AdapterOptions(args={**adapter_args, "cpu_offload": "yes"}))


def test_a_missing_generator_is_named(adapter_args, tmp_path):
    args = {**adapter_args, "generator": str(tmp_path / "no-pipeline")}
    with pytest.raises(MissingWeightsError, match="generator pipeline: no folder at"):
        default_registry().build("composite", AdapterOptions(args=args, device="cpu"))


def test_unified_bench_run_end_to_end(cli, tmp_path, adapter_args):
    output = tmp_path / "run"
    extra = [arg for key, value in adapter_args.items() for arg in ("--adapter-arg", f"{key}={value}")]
    result = cli(*run_args("composite", output, *extra, "--batch-size", "2"))
    assert result.code == 0, result.err
    results = read_results(output)
    assert results.model["name"] == "composite" and len(RunStore(output).captions()) == 3
    assert (
        json.loads((output / "adapter.json").read_text())["generator"]["class"] == "StableDiffusion3Pipeline"
    )


def test_max_sequence_length_reaches_the_sd3_t5_prompt(adapter_args):
    def draw(length: str):
        args = {**adapter_args, "max_sequence_length": length}
        adapter = default_registry().build("composite", AdapterOptions(args=args, device="cpu"))
        return adapter.generate(["a big red dog running on a green hill"], seeds=[3])[0]

    # The T5 prompt is padded or cut to max_sequence_length tokens, all of which the MMDiT attends to.
    assert (pixels(draw("8")) != pixels(draw("24"))).any()
    assert (pixels(draw("8")) == pixels(draw("8"))).all()


def test_another_captioner_and_pipeline_family_load_the_same_way(tmp_path):
    args = {
        "captioner": str(build_tiny_qwen2_vl(tmp_path / "qwen2-vl-tiny")),
        "generator": str(build_tiny_stable_diffusion(tmp_path / "sd-tiny")),
        "caption_max_new_tokens": "4",
        "num_inference_steps": "2",
        "width": "32",
        "height": "32",
    }
    adapter = default_registry().build("composite", AdapterOptions(args=args, device="cpu"))
    info = adapter.info()
    assert info["generator"]["class"] == "StableDiffusionPipeline"
    # A StableDiffusionPipeline draws with its family's card guidance; the steps given win.
    assert info["drawing"]["family"] == "sd"
    assert info["drawing"]["settings"] == {"num_inference_steps": 2, "guidance_scale": 7.5}
    assert isinstance(adapter.caption(random_images(1), seeds=[1])[0], str)
    assert adapter.generate(["a cat"], seeds=[1])[0].size == (32, 32)
