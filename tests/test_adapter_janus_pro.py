"""janus-pro: tiny random JanusForConditionalGeneration + JanusProcessor, loaded the way users load them."""

from __future__ import annotations

import json

import pytest

from tests._tiny_adapters import build_tiny_janus, one_torch_thread, pixels, random_images, run_args
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
def janus_dir(tmp_path_factory):
    return build_tiny_janus(tmp_path_factory.mktemp("janus") / "Janus-Pro-tiny")


@pytest.fixture(scope="module")
def adapter(janus_dir):
    args = {"model": str(janus_dir), "caption_max_new_tokens": "8"}
    return default_registry().build("janus-pro", AdapterOptions(args=args, device="cpu"))


def test_captions_one_string_per_image(adapter):
    captions = adapter.caption(random_images(3), seeds=[1, 2, 3])
    assert len(captions) == 3 and all(isinstance(text, str) and text for text in captions)


def test_a_caption_depends_on_its_seed_not_on_its_batch(adapter):
    images = random_images(3)
    batched = adapter.caption(images, seeds=[11, 12, 13])
    alone = adapter.caption(images[1:2], seeds=[12])
    assert alone == batched[1:2]
    reseeded = [adapter.caption(images[1:2], seeds=[seed])[0] for seed in (21, 22, 23)]
    assert any(text != batched[1] for text in reseeded)


def test_an_image_depends_on_its_seed_not_on_its_batch(adapter):
    prompts = ["a cat", "a big red dog running on a green hill", "x"]
    batched = adapter.generate(prompts, seeds=[5, 6, 7])
    alone = adapter.generate(prompts[1:2], seeds=[6])
    assert (pixels(alone[0]) == pixels(batched[1])).all()
    other = adapter.generate(prompts[1:2], seeds=[99])
    assert (pixels(other[0]) != pixels(batched[1])).any()


def test_images_come_at_the_native_size_unless_size_is_given(adapter):
    native = adapter.generate(["a cat"], seeds=[1])[0]
    assert native.size == (8, 8)  # 4x4 VQ tokens, one upsampling in the tiny VQ decoder
    assert adapter.generate(["a cat"], seeds=[1], size=(24, 16))[0].size == (24, 16)


def test_info_records_checkpoint_dtype_and_settings(adapter, janus_dir):
    info = adapter.info()
    assert info["model"] == str(janus_dir)
    assert info["dtype"] == "float32" and info["settings"]["guidance_scale"] == 5.0
    json.dumps(info)


def test_a_missing_folder_is_one_line_naming_it(tmp_path):
    missing = tmp_path / "no-such-janus"
    with pytest.raises(MissingWeightsError, match=r"no folder at .*no-such-janus"):
        default_registry().build("janus-pro", AdapterOptions(args={"model": str(missing)}, device="cpu"))


def test_an_uncached_hub_id_says_how_to_download_it(monkeypatch):
    import huggingface_hub.constants

    # The hub reads HF_HUB_OFFLINE once, at import; a user's offline shell has it from the start.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(MissingWeightsError) as error:
        default_registry().build("janus-pro-1b", AdapterOptions(device="cpu"))
    message = str(error.value)
    assert "deepseek-community/Janus-Pro-1B" in message and "hf download" in message
    assert "\n" not in message


def test_unified_bench_run_end_to_end(cli, tmp_path, janus_dir):
    output = tmp_path / "run"
    result = cli(*run_args("janus-pro", output, "--adapter-arg", f"model={janus_dir}",
                           "--adapter-arg", "caption_max_new_tokens=6"))  # fmt: skip
    assert result.code == 0, result.err
    results = read_results(output)
    assert results.protocol == "text" and results.model["name"] == "janus-pro"
    assert len(RunStore(output).captions()) == 3 and set(results.scorers) == {"ssim", "psnr"}
    assert len(list((output / "images").glob("*.png"))) == 3


