"""Janus-Pro (DeepSeek): one autoregressive model that captions and draws, through transformers.

Only the manifests live here, so listing adapters never imports torch.
"""

from unified_bench.adapter import AdapterManifest, WeightsRequirement

MANIFEST = AdapterManifest(
    name="janus-pro",
    factory="unified_bench_adapters.janus_pro.adapter:build_janus_pro",
    config="unified_bench_adapters.janus_pro.adapter:JanusProConfig",
    aliases=("janus-pro-7b",),
    description="Janus-Pro-7B via transformers JanusForConditionalGeneration: text mode captions, "
    "image mode + CFG draws 384x384.",
    weights=(WeightsRequirement("deepseek-community/Janus-Pro-7B", size_gb=14.8),),
    gpu_memory_gb=17.0,
)

MANIFEST_1B = AdapterManifest(
    name="janus-pro-1b",
    factory="unified_bench_adapters.janus_pro.adapter:build_janus_pro_1b",
    config="unified_bench_adapters.janus_pro.adapter:JanusProConfig",
    description="Janus-Pro-1B (same adapter as janus-pro, smaller checkpoint).",
    weights=(WeightsRequirement("deepseek-community/Janus-Pro-1B", size_gb=4.1),),
    gpu_memory_gb=6.0,
)
