"""Loading UAE's extra weights into the encoder: the Stage-2 LoRA (llm_lora/) and projector overrides.

The release's ``llm_lora/`` is read the way demo.py reads it: LoRA layers
(r=32, alpha=64, all-linear) are put on the language model, then every tensor whose name matches
a model tensor is loaded (``load_state_dict(strict=False)`` semantics). Names are matched after
normalising the spellings a checkpoint can use: a PEFT wrapper (``base_model.model.``), the
adapter name (``lora_A.default``), ``base_layer``, and the transformers-4.50 module layout. Unlike
demo.py, a directory in which no LoRA tensor matched is an error, not a silent no-op.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.tuners_utils import cast_adapter_dtype
from safetensors import safe_open

from unified_bench.errors import InputError, MissingWeightsError

from .modeling import LEGACY_KEY_MAPPING, Qwen2_5_VLWithProjector

logger = logging.getLogger(__name__)

# demo.py's `set_lora(uae_model.model, "all-linear", rank=32, alpha=64)`.
LLM_LORA_RANK = 32
LLM_LORA_ALPHA = 64

_ADAPTER_NAME = re.compile(r"\.(lora_A|lora_B|lora_magnitude_vector)\.(?!weight$|bias$)[^.]+(?=\.)")
_BARE_LANGUAGE_MODEL = re.compile(r"^(layers|embed_tokens|norm)\.")


@dataclass(frozen=True)
class LoraLoadReport:
    """What loading a LoRA directory did: recorded in the adapter's ``info()``."""

    lora_tensors: int
    other_tensors: int
    ignored_tensors: int
    rank: int
    alpha: float
    loaded: frozenset[str]  # canonical names of every tensor loaded

    def as_dict(self) -> dict[str, int | float]:
        return {
            "lora_tensors_loaded": self.lora_tensors,
            "other_tensors_loaded": self.other_tensors,
            "tensors_ignored": self.ignored_tensors,
            "rank": self.rank,
            "alpha": self.alpha,
        }


def canonical_key(name: str) -> str:
    """One spelling per tensor, rooted at ``Qwen2_5_VLWithProjector`` in the transformers-5 layout.

    >>> canonical_key("model.base_model.model.layers.0.mlp.up_proj.lora_A.default.weight")
    'model.language_model.layers.0.mlp.up_proj.lora_A.weight'
    >>> canonical_key("model.language_model.layers.0.mlp.up_proj.base_layer.weight")
    'model.language_model.layers.0.mlp.up_proj.weight'
    """
    name = name.replace("base_model.model.", "")
    name = _ADAPTER_NAME.sub(r".\1", name)
    name = name.replace(".base_layer.", ".")
    if _BARE_LANGUAGE_MODEL.match(name):
        return "model.language_model." + name
    if name.startswith("language_model."):
        return "model." + name
    for pattern, replacement in LEGACY_KEY_MAPPING.items():
        name = re.sub(pattern, replacement, name, count=1)
    return name


def llm_lora_config(lora_dir: Path) -> LoraConfig:
    """The demo's LoRA config, or the directory's own ``adapter_config.json`` when it has one."""
    if (lora_dir / "adapter_config.json").is_file():
        return LoraConfig.from_pretrained(str(lora_dir))
    return LoraConfig(
        r=LLM_LORA_RANK,
        lora_alpha=LLM_LORA_ALPHA,
        init_lora_weights="gaussian",
        target_modules="all-linear",
    )


def safetensors_files(directory: Path) -> list[Path]:
    """The ``*.safetensors`` files of ``directory`` in name order, or ``MissingWeightsError``."""
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise MissingWeightsError(
            f"{directory}: no .safetensors files; the UAE release ships them there "
            "(re-download the folder or point --adapter-arg model/checkpoint elsewhere)."
        )
    return files


def attach_llm_lora(model: Qwen2_5_VLWithProjector, lora_dir: Path) -> LoraLoadReport:
    """Put LoRA layers on the language model and load ``lora_dir`` into the model.

    Only the language model gets LoRA: in transformers 4.50, demo.py's ``uae_model.model`` is the
    language model alone (the vision tower is a sibling there, a child in transformers 5).

    Over a bf16/fp16 model the LoRA weights are float32, as ``get_peft_model`` keeps them
    (``autocast_adapter_dtype=True``, its default; PEFT's forward runs the adapter branch in float32
    and casts its sum back), and the file's values are loaded into them unrounded. Rounding them to
    bf16 moves UAE's prompt embeddings by 5.75e-3 (relative). Cast the model before calling this.

    Raises:
        InputError: no LoRA tensor of ``lora_dir`` matched a LoRA layer, or a shape differs.
    """
    lora_config = llm_lora_config(lora_dir)
    inject_adapter_in_model(lora_config, model.model.language_model)
    cast_adapter_dtype(model, adapter_name="default", autocast_adapter_dtype=True)
    model_tensors = model.state_dict()
    targets = {canonical_key(name): name for name in model_tensors}
    to_load: dict[str, torch.Tensor] = {}
    ignored: list[str] = []
    for path in safetensors_files(lora_dir):
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open handles are not iterable)
                target = targets.get(canonical_key(key))
                if target is None:
                    ignored.append(key)
                    continue
                tensor = handle.get_tensor(key)
                if tensor.shape != model_tensors[target].shape:
                    raise InputError(
                        f"{path}: tensor {key} has shape {tuple(tensor.shape)} but the model's {target} "
                        f"has {tuple(model_tensors[target].shape)}; if the LoRA rank is not "
                        f"{lora_config.r}, add the PEFT adapter_config.json next to the weights."
                    )
                to_load[target] = tensor
    lora_loaded = sum(".lora_" in name for name in to_load)
    if lora_loaded == 0:
        examples = ", ".join(ignored[:3]) or "none"
        raise InputError(
            f"{lora_dir}: none of its {len(ignored) + len(to_load)} tensors matched a LoRA layer of the "
            f"encoder (first names: {examples}); expected names like "
            "model.base_model.model.layers.0.self_attn.q_proj.lora_A.default.weight. "
            "Pass --adapter-arg use_llm_lora=false to run without it."
        )
    if ignored:
        logger.warning("%s: %d tensors matched no encoder tensor and were ignored.", lora_dir, len(ignored))
    model.load_state_dict(to_load, strict=False)
    return LoraLoadReport(
        lora_tensors=lora_loaded,
        other_tensors=len(to_load) - lora_loaded,
        ignored_tensors=len(ignored),
        rank=lora_config.r,
        alpha=lora_config.lora_alpha,
        loaded=frozenset(canonical_key(name) for name in to_load),
    )


def load_projector(model: Qwen2_5_VLWithProjector, path: Path) -> frozenset[str]:
    """Replace the projector's weights from safetensors (names ``0.weight`` or ``projector.0.weight``)."""
    with safe_open(str(path), framework="pt", device="cpu") as handle:
        state = {key.removeprefix("projector."): handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    expected = set(model.projector.state_dict())
    if set(state) != expected:
        raise InputError(
            f"{path}: expected projector tensors {sorted(expected)}, found {sorted(state)}; "
            "save it with safetensors.torch.save_file(model.projector.state_dict(), path)."
        )
    try:
        model.projector.load_state_dict(state)
    except RuntimeError as error:
        raise InputError(f"{path}: projector shapes do not match the model ({error}).") from None
    return frozenset(f"projector.{name}" for name in state)
