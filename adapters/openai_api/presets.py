"""Served unified models: ``openai-api`` with each model's servers, engines and card settings as defaults.

A preset is data: ``--adapter-arg`` strings merged under the user's own (which win), the commands
that start its servers, and notes saying where each default comes from and what was not confirmed.
Nothing here imports the client, so ``adapters list`` stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from unified_bench.adapter import AdapterManifest, AdapterOptions

CAPTION_URL = "http://localhost:8000/v1"  # the understanding server (vLLM's default port)
IMAGE_URL = "http://localhost:8092/v1"  # the generation server
QWEN_VL_7B = "Qwen/Qwen2.5-VL-7B-Instruct"
VLLM_CAPTIONER = f"vllm serve {QWEN_VL_7B} --port 8000"


def _two_servers(caption_model: str, image_model: str, **image_settings: str) -> dict[str, str]:
    """Defaults of a preset with a vLLM caption server and a vLLM-Omni image server."""
    return {
        "caption_engine": "vllm",
        "caption_base_url": CAPTION_URL,
        "caption_model": caption_model,
        "image_engine": "vllm-omni",
        "image_base_url": IMAGE_URL,
        "image_model": image_model,
        **image_settings,
    }


@dataclass(frozen=True)
class ServedPreset:
    name: str
    summary: str
    defaults: dict[str, str]
    serve: tuple[str, ...]  # the commands that start its servers
    notes: str


PRESETS: tuple[ServedPreset, ...] = (
    ServedPreset(
        name="bagel-served",
        summary="BAGEL-7B-MoT, both halves on one vLLM-Omni server (chat: img2text, text2img)",
        defaults={
            "engine": "vllm-omni",
            "base_url": "http://localhost:8091/v1",
            "caption_model": "ByteDance-Seed/BAGEL-7B-MoT",
            "image_model": "ByteDance-Seed/BAGEL-7B-MoT",
            "image_api": "chat",
            "image_size": "1024x1024",
            "num_inference_steps": "50",
        },
        serve=("vllm serve ByteDance-Seed/BAGEL-7B-MoT --omni --port 8091",),
        notes="50 steps and 1024x1024 are BAGEL's own inference defaults (num_timesteps=50); "
        "vLLM-Omni's BAGEL page documents height/width/num_inference_steps/seed/negative_prompt for "
        "chat text2img but no guidance field, so BAGEL's cfg_text_scale (4.0 in its repo) is left to "
        "the server: not confirmed that guidance_scale reaches it. vLLM-Omni's img2text example puts "
        "BAGEL's chat template tokens in the text; whether its chat path applies the template itself "
        "for a plain instruction is not confirmed here.",
    ),
    ServedPreset(
        name="omnigen2-served",
        summary="OmniGen2 on vLLM-Omni; captions by its MLLM, Qwen2.5-VL-3B, on vLLM",
        defaults=_two_servers(
            "Qwen/Qwen2.5-VL-3B-Instruct",
            "OmniGen2/OmniGen2",
            image_size="1024x1024",
            num_inference_steps="50",
            guidance_scale="5.0",
        ),
        serve=(
            "vllm serve Qwen/Qwen2.5-VL-3B-Instruct --port 8000",
            "vllm serve OmniGen2/OmniGen2 --omni --port 8092",
        ),
        notes="50 steps, text guidance 5.0, 1024x1024: the official repository's example scripts "
        "(--num_inference_step 50 --text_guidance_scale 5.0); that vLLM-Omni maps guidance_scale to "
        "OmniGen2's text guidance is not confirmed. The caption half is Qwen2.5-VL-3B-Instruct, the "
        "MLLM OmniGen2 is built on, served on its own.",
    ),
    ServedPreset(
        name="hunyuanimage3-served",
        summary="HunyuanImage-3.0 on vLLM-Omni (DiT only); captions by Qwen2.5-VL-7B on vLLM (a stand-in)",
        defaults=_two_servers(
            QWEN_VL_7B,
            "tencent/HunyuanImage-3.0",
            image_size="1024x1024",
            num_inference_steps="50",
            guidance_scale="2.5",
        ),
        serve=(VLLM_CAPTIONER, "vllm serve tencent/HunyuanImage-3.0 --omni --port 8092"),
        notes="50 steps and guidance 2.5 are SGLang's HunyuanImage3 pipeline defaults, which it says come "
        "from the checkpoint's generation_config.json; not checked against tencent/HunyuanImage-3.0's "
        "own file. vLLM-Omni serves HunyuanImage-3 DiT-only, with no understanding half: the captions "
        "come from Qwen2.5-VL-7B, so this measures a composite, not HunyuanImage-3's own unification.",
    ),
    ServedPreset(
        name="qwen-image-served",
        summary="Qwen-Image on vLLM-Omni (or SGLang); captions by Qwen2.5-VL-7B, its text encoder, on vLLM",
        defaults=_two_servers(
            QWEN_VL_7B,
            "Qwen/Qwen-Image",
            image_size="1328x1328",
            num_inference_steps="50",
            true_cfg_scale="4.0",
            negative_prompt=" ",
        ),
        serve=(
            VLLM_CAPTIONER,
            "vllm serve Qwen/Qwen-Image --omni --port 8092",
            "or: sglang serve --model-path Qwen/Qwen-Image --port 8092 "
            "(then --adapter-arg image_engine=sglang)",
        ),
        notes="50 steps, true CFG 4.0, negative prompt ' ' and 1328x1328 for 1:1 are the Qwen-Image card's "
        "example settings. Qwen2.5-VL-7B-Instruct is Qwen-Image's text encoder, served on its own.",
    ),
    ServedPreset(
        name="cosmos3-served",
        summary="Cosmos3-Nano text-to-image on vLLM-Omni; captions by Qwen2.5-VL-7B on vLLM (a stand-in)",
        defaults=_two_servers(
            QWEN_VL_7B,
            "nvidia/Cosmos3-Nano",
            image_size="1024x1024",
        ),
        serve=(VLLM_CAPTIONER, "vllm serve nvidia/Cosmos3-Nano --omni --port 8092"),
        notes="Steps, guidance and size could not be confirmed from the card here: steps and guidance "
        "are left to the server's pipeline defaults (pass num_inference_steps=, guidance_scale=), "
        "1024x1024 is a guess. The caption half is a stand-in (Qwen2.5-VL-7B), not Cosmos3.",
    ),
)


def _merged(preset: ServedPreset, options: AdapterOptions) -> AdapterOptions:
    return AdapterOptions(
        args={**preset.defaults, **options.args},
        device=options.device,
        dtype=options.dtype,
        protocol=options.protocol,
    )


def build_preset(name: str, options: AdapterOptions) -> Any:
    from unified_bench_adapters.openai_api.adapter import build_openai_api

    return build_openai_api(_merged(_preset(name), options))


def preset_fingerprint(name: str, options: AdapterOptions) -> str:
    from unified_bench_adapters.openai_api.adapter import served_models_fingerprint

    return served_models_fingerprint(_merged(_preset(name), options))


def _preset(name: str) -> ServedPreset:
    return next(preset for preset in PRESETS if preset.name == name)


def _attribute(name: str) -> str:
    return name.replace("-", "_")


# One lazy factory and fingerprint per preset, for the manifests' "module:attribute" paths.
for _p in PRESETS:
    globals()[f"build_{_attribute(_p.name)}"] = partial(build_preset, _p.name)
    globals()[f"fingerprint_{_attribute(_p.name)}"] = partial(preset_fingerprint, _p.name)


def _manifest(preset: ServedPreset) -> AdapterManifest:
    module = "unified_bench_adapters.openai_api.presets"
    settings = " ".join(
        f"{key}={value!r}" if " " in value else f"{key}={value}" for key, value in preset.defaults.items()
    )
    return AdapterManifest(
        name=preset.name,
        factory=f"{module}:build_{_attribute(preset.name)}",
        config="unified_bench_adapters.openai_api.config:OpenAIAPIConfig",
        source_fingerprint=f"{module}:fingerprint_{_attribute(preset.name)}",
        description=f"{preset.summary}; served, setup below.",
        setup=(
            *(f"start: {command}" for command in preset.serve),
            f"defaults (each overridable with --adapter-arg): {settings}",
            f"notes: {preset.notes}",
        ),
        gpu_memory_gb=0.0,  # on this machine: the GPUs are the servers'
        packages=("openai",),
    )


PRESET_MANIFESTS: dict[str, AdapterManifest] = {preset.name: _manifest(preset) for preset in PRESETS}
