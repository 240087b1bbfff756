"""composite with a tiny StableDiffusion3Pipeline: long captions kept whole, what was cut recorded,
and guidance as each pipeline family's model card sets it."""

from __future__ import annotations

import inspect

import pytest
import torch

from tests._tiny_adapters import build_tiny_qwen2_vl, build_tiny_sd3, one_torch_thread, pixels, run_args
from unified_bench.adapter import AdapterArgError, AdapterOptions
from unified_bench.registry import default_registry
from unified_bench.results import read_results
from unified_bench.store import RunStore
from unified_bench_adapters.composite.families import resolve_drawing

# About 450 characters: past CLIP's 77 tokens and past T5's default 256 (per-character tokenizers).
LONG_CAPTION = " ".join(["a red fox sits on a mossy stone beside a slow river under tall pine trees"] * 6)


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("composite-sd3")
    return {
        "captioner": str(build_tiny_qwen2_vl(root / "qwen")),
        "generator": str(build_tiny_sd3(root / "sd3")),
    }


@pytest.fixture(scope="module")
def adapter(checkpoints):
    args = {
        **checkpoints,
        "caption_max_new_tokens": "8",
        "num_inference_steps": "2",
        "width": "32",
        "height": "32",
    }
    return default_registry().build("composite", AdapterOptions(args=args, device="cpu"))


def _direct(pipeline, prompt: str, seed: int, **settings) -> torch.Tensor:
    """The pipeline called as diffusers documents it, without the adapter."""
    image = pipeline(
        prompt=[prompt], num_inference_steps=2, width=32, height=32,
        generator=[torch.Generator().manual_seed(seed)], **settings,
    ).images[0]  # fmt: skip
    return pixels(image)


def test_sd3_reads_a_long_caption_up_to_its_512_token_maximum(adapter):
    ours = pixels(adapter.generate([LONG_CAPTION], seeds=[3])[0])
    full = _direct(adapter.pipeline, LONG_CAPTION, 3, guidance_scale=5.0, max_sequence_length=512)
    library_default = _direct(adapter.pipeline, LONG_CAPTION, 3, guidance_scale=5.0)  # 256 T5 tokens
    assert (ours == full).all()
    assert (ours != library_default).any()


def test_prompt_usage_counts_what_each_text_encoder_kept(adapter):
    pipeline = adapter.pipeline
    (usage,) = adapter.prompt_usage([LONG_CAPTION])
    clip_tokens = len(pipeline.tokenizer(LONG_CAPTION)["input_ids"])
    t5_tokens = len(pipeline.tokenizer_3(LONG_CAPTION)["input_ids"])
    assert clip_tokens > 77 and 256 < t5_tokens <= 512
    assert usage["clip_l"] == {"tokens": clip_tokens, "kept": 77, "truncated": True}
    assert usage["clip_g"] == {"tokens": clip_tokens, "kept": 77, "truncated": True}
    assert usage["t5"] == {"tokens": t5_tokens, "kept": t5_tokens, "truncated": False}
    (short,) = adapter.prompt_usage(["a cat"])
    assert not any(encoder["truncated"] for encoder in short.values())


def test_a_run_records_truncation_per_sample_and_counts_it(cli, tmp_path, checkpoints):
    output = tmp_path / "run"
    args = {**checkpoints, "caption_max_new_tokens": "120", "num_inference_steps": "1", "width": "32",
            "height": "32", "max_sequence_length": "40"}  # fmt: skip
    extra = [arg for key, value in args.items() for arg in ("--adapter-arg", f"{key}={value}")]
    result = cli(*run_args("composite", output, *extra, limit=2))
    assert result.code == 0, result.err
    captions = RunStore(output).captions()
    stats = read_results(output).captions
    pipeline_tokenizer = (
        default_registry().build("composite", AdapterOptions(args=args, device="cpu")).pipeline.tokenizer_3
    )
    for sample_id, record in captions.items():
        t5_tokens = len(pipeline_tokenizer(record.caption)["input_ids"])
        assert stats["prompt_usage"][sample_id]["t5"] == {
            "tokens": t5_tokens, "kept": min(t5_tokens, 40), "truncated": t5_tokens > 40,
        }  # fmt: skip
    cut = [i for i, usage in stats["prompt_usage"].items() if any(e["truncated"] for e in usage.values())]
    assert stats["truncated"]["n"] == len(cut) >= 1 and stats["truncated"]["of"] == 2
    assert f"{len(cut)} of 2 captions were cut" in result.out


