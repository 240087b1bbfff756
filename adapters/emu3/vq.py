"""Emu3's VQ tokenizer as its own float32 module, as BAAI runs it.

BAAI's ``multimodal_understanding.py`` / ``image_generation.py`` load ``Emu3-VisionTokenizer`` as a
separate model without a dtype (float32) next to the bf16 language model, so images are encoded to
tokens and tokens decoded to pixels in float32. transformers' ``Emu3ForConditionalGeneration`` holds
the VQ-VAE inside the model and casts it with the rest (bf16). ``install_float32_vq`` replaces that
submodule with an ``Emu3VQVAE`` in float32 holding the checkpoint's VQ tensors as stored (no bf16
round trip on the way in); the model's ``get_image_tokens`` and ``decode_image_tokens`` then run it
unchanged (the VQ casts its inputs to its own dtype).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open
from transformers import Emu3ForConditionalGeneration
from transformers.models.emu3.modeling_emu3 import Emu3VQVAE

from unified_bench.errors import MissingWeightsError
from unified_bench.paths import local_path

_VQ_PREFIX = "vqmodel."  # "vqmodel.*" (the -hf checkpoints) or "model.vqmodel.*" (transformers 5)


def checkpoint_weight_files(source: str, revision: str | None) -> list[Path]:
    """The ``*.safetensors`` files of a local checkpoint folder or a (cached) hub checkpoint."""
    path = local_path(source)
    if path is None:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(source, revision=revision, allow_patterns=["*.safetensors"]))
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise MissingWeightsError(f"{source}: no .safetensors files to read the VQ tokenizer from.")
    return files


def install_float32_vq(model: Emu3ForConditionalGeneration, files: list[Path]) -> Emu3VQVAE:
    """Replace ``model``'s VQ-VAE by a float32 copy loaded from ``files``; returns the new module."""
    state: dict[str, torch.Tensor] = {}
    for path in files:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open handles are not iterable)
                if key.startswith(_VQ_PREFIX) or f".{_VQ_PREFIX}" in key:
                    tensor = handle.get_tensor(key)
                    name = key.split(_VQ_PREFIX, 1)[1]
                    state[name] = tensor.float() if tensor.is_floating_point() else tensor
    old = model.model.vqmodel
    device = next(old.parameters()).device
    vq = Emu3VQVAE(model.config.vq_config).to(torch.float32)
    missing = vq.load_state_dict(state, strict=False).missing_keys
    if missing:
        raise MissingWeightsError(
            f"{files[0].parent}: the checkpoint lacks {len(missing)} VQ tokenizer tensors "
            f"(e.g. {missing[0]}); re-download it."
        )
    model.model.vqmodel = vq.to("cpu" if device.type == "meta" else device).eval()
    return vq
