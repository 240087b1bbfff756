"""Emu3 (BAAI): two checkpoints of one architecture, Emu3-Chat captions and Emu3-Gen draws.

Only the manifest lives here, so listing adapters never imports torch.
"""

from unified_bench.adapter import AdapterManifest, WeightsRequirement

MANIFEST = AdapterManifest(
    name="emu3",
    factory="unified_bench_adapters.emu3.adapter:build_emu3",
    config="unified_bench_adapters.emu3.adapter:Emu3Config",
    description="Emu3 via transformers Emu3ForConditionalGeneration: Emu3-Chat-hf captions, "
    "Emu3-Gen-hf draws (CFG, image-layout constrained tokens, 720x720).",
    weights=(
        WeightsRequirement("BAAI/Emu3-Chat-hf", size_gb=17.0, role="captioner"),
        WeightsRequirement("BAAI/Emu3-Gen-hf", size_gb=17.0, role="generator"),
    ),
    gpu_memory_gb=38.0,
)