# -- captions follow Janus's own text mode (no classifier-free guidance) ------------------------------
def test_a_caption_call_builds_no_guidance_processor(adapter):
    from transformers import (
        ClassifierFreeGuidanceLogitsProcessor,
        UnbatchedClassifierFreeGuidanceLogitsProcessor,
    )

    call = adapter.caption_call(random_images(2), seeds=[1, 2])
    # The processors generate() itself builds from this call's config (guidance comes from there).
    built = adapter.model._get_logits_processor(
        generation_config=call["generation_config"],
        input_ids_seq_length=call["input_ids"].shape[1],
        logits_processor=call["logits_processor"],
        device="cpu",
        model_kwargs={},
    )
    guidance = (UnbatchedClassifierFreeGuidanceLogitsProcessor, ClassifierFreeGuidanceLogitsProcessor)
    assert not [p for p in built if isinstance(p, guidance)]


def test_caption_logits_equal_janus_text_mode_generate(janus_dir):
    import torch
    from transformers import GenerationMixin

    greedy = default_registry().build(
        "janus-pro",
        AdapterOptions(args={"model": str(janus_dir), "caption_temperature": "0"}, device="cpu"),
    )
    call = greedy.caption_call(random_images(2), seeds=[1, 2])
    ours = GenerationMixin.generate(
        greedy.model, **call, max_new_tokens=5, output_scores=True, return_dict_in_generate=True
    )
    inputs = {k: v for k, v in call.items() if k not in ("generation_config", "logits_processor")}
    # The library's own text mode, from the checkpoint's generation_config (guidance_scale 5 included).
    library = greedy.model.generate(
        **inputs, generation_mode="text", max_new_tokens=5, do_sample=False,
        output_scores=True, return_dict_in_generate=True,
    )  # fmt: skip
    assert torch.equal(ours.sequences, library.sequences)
    for step_ours, step_library in zip(ours.scores, library.scores, strict=True):
        torch.testing.assert_close(step_ours, step_library, rtol=0, atol=1e-6)


def test_vq_pixels_are_truncated_like_the_library_postprocess(adapter):
    import torch

    from unified_bench_adapters._images import decoded_to_pil

    torch.manual_seed(0)
    decoded = torch.rand(2, 3, 8, 8) * 2.2 - 1.1  # normalised to [-1, 1], with some out of range
    expected = adapter.processor.image_processor.postprocess(decoded, return_tensors="pt")["pixel_values"]
    ours = torch.stack([torch.from_numpy(pixels(image)).permute(2, 0, 1) for image in decoded_to_pil(
        decoded, adapter.processor.image_processor)])  # fmt: skip
    assert torch.equal(ours.to(torch.uint8), expected.to(torch.uint8))


def test_pinned_protocol_sampling_ignores_a_greedy_checkpoint(adapter):
    checkpoint = adapter.model.generation_config
    saved = (checkpoint.top_k, checkpoint.top_p)
    checkpoint.top_k, checkpoint.top_p = 1, 0.001  # what some copies of a checkpoint ship
    try:
        sampling = adapter.caption_sampling()
        assert (sampling.top_k, sampling.top_p) == (50, 1.0)
        assert adapter.info()["warnings"] == []
    finally:
        checkpoint.top_k, checkpoint.top_p = saved


def test_effectively_greedy_captions_warn_in_one_line_and_in_provenance(cli, tmp_path, janus_dir):
    output = tmp_path / "run"
    result = cli(*run_args("janus-pro", output, "--adapter-arg", f"model={janus_dir}",
                           "--adapter-arg", "caption_max_new_tokens=4", "--adapter-arg", "caption_top_k=1",
                           limit=1))  # fmt: skip
    assert result.code == 0, result.err
    lines = [line for line in (result.out + result.err).splitlines() if "effectively greedy" in line]
    assert len(lines) == 1
    warnings = read_results(output).model["info"]["warnings"]
    assert len(warnings) == 1 and "top_k=1" in warnings[0]


def test_provenance_says_captions_are_sampled_where_the_card_decodes_greedily(adapter):
    assert adapter.info()["caption_decoding"] == (
        "sampled at temperature 0.7 (the protocol: UAE demo.py's caption sampling); the model card: greedy"
    )
