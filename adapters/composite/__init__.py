"""Two separate models as one adapter: a transformers captioner + a diffusers text-to-image pipeline.

Only the manifest lives here, so listing adapters never imports torch.
"""

from unified_bench.adapter import AdapterManifest, WeightsRequirement

MANIFEST = AdapterManifest(
    name="composite",
    factory="unified_bench_adapters.composite.adapter:build_composite",
    config="unified_bench_adapters.composite.adapter:CompositeConfig",
    description="Any AutoModelForImageTextToText captioner + any diffusers text-to-image pipeline "
    "(--adapter-arg captioner=ID generator=ID); defaults: UAE's parts, Qwen2.5-VL-3B + SD3.5-Large.",
    weights=(
        WeightsRequirement("Qwen/Qwen2.5-VL-3B-Instruct", size_gb=7.5, role="captioner"),
        WeightsRequirement(
            "stabilityai/stable-diffusion-3.5-large", size_gb=27.5, gated=True, role="generator"
        ),
    ),
    gpu_memory_gb=40.0,
)

UAE_BASE_MANIFEST = AdapterManifest(
    name="uae-base",
    factory="unified_bench_adapters.composite.adapter:build_uae_base",
    config="unified_bench_adapters.composite.adapter:CompositeConfig",
    description="UAE's two base models without unification training (Qwen2.5-VL-3B-Instruct + "
    "SD3.5-Large) under exactly UAE's caption protocol and decoder settings: compare runs/uae "
    "runs/uae-base is the unification gain.",
    weights=MANIFEST.weights,
    gpu_memory_gb=40.0,  # estimate, as composite's
)
