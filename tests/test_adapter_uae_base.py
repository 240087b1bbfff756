"""uae-base: UAE's two base models under exactly UAE's caption protocol and decoder settings.

On uae-tiny's own Qwen weights (its LoRA off), ``uae`` and ``uae-base`` must hand the captioner the
same tensors; the default composite (the captioner's chat template) does not.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests._tiny_adapters import build_tiny_sd3, one_torch_thread
from unified_bench.adapter import AdapterOptions
from unified_bench.registry import default_registry
from unified_bench_adapters.uae.config import NEGATIVE_PROMPT
from unified_bench_adapters.uae.tiny import ensure_tiny_checkpoint


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def parts(session_cache, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UNIFIED_BENCH_CACHE", str(session_cache))
        root = ensure_tiny_checkpoint()
    return root, build_tiny_sd3(tmp_path_factory.mktemp("uae-base") / "sd3")


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(5)
    return [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((90, 60), (300, 420))
    ]


def _build(name: str, args: dict[str, str]):
    return default_registry().build(name, AdapterOptions(args=args, device="cpu"))


def test_uae_base_builds_the_same_caption_inputs_as_uae_with_its_lora_off(parts):
    root, sd3 = parts
    uae = _build("uae-tiny", {"use_llm_lora": "false"})
    base = _build("uae-base", {"captioner": str(root / "llm_model"), "generator": str(sd3)})
    chat = _build("composite", {"captioner": str(root / "llm_model"), "generator": str(sd3)})
    for image in _images():
        expected = uae.encoder.caption_inputs([image])
        ours = base._caption_inputs([image])
        assert set(ours) == set(expected)
        for key, value in expected.items():
            assert torch.equal(ours[key], value), key
        # the plain composite protocol differs: image first, the processor's own pixel limits
        assert not torch.equal(chat._caption_inputs([image])["input_ids"], expected["input_ids"])
    text = base.processor.tokenizer.decode(ours["input_ids"][0])
    assert text.index("You are an expert vision-language model.") < text.index("<|vision_start|>")


def test_uae_base_draws_with_uaes_decoder_settings_and_the_checkpoints_sampling(parts):
    root, sd3 = parts
    base = _build("uae-base", {"captioner": str(root / "llm_model"), "generator": str(sd3)})
    drawing = base.info()["drawing"]
    assert drawing["size"] == [1024, 1024]
    assert drawing["settings"]["num_inference_steps"] == 40
    assert drawing["settings"]["guidance_scale"] == 5.0
    assert drawing["settings"]["negative_prompt"] == NEGATIVE_PROMPT
    settings = base.info()["settings"]
    assert settings["caption_top_k"] is None and settings["caption_top_p"] is None
    assert base.info()["adapter"] == "uae-base"
    # an explicit argument still wins
    quick = _build("uae-base", {"captioner": str(root / "llm_model"), "generator": str(sd3), "width": "32"})
    assert quick.info()["drawing"]["size"] == [32, 1024]
