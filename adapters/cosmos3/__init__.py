"""Cosmos3-Omni (NVIDIA): one checkpoint, both halves (the Qwen3-VL reasoner captions, the diffusion
expert draws).

Only the manifest lives here, so listing adapters never imports torch.
"""

from unified_bench.adapter import AdapterManifest, WeightsRequirement

MANIFEST = AdapterManifest(
    name="cosmos3",
    factory="unified_bench_adapters.cosmos3.adapter:build_cosmos3",
    config="unified_bench_adapters.cosmos3.adapter:Cosmos3Config",
    description="Cosmos3-Omni from one checkpoint (default nvidia/Cosmos3-Nano): transformers "
    "Cosmos3OmniForConditionalGeneration captions, diffusers Cosmos3OmniPipeline draws (num_frames=1). "
    "Size and memory are estimates, not measured.",
    # Estimates (not measured): the reasoner alone needs ~16-17 GB (NVIDIA's reasoner cookbook);
    # the full omni checkpoint ~34 GB in bf16, loaded here twice (reasoner + generator).
    # Gated: NVIDIA's Cosmos 3 quickstart asks for access to the model repository first.
    weights=(
        WeightsRequirement("nvidia/Cosmos3-Nano", size_gb=35.0, gated=True, role="captioner + generator"),
    ),
    gpu_memory_gb=50.0,
)
