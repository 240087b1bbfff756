"""UAE (arXiv 2509.09666): Qwen2.5-VL encoder + projector conditioning an SD3 decoder.

Only the manifests live here, so listing adapters never imports torch.
"""

from unified_bench.adapter import AdapterManifest, WeightsRequirement

MANIFEST = AdapterManifest(
    name="uae",
    factory="unified_bench_adapters.uae.adapter:build_uae",
    config="unified_bench_adapters.uae.config:UAEConfig",
    aliases=("uae-official",),
    description="UAE: Qwen2.5-VL-3B encoder + LoRA + projector, SD3.5-Large decoder + LoRA "
    "(zhiyuanyan1/UAE).",
    # Estimates from parameter counts (bf16): Qwen2.5-VL-3B 3.8B + SD3.5-Large DiT 8.1B + CLIP-L/G and
    # VAE; the stock SD3 transformer and T5 are not downloaded. Peak adds 1024² activations.
    protocols=("text", "native"),
    weights=(WeightsRequirement("zhiyuanyan1/UAE", size_gb=26.0),),
    gpu_memory_gb=30.0,
)

TINY_MANIFEST = AdapterManifest(
    name="uae-tiny",
    factory="unified_bench_adapters.uae.adapter:build_uae_tiny",
    config="unified_bench_adapters.uae.config:UAEConfig",
    protocols=("text", "native"),
    description="UAE's exact classes at tiny sizes with random weights (seeded, cached locally): "
    "offline demo and tests.",
    gpu_memory_gb=0,  # runs on the CPU in seconds
)
