"""The LoRA a stage trains: adding it, switching it off for the reference policy, exporting it.

The encoder LoRA sits on the Qwen language model (demo.py's scope: ``all-linear``, gaussian init)
and is exported as a PEFT adapter folder that the ``uae`` adapter's ``llm_lora`` loader reads; the
decoder LoRA is a PEFT model around the SD3 transformer (Flow-GRPO's attention targets), exported
with ``save_pretrained`` like the release's ``dit_lora/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from peft import LoraConfig, PeftModel, get_peft_model, inject_adapter_in_model
from peft.tuners.tuners_utils import BaseTunerLayer
from safetensors.torch import save_file
from torch import nn

ENCODER_LORA_TARGETS = "all-linear"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def lora_layers(module: nn.Module) -> list[BaseTunerLayer]:
    return [layer for layer in module.modules() if isinstance(layer, BaseTunerLayer)]


def has_lora(module: nn.Module) -> bool:
    return bool(lora_layers(module))


def lora_named_parameters(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(name, parameter) for name, parameter in module.named_parameters() if ".lora_" in name]


@contextmanager
def lora_disabled(*modules: nn.Module) -> Iterator[None]:
    """Run ``modules`` without their LoRA (the reference policy); trainability is restored after.

    PEFT's toggle also flips ``requires_grad`` of the adapter weights; we put back what was there.
    """
    layers = [layer for module in modules for layer in lora_layers(module)]
    flags = {id(p): (p, p.requires_grad) for layer in layers for p in layer.parameters()}
    were_disabled = [layer.disable_adapters for layer in layers]
    try:
        for layer in layers:
            layer.enable_adapters(False)
        yield
    finally:
        for layer, was_disabled in zip(layers, were_disabled, strict=True):
            layer.enable_adapters(not was_disabled)
        for parameter, flag in flags.values():
            parameter.requires_grad_(flag)


def add_encoder_lora(language_model: nn.Module, *, rank: int, alpha: float) -> None:
    """A fresh LoRA (B = 0, so the model is unchanged) on every linear layer of the language model."""
    config = LoraConfig(
        r=rank, lora_alpha=alpha, init_lora_weights="gaussian", target_modules=ENCODER_LORA_TARGETS
    )
    inject_adapter_in_model(config, language_model)


def add_decoder_lora(
    transformer: nn.Module, *, rank: int, alpha: float, targets: tuple[str, ...]
) -> PeftModel:
    """A fresh PEFT LoRA (B = 0) around the SD3 transformer."""
    config = LoraConfig(r=rank, lora_alpha=alpha, init_lora_weights="gaussian", target_modules=list(targets))
    return get_peft_model(transformer, config)


def export_encoder_lora(language_model: nn.Module, directory: Path) -> None:
    """Write the language model's LoRA as a PEFT adapter folder (``adapter_model.safetensors`` + config).

    Tensor names are PEFT's for the bare language model (``base_model.model.layers.0...lora_A.weight``),
    one of the spellings the ``uae`` adapter's ``llm_lora`` loader maps onto its layers.
    """
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        "base_model.model." + name.replace(".default.", "."): parameter.detach().to("cpu").contiguous()
        for name, parameter in lora_named_parameters(language_model)
    }
    save_file(state, str(directory / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    language_model.peft_config["default"].save_pretrained(str(directory))
    _sort_target_modules(directory / ADAPTER_CONFIG)


def export_decoder_lora(transformer: PeftModel, directory: Path) -> None:
    """``save_pretrained`` of the decoder LoRA, with a stable (sorted) ``target_modules`` list."""
    transformer.save_pretrained(str(directory))
    _sort_target_modules(directory / ADAPTER_CONFIG)


def _sort_target_modules(config_file: Path) -> None:
    """PEFT writes ``target_modules`` from a set; sorted, the file is the same on every save."""
    settings = json.loads(config_file.read_text())
    if isinstance(settings.get("target_modules"), list):
        settings["target_modules"] = sorted(settings["target_modules"])
    config_file.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
