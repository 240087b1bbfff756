"""The UAE adapter, run on the seeded tiny checkpoint (same classes, toy sizes) built into a temp cache."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from unified_bench.adapter import AdapterArgError, AdapterOptions
from unified_bench.errors import InputError, MissingWeightsError
from unified_bench_adapters.uae.adapter import UAEAdapter, build_uae, build_uae_tiny
from unified_bench_adapters.uae.config import CAPTION_PROMPT, NEGATIVE_PROMPT, UAEConfig
from unified_bench_adapters.uae.modeling import LEGACY_KEY_MAPPING, Qwen2_5_VLWithProjector
from unified_bench_adapters.uae.tiny import TINY_DEFAULTS, TINY_NAME, ensure_tiny_checkpoint
from unified_bench_adapters.uae.weights import attach_llm_lora

SEEDS = [101, 202, 303, 404]


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("uae-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UNIFIED_BENCH_CACHE", str(cache))
        root = ensure_tiny_checkpoint()
    return cache, root


@pytest.fixture(scope="module")
def tiny_root(tiny_cache):
    return tiny_cache[1]


def load_tiny(root, **settings) -> UAEAdapter:
    config = UAEConfig(**{**TINY_DEFAULTS, "max_new_tokens": 12, **settings})
    return UAEAdapter.from_pretrained(str(root), config, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def adapter(tiny_root) -> UAEAdapter:
    return load_tiny(tiny_root)


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    """Four reference images of different sizes (so their captions have different input lengths)."""
    rng = np.random.RandomState(0)
    sizes = [(96, 80), (120, 120), (300, 200), (40, 64)]
    return [Image.fromarray(rng.randint(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


# --- the tiny checkpoint -------------------------------------------------------------------------


def test_tiny_checkpoint_is_built_once_into_the_cache_in_the_release_layout(tiny_cache, monkeypatch):
    cache, root = tiny_cache
    assert root == cache / "models" / TINY_NAME
    for part in ("llm_model/config.json", "llm_lora", "SD3/vae", "SD3/text_encoder_2", "dit", "dit_lora"):
        assert (root / part).exists(), part
    marker_time = (root / "uae_tiny.json").stat().st_mtime_ns
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(cache))
    assert ensure_tiny_checkpoint() == root
    assert (root / "uae_tiny.json").stat().st_mtime_ns == marker_time
    assert sorted(os.listdir(cache / "models")) == [TINY_NAME]  # no staging folder left behind


def test_tiny_encoder_is_stored_like_the_release_and_loads_into_the_right_tensors(tiny_root):
    config = json.loads((tiny_root / "llm_model" / "config.json").read_text())
    assert config["hidden_size"] == 32 and "text_config" not in config  # transformers-4.50 flat config
    with safe_open(str(tiny_root / "llm_model" / "model.safetensors"), "pt") as handle:
        names = list(handle.keys())
        embed = handle.get_tensor("model.embed_tokens.weight")
        patch = handle.get_tensor("visual.patch_embed.proj.weight")
    assert not any(name.startswith("model.language_model") for name in names)
    model = Qwen2_5_VLWithProjector.from_pretrained(
        str(tiny_root / "llm_model"), key_mapping=LEGACY_KEY_MAPPING, dtype=torch.float32
    )
    assert torch.equal(model.model.language_model.embed_tokens.weight, embed)
    assert torch.equal(model.model.visual.patch_embed.proj.weight, patch)


# --- encoder -------------------------------------------------------------------------------------


def test_projector_maps_qwen_hidden_size_to_the_sd3_text_width(adapter):
    hidden = adapter.encoder.model.config.text_config.hidden_size
    joint = adapter.decoder.pipeline.transformer.config.joint_attention_dim
    assert adapter.encoder.model.projector_dims == (hidden, 2 * joint, joint)


def test_projector_defaults_to_4096_when_the_config_does_not_say(tiny_root):
    config = Qwen2_5_VLWithProjector.config_class.from_pretrained(str(tiny_root / "llm_model"))
    del config.projector_dim
    with torch.device("meta"):
        model = Qwen2_5_VLWithProjector(config)
    assert model.projector_dims == (32, 8192, 4096)


def test_prompt_embeddings_are_the_projected_last_hidden_state_of_every_token(adapter):
    encoder = adapter.encoder
    ids = encoder._chat_ids("a red cat on a chair")[None]
    with torch.no_grad():
        full = encoder.model(input_ids=ids, output_hidden_states=True)
        expected = encoder.model.projector(full.hidden_states[-1])
        negative, positive = encoder.project_pair("a red cat on a chair")
    assert positive.shape == (max(ids.shape[1], negative.shape[0]), 32)
    torch.testing.assert_close(positive[: ids.shape[1]], expected[0])


def test_generate_role_wraps_the_prompt_with_the_default_system_prompt(adapter):
    text = adapter.encoder.processor.tokenizer.decode(adapter.encoder._chat_ids("a dog"))
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>generate\na dog<|im_end|>\n<|im_start|>assistant\n"
    )


def test_caption_prompt_is_the_demo_instruction_before_the_image(adapter, images):
    inputs = adapter.encoder.caption_inputs(images[:1])
    text = adapter.encoder.processor.tokenizer.decode(inputs["input_ids"][0])
    assert CAPTION_PROMPT.strip().splitlines()[0].strip() in text
    assert text.index("textual description") < text.index("<|vision_start|>")


def test_caption_images_are_resized_into_the_pixel_limits(adapter, images):
    grids = adapter.encoder.caption_inputs(images)["image_grid_thw"]
    patches = grids.prod(dim=-1)
    assert (patches * 14 * 14 <= adapter.config.max_pixels).all()
    assert (patches * 14 * 14 >= adapter.config.min_pixels).all()


def test_same_seed_gives_the_same_caption_and_other_seeds_other_captions(adapter, images):
    first = adapter.caption([images[0]] * 3, seeds=SEEDS[:3])
    again = adapter.caption([images[0]], seeds=SEEDS[:1])
    assert again[0] == first[0]
    assert len(set(first)) > 1


def test_batch_size_changes_neither_captions_nor_pixels(adapter, images):
    batched = adapter.caption(images, seeds=SEEDS)
    alone = [adapter.caption([image], seeds=[seed])[0] for image, seed in zip(images, SEEDS, strict=True)]
    assert batched == alone
    prompts = ["a red cat", "a blue dog on a sofa", "a red cat", batched[0]]
    batched_images = adapter.generate(prompts, seeds=SEEDS)
    alone_images = [adapter.generate([p], seeds=[s])[0] for p, s in zip(prompts, SEEDS, strict=True)]
    for together, single in zip(batched_images, alone_images, strict=True):
        assert np.array_equal(pixels(together), pixels(single))


def test_tiny_model_gives_caption_training_a_signal(adapter, images):
    """g4u learns only if the toy captioner can prefer tokens and the toy decoder reads the caption.

    On uae-tiny-v1 (every weight at the 0.02 init) neither held: next-token entropy 5.98 of 5.99 nats
    and captions moving a reconstruction by 0.03 grey levels (two seeds: 31), so g4u could not learn.
    """
    inputs = adapter.encoder.caption_inputs(images[:1])
    with torch.no_grad():
        logits = adapter.encoder.model(**inputs).logits[0, -1]
    log_probs = logits.log_softmax(-1)
    entropy = float(-(log_probs.exp() * log_probs).sum())
    assert entropy < np.log(logits.numel()) - 1.0  # uniform minus a nat

    captions = ["a red cat", "a blue dog on a sofa", "two people on a beach", "a plate of food"]
    drawn = [pixels(image).astype(np.float64) for image in adapter.generate(captions, seeds=[7] * 4)]
    differences = [np.abs(a - b).mean() for i, a in enumerate(drawn) for b in drawn[i + 1 :]]
    assert min(differences) > 0.25  # grey levels, one seed; v3 measured 0.59


# --- decoder -------------------------------------------------------------------------------------


def test_images_follow_the_caption_and_the_seed(adapter):
    cat, dog, cat_again, cat_other_seed = adapter.generate(
        ["a red cat", "a blue dog on a sofa", "a red cat", "a red cat"], seeds=[7, 7, 7, 8]
    )
    assert cat.size == (64, 64)
    assert np.array_equal(pixels(cat), pixels(cat_again))
    assert not np.array_equal(pixels(cat), pixels(dog))
    assert not np.array_equal(pixels(cat), pixels(cat_other_seed))


def test_size_argument_sets_the_image_size_and_rejects_off_grid_sizes(adapter):
    assert adapter.generate(["a cat"], seeds=[1], size=(32, 48))[0].size == (32, 48)
    with pytest.raises(InputError, match="multiples of 16"):
        adapter.generate(["a cat"], seeds=[1], size=(30, 30))


def test_shared_calls_mode_matches_the_invariant_mode_up_to_rounding(tiny_root, adapter):
    shared = load_tiny(tiny_root, batch_invariant=False)
    prompts = ["a red cat", "a red cat!", "a blue dog on a sofa"]
    lengths = [shared.encoder.project_pair(prompt)[1].shape[0] for prompt in prompts]
    assert len(set(lengths)) < len(lengths)  # some prompts really share an SD3 call
    fast_images = shared.generate(prompts, seeds=SEEDS[:3])
    for fast, exact in zip(fast_images, adapter.generate(prompts, seeds=SEEDS[:3]), strict=True):
        difference = np.abs(pixels(fast).astype(int) - pixels(exact).astype(int))
        assert difference.max() <= 3 and difference.mean() < 0.5


# --- LoRA, projector override ----------------------------------------------------------------------


def test_encoder_lora_is_loaded_and_changes_the_prompt_embeddings(tiny_root, adapter):
    report = adapter.info()["encoder"]["llm_lora"]
    lora_parameters = [n for n, _ in adapter.encoder.model.named_parameters() if ".lora_" in n]
    assert report["lora_tensors_loaded"] == len(lora_parameters) > 0
    assert (report["rank"], report["alpha"]) == (32, 64)
    plain = load_tiny(tiny_root, use_llm_lora=False)
    assert plain.info()["encoder"]["llm_lora"] is None
    without_lora, with_lora = plain.encoder.project_pair("a cat")[1], adapter.encoder.project_pair("a cat")[1]
    assert not torch.allclose(without_lora, with_lora)


def test_decoder_lora_changes_the_image(tiny_root, adapter):
    plain = load_tiny(tiny_root, use_dit_lora=False)
    assert plain.info()["decoder"]["dit_lora"] is None
    with_lora = adapter.generate(["a red cat"], seeds=[3])[0]
    without = plain.generate(["a red cat"], seeds=[3])[0]
    assert not np.array_equal(pixels(with_lora), pixels(without))


def test_lora_directory_matching_no_lora_layer_is_an_error(tiny_root, tmp_path):
    save_file({"unrelated.weight": torch.zeros(2, 2)}, str(tmp_path / "model-00001-of-00001.safetensors"))
    llm_dir = str(tiny_root / "llm_model")
    model = Qwen2_5_VLWithProjector.from_pretrained(llm_dir, key_mapping=LEGACY_KEY_MAPPING)
    with pytest.raises(InputError, match="none of its 1 tensors matched a LoRA layer"):
        attach_llm_lora(model, tmp_path)


def test_encoder_weights_missing_from_the_checkpoint_are_an_error_not_random(tiny_root, tmp_path):
    for part in ("llm_lora", "SD3", "dit", "dit_lora"):
        (tmp_path / part).symlink_to(tiny_root / part)
    (tmp_path / "llm_model").mkdir()
    for file in (tiny_root / "llm_model").iterdir():
        if file.suffix != ".safetensors":
            (tmp_path / "llm_model" / file.name).symlink_to(file)
    tensors = load_file(str(tiny_root / "llm_model" / "model.safetensors"))
    kept = {key: tensor for key, tensor in tensors.items() if not key.startswith("projector.")}
    save_file(kept, str(tmp_path / "llm_model" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(MissingWeightsError, match=r"no weights for 4 encoder tensors \(e\.g\. projector"):
        load_tiny(tmp_path)


def test_checkpoint_dir_overrides_the_projector(tiny_root, adapter, tmp_path):
    zeros = {name: torch.zeros_like(t) for name, t in adapter.encoder.model.projector.state_dict().items()}
    save_file(zeros, str(tmp_path / "projector.safetensors"))
    tuned = load_tiny(tiny_root, checkpoint=str(tmp_path))
    assert torch.count_nonzero(tuned.encoder.project_pair("a cat")[1]) == 0
    assert "projector.safetensors" in tuned.info()["checkpoint"]["sha256"]


# --- info, factories, errors -----------------------------------------------------------------------


def test_info_records_weights_placement_and_every_setting(adapter):
    info = json.loads(json.dumps(adapter.info()))
    assert info["protocol"] == "text"
    assert (info["device"], info["dtype"]) == ("cpu", "float32")
    assert set(info["config"]) == {field.name for field in dataclasses.fields(UAEConfig)}
    assert info["config"]["negative_prompt"] == NEGATIVE_PROMPT
    assert info["weights"]["source"] == "local"
    assert "llm_model/config.json" in info["weights"]["config_sha256"]
    assert info["encoder"]["sampling"]["top_k"] == 20  # from the checkpoint's generation_config.json


def test_tiny_factory_uses_the_cache_and_lets_arguments_override_tiny_defaults(tiny_cache, monkeypatch):
    cache, root = tiny_cache
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(cache))
    tiny = build_uae_tiny(AdapterOptions(args={"num-inference-steps": "2"}, device="cpu"))
    assert tiny.info()["adapter"] == "uae-tiny"
    assert tiny.info()["weights"]["path"] == str(root)
    assert tiny.config.num_inference_steps == 2
    assert tiny.config.height == TINY_DEFAULTS["height"]


def test_missing_weights_are_a_one_line_error(tmp_path):
    with pytest.raises(MissingWeightsError, match="no such checkpoint directory") as missing:
        build_uae(AdapterOptions(args={"model": str(tmp_path / "nowhere")}))
    with pytest.raises(MissingWeightsError, match=r"missing llm_model/config\.json") as incomplete:
        UAEAdapter.from_pretrained(str(tmp_path))
    for error in (missing, incomplete):
        assert "\n" not in str(error.value) and "hf download zhiyuanyan1/UAE" in str(error.value)


def test_unreachable_hub_is_a_one_line_missing_weights_error(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="zhiyuanyan1/UAE") as error:
        build_uae(AdapterOptions())
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"no_such_setting": "1"}, "unknown setting"),
        ({"temperature": "warm"}, "expected a number"),
        ({"height": "100"}, "multiple of 16"),
        ({"do_sample": "false", "top_k": "5"}, "only apply when sampling"),
        ({"min_pixels": "70000"}, "min_pixels <= max_pixels"),
    ],
)
def test_bad_adapter_arguments_are_rejected_before_loading(args, message):
    with pytest.raises(AdapterArgError, match=message):
        build_uae(AdapterOptions(args=args))