def test_info_records_the_family_defaults_and_their_source(adapter):
    drawing = adapter.info()["drawing"]
    assert drawing["family"] == "sd3" and "demo.py" in drawing["source"]
    assert drawing["settings"] == {
        "num_inference_steps": 2,
        "guidance_scale": 5.0,
        "max_sequence_length": 512,
    }


def _call_parameters(pipeline_class: str) -> set[str]:
    import diffusers

    return set(inspect.signature(getattr(diffusers, pipeline_class).__call__).parameters)


def test_qwen_image_guides_with_true_cfg_and_a_blank_negative_prompt():
    drawing = resolve_drawing("QwenImagePipeline", _call_parameters("QwenImagePipeline"), {})
    settings = drawing["settings"]
    assert settings["true_cfg_scale"] == 4.0 and settings["negative_prompt"] == " "
    assert "guidance_scale" not in settings  # Qwen-Image ignores it; true CFG needs the negative prompt
    assert settings["max_sequence_length"] == 1024


def test_flux_dev_gets_its_distilled_guidance_and_no_negative_prompt():
    settings = resolve_drawing("FluxPipeline", _call_parameters("FluxPipeline"), {})["settings"]
    assert settings == {"num_inference_steps": 50, "guidance_scale": 3.5, "max_sequence_length": 512}
    explicit = resolve_drawing("FluxPipeline", _call_parameters("FluxPipeline"), {"true_cfg_scale": 2.0})
    assert explicit["settings"]["true_cfg_scale"] == 2.0


def test_an_unknown_family_needs_explicit_guidance():
    parameters = _call_parameters("PixArtAlphaPipeline")
    with pytest.raises(ValueError, match="no known guidance defaults") as error:
        resolve_drawing("PixArtAlphaPipeline", parameters, {})
    assert "\n" not in str(error.value)
    given = resolve_drawing("PixArtAlphaPipeline", parameters, {"guidance_scale": 4.5})
    assert given == {"family": None, "source": None, "settings": {"guidance_scale": 4.5}}


def test_a_setting_the_pipeline_does_not_take_is_refused(checkpoints):
    args = {**checkpoints, "true_cfg_scale": "4"}  # StableDiffusion3Pipeline has no true CFG
    with pytest.raises(AdapterArgError, match="takes no true_cfg_scale"):
        default_registry().build("composite", AdapterOptions(args=args, device="cpu"))


@pytest.mark.parametrize(
    ("pipeline_class", "size"),
    [
        ("StableDiffusionPipeline", (512, 512)),  # SD 1.5's training size
        ("StableDiffusion3Pipeline", (1024, 1024)),
        ("StableDiffusionXLPipeline", (1024, 1024)),
        ("FluxPipeline", (1024, 1024)),
        ("QwenImagePipeline", (1328, 1328)),  # the Qwen-Image card's 1:1 size
    ],
)
def test_each_family_draws_at_its_native_size(pipeline_class, size):
    from unified_bench_adapters.composite.families import family_of

    family = family_of(pipeline_class)
    assert (family.width, family.height) == size and f"{size[0]}x{size[1]}" in family.source


def test_the_configured_or_native_size_is_the_default_and_recorded(checkpoints):
    # the fixture's SD3 family draws at 1024x1024 unless told; a width/height given wins
    args = {**checkpoints, "num_inference_steps": "1", "height": "16", "width": "32"}
    explicit = default_registry().build("composite", AdapterOptions(args=args, device="cpu"))
    assert explicit.info()["drawing"]["size"] == [32, 16]
    assert explicit.generate(["a cat"], seeds=[1])[0].size == (32, 16)
    native = default_registry().build(
        "composite", AdapterOptions(args={**checkpoints, "num_inference_steps": "1"}, device="cpu")
    )
    assert native.info()["drawing"]["size"] == [1024, 1024]
    assert native.info()["settings"]["width"] is None


def test_qwen_image_prompts_get_the_cards_english_suffix(adapter):
    from unified_bench_adapters.composite.families import family_of

    assert family_of("QwenImagePipeline").prompt_suffix == ", Ultra HD, 4K, cinematic composition."
    assert adapter.drawn_prompts(["a cat"]) == ["a cat"]  # SD3's card adds nothing
    assert adapter.info()["drawing"]["prompt_suffix"] == ""
