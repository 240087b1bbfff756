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


def test_positive_rows_are_exactly_the_reply_tokens_counted_by_hand(native):
    """The chat is built here with the processor alone; the reply is its last ``n`` tokens."""
    encoder = native.encoder
    processor, caption = encoder.processor, "a red square on a blue field"
    image = _image(2).resize((56, 56))  # on the 28-pixel grid and at min_pixels: no resizing
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": encoder.config.caption_prompt}, {"type": "image"}],
        }
    ]
    prompt_text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt = processor(text=[prompt_text], images=[image], return_tensors="pt")
    reply_ids = processor.tokenizer(caption + "<|im_end|>", add_special_tokens=False, return_tensors="pt")
    reply_length = reply_ids["input_ids"].shape[1]
    full_ids = torch.cat([prompt["input_ids"], reply_ids["input_ids"]], dim=1)
    inputs = {
        "input_ids": full_ids,
        "attention_mask": torch.ones_like(full_ids),
        "pixel_values": prompt["pixel_values"],
        "image_grid_thw": prompt["image_grid_thw"],
    }
    if "mm_token_type_ids" in prompt:
        inputs["mm_token_type_ids"] = torch.cat(
            [prompt["mm_token_type_ids"], torch.zeros_like(reply_ids["input_ids"])], dim=1
        )
    with torch.inference_mode():
        hidden = encoder.model.model(**inputs).last_hidden_state
        expected = encoder.model.projector(hidden[0, -reply_length:])

    negative, positive = encoder.project_native_pair(image, caption)
    negative_length = encoder.generate_role_ids([encoder.config.negative_prompt]).shape[1]
    assert positive.shape[0] == max(reply_length, negative_length) == negative.shape[0]
    torch.testing.assert_close(positive[:reply_length], expected, rtol=1e-4, atol=1e-5)


def test_padded_reply_tokens_have_the_positions_transformers_4_50_gave_them(native):
    """A short caption is padded to the negative's length; its pad tokens' states (SD3 attends to
    them) are computed at the positions of the 4.50-era training code: the unpadded chat's own rope
    positions, then 1 for every pad token (4.50 initialised positions with ones; 5 with zeros)."""
    encoder = native.encoder
    image, caption = _image(3), "a cat"
    inputs, mask = encoder.caption_answer_inputs(image, caption)
    keys = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw", "mm_token_type_ids")
    unpadded = {key: inputs[key] for key in keys}
    negative_length = encoder.generate_role_ids([encoder.config.negative_prompt]).shape[1]
    pads = negative_length - int(mask.sum())
    assert pads > 0  # the case under test
    positions, _ = encoder.model.model.get_rope_index(
        unpadded["input_ids"],
        mm_token_type_ids=unpadded["mm_token_type_ids"],
        image_grid_thw=unpadded["image_grid_thw"],
    )
    padded = dict(unpadded)
    pad_ids = torch.full((1, pads), encoder.pad_token_id, dtype=torch.long)
    padded["input_ids"] = torch.cat([unpadded["input_ids"], pad_ids], dim=1)
    padded["attention_mask"] = torch.cat([unpadded["attention_mask"], torch.zeros_like(pad_ids)], dim=1)
    padded["mm_token_type_ids"] = torch.cat(
        [unpadded["mm_token_type_ids"], torch.zeros_like(pad_ids, dtype=unpadded["mm_token_type_ids"].dtype)],
        1,
    )
    release_positions = torch.cat([positions, torch.ones(3, 1, pads, dtype=positions.dtype)], dim=2)
    with torch.inference_mode():
        hidden = encoder.model.model(**padded, position_ids=release_positions).last_hidden_state
        expected = encoder.model.projector(hidden[0, -(int(mask.sum()) + pads) :])
        transformers_5 = encoder.model.projector(encoder.model.model(**padded).last_hidden_state[0, -pads:])

    _, positive = encoder.project_native_pair(image, caption)
    torch.testing.assert_close(positive, expected, rtol=0, atol=1e-5)
    assert (transformers_5 - expected[-pads:]).abs().max() > 1e-4  # 40x the tolerance on uae-tiny-v3


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
