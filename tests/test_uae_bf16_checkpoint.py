"""uae-tiny with its encoder saved in bfloat16, as the release ships Qwen2.5-VL: loaded by the same code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from unified_bench_adapters.uae.adapter import UAEAdapter
from unified_bench_adapters.uae.config import UAEConfig
from unified_bench_adapters.uae.tiny import TINY_DEFAULTS, ensure_tiny_checkpoint

ENCODER_FILE = Path("llm_model") / "model.safetensors"
# release tensor name -> where it lives in the loaded model (parts without LoRA layers)
CHECKED_TENSORS = {
    "model.embed_tokens.weight": "model.language_model.embed_tokens.weight",
    "projector.0.weight": "projector.0.weight",
    "projector.2.bias": "projector.2.bias",
    "visual.patch_embed.proj.weight": "model.visual.patch_embed.proj.weight",
}


@pytest.fixture(scope="module")
def checkpoints(session_cache: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(float32 uae-tiny, the same checkpoint with llm_model/ re-saved in bfloat16)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UNIFIED_BENCH_CACHE", str(session_cache))
        float32_root = ensure_tiny_checkpoint()
    bf16_root = tmp_path_factory.mktemp("uae-tiny-bf16") / "uae-tiny"
    shutil.copytree(float32_root, bf16_root)
    tensors = load_file(str(bf16_root / ENCODER_FILE))
    save_file({name: t.to(torch.bfloat16) for name, t in tensors.items()}, str(bf16_root / ENCODER_FILE))
    config_file = bf16_root / "llm_model" / "config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "torch_dtype": "bfloat16"}, indent=2) + "\n")
    return float32_root, bf16_root


def _load(root: Path, dtype: str) -> UAEAdapter:
    config = UAEConfig(**{**TINY_DEFAULTS, "max_new_tokens": 6})
    return UAEAdapter.from_pretrained(str(root), config, device="cpu", dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_bf16_encoder_loads_into_the_requested_dtype_with_the_files_values(checkpoints, dtype):
    float32_root, bf16_root = checkpoints
    saved = load_file(str(bf16_root / ENCODER_FILE))
    original = load_file(str(float32_root / ENCODER_FILE))
    encoder = _load(bf16_root, dtype).encoder.model
    parameters = dict(encoder.named_parameters())
    base = {parameter.dtype for name, parameter in parameters.items() if ".lora_" not in name}
    assert base == {getattr(torch, dtype)}  # the LoRA stays float32 (next test)
    for file_name, model_name in CHECKED_TENSORS.items():
        assert saved[file_name].dtype == torch.bfloat16
        # bf16 -> float32 is exact, so the loaded values are the file's, bit for bit
        torch.testing.assert_close(
            parameters[model_name].detach().float(), saved[file_name].float(), rtol=0, atol=0
        )
    rounded = saved["projector.0.weight"].float()
    assert not torch.equal(rounded, original["projector.0.weight"])  # the variant really is bf16


def test_a_bf16_encoder_captions_and_conditions_the_decoder(checkpoints):
    _, bf16_root = checkpoints
    adapter = _load(bf16_root, "float32")
    image = Image.fromarray(np.random.RandomState(0).randint(0, 256, (56, 56, 3), dtype=np.uint8))
    (caption,) = adapter.caption([image], seeds=[1])
    assert isinstance(caption, str)
    (generated,) = adapter.generate(["a red square"], seeds=[2])
    assert generated.size == (TINY_DEFAULTS["width"], TINY_DEFAULTS["height"])


def test_the_encoder_lora_stays_float32_over_a_bf16_base_as_peft_keeps_it(checkpoints):
    _, bf16_root = checkpoints
    model = _load(bf16_root, "bfloat16").encoder.model
    lora = {name: p.detach() for name, p in model.named_parameters() if ".lora_" in name}
    assert lora and {p.dtype for p in lora.values()} == {torch.float32}
    assert {p.dtype for name, p in model.named_parameters() if name not in lora} == {torch.bfloat16}
    # each LoRA weight holds a tensor of the file exactly (found by value, not by name): unrounded
    saved = [
        t for path in (bf16_root / "llm_lora").glob("*.safetensors") for t in load_file(str(path)).values()
    ]
    for name, weight in lora.items():
        assert any(t.shape == weight.shape and torch.equal(t.float(), weight) for t in saved), name
    assert any(not torch.equal(w, w.bfloat16().float()) for w in lora.values())  # not bf16 values
