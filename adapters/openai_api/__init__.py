"""OpenAI-compatible servers (OpenAI, vLLM, vLLM-Omni, SGLang): chat completions caption, images draw.

Only the manifests live here, so listing adapters never imports the client.
"""

from unified_bench.adapter import AdapterManifest
from unified_bench_adapters.openai_api.presets import PRESET_MANIFESTS

MANIFEST = AdapterManifest(
    name="openai-api",
    factory="unified_bench_adapters.openai_api.adapter:build_openai_api",
    config="unified_bench_adapters.openai_api.config:OpenAIAPIConfig",
    source_fingerprint="unified_bench_adapters.openai_api.adapter:served_models_fingerprint",
    aliases=("openai",),
    description="Any OpenAI-compatible server (--adapter-arg engine=openai|vllm|vllm-omni|sglang "
    "caption_base_url=... image_base_url=..., comma-separated replicas); every protocol setting and "
    "the per-sample seed sent; served models recorded; key from $OPENAI_API_KEY (never written).",
    gpu_memory_gb=0.0,
    packages=("openai",),
)

# Entry points name module attributes: one per served preset.
BAGEL_SERVED = PRESET_MANIFESTS["bagel-served"]
OMNIGEN2_SERVED = PRESET_MANIFESTS["omnigen2-served"]
HUNYUANIMAGE3_SERVED = PRESET_MANIFESTS["hunyuanimage3-served"]
QWEN_IMAGE_SERVED = PRESET_MANIFESTS["qwen-image-served"]
COSMOS3_SERVED = PRESET_MANIFESTS["cosmos3-served"]
