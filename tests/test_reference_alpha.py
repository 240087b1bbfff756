"""Transparent references reach every adapter composited on white, as qwen-vl-utils' ``to_rgb`` does.

The expected pictures are computed here with numpy (alpha blend over 255), not with our helper.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests._tiny_adapters import build_tiny_janus
from unified_bench.adapter import AdapterOptions
from unified_bench.datasets import load_dataset
from unified_bench.images import decode_image, reference_rgb
from unified_bench.prompts import caption_conversations
from unified_bench.registry import default_registry
from unified_bench_adapters.uae.adapter import build_uae_tiny


def _rgba() -> Image.Image:
    """A 56x56 RGBA picture: random colours (dark under the transparent part), alpha 0, 255 and ramps."""
    rng = np.random.RandomState(3)
    rgb = rng.randint(0, 256, (56, 56, 3), dtype=np.uint8)
    rgb[:, :20] //= 4  # what convert("RGB") would show there
    alpha = np.full((56, 56), 255, dtype=np.uint8)
    alpha[:, :20] = 0
    alpha[:, 20:30] = np.linspace(0, 255, 10, dtype=np.uint8)
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def _on_white(image: Image.Image) -> np.ndarray:
    rgba = np.asarray(image, dtype=np.float64)
    alpha = rgba[..., 3:] / 255
    return rgba[..., :3] * alpha + 255 * (1 - alpha)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_transparent_pixels_become_white_opaque_ones_keep_their_colour():
    image = _rgba()
    composited = np.asarray(reference_rgb(image), dtype=np.float64)
    assert reference_rgb(image).mode == "RGB"
    assert np.abs(composited - _on_white(image)).max() <= 1  # PIL rounds the blend
    assert (composited[:, :20] == 255).all()
    assert (composited[:, 30:] == np.asarray(image)[:, 30:, :3]).all()


def test_a_palette_with_a_transparent_index_is_composited_too():
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([10, 20, 30, 200, 100, 0] + [0] * 762)
    palette.paste(1, (4, 0, 8, 8))
    palette.info["transparency"] = 0
    assert (np.asarray(reference_rgb(palette))[:, :4] == 255).all()
    assert (np.asarray(reference_rgb(palette))[:, 4:] == (200, 100, 0)).all()


def test_datasets_hand_adapters_the_alpha_and_scorers_still_get_rgb(tmp_path):
    (tmp_path / "a.png").write_bytes(_png(_rgba()))
    (sample,) = load_dataset(str(tmp_path)).samples
    assert sample.load_image().mode == "RGBA"
    assert decode_image(_png(_rgba()), "a.png").mode == "RGB"  # scoring decodes as Score_i2i.py


def test_chat_captioners_get_the_composited_image():
    ((turn,),) = caption_conversations([_rgba()])
    image = turn["content"][0]["image"]
    assert np.abs(np.asarray(image, dtype=np.float64) - _on_white(_rgba())).max() <= 1


@pytest.fixture(scope="module")
def composited_reference() -> Image.Image:
    return Image.fromarray(np.round(_on_white(_rgba())).clip(0, 255).astype(np.uint8), "RGB")


def test_uae_captions_an_rgba_image_as_qwen_vl_utils_shows_it(composited_reference):
    encoder = build_uae_tiny(AdapterOptions({}, device="cpu")).encoder
    seen = encoder.caption_inputs([_rgba()])["pixel_values"]
    dropped = encoder.caption_inputs([_rgba().convert("RGB")])["pixel_values"]
    # within PIL's one-level rounding of the blend: far closer than the alpha-dropped picture
    expected = encoder.caption_inputs([composited_reference])["pixel_values"]
    assert (seen - expected).abs().max() < 0.05 < (dropped - expected).abs().max()


def test_janus_pro_captions_an_rgba_image_composited(tmp_path, composited_reference):
    model = build_tiny_janus(tmp_path / "janus")
    adapter = default_registry().build("janus-pro", AdapterOptions({"model": str(model)}, device="cpu"))
    seen = adapter.caption_call([_rgba()], seeds=[1])["pixel_values"]
    dropped = adapter.caption_call([_rgba().convert("RGB")], seeds=[1])["pixel_values"]
    expected = adapter.caption_call([composited_reference], seeds=[1])["pixel_values"]
    assert (seen - expected).abs().max() < 0.05 < (dropped - expected).abs().max()
