"""Any OpenAI-compatible HTTP endpoint: chat completions caption, the images API draws.

Only the manifest lives here, so listing adapters never imports the client.
"""

from unified_bench.adapter import AdapterManifest

MANIFEST = AdapterManifest(
    name="openai-api",
    factory="unified_bench_adapters.openai_api.adapter:build_openai_api",
    config="unified_bench_adapters.openai_api.adapter:OpenAIAPIConfig",
    aliases=("openai",),
    description="Any OpenAI-compatible endpoint (--adapter-arg base_url=... caption_model=... "
    "image_model=...); key from $OPENAI_API_KEY (never written); retries, backoff, concurrency.",
    gpu_memory_gb=0.0,
    packages=("openai",),
)
