"""Precomputed outputs: captions and images produced elsewhere (a closed or exotic model), scored as a run.

Only the manifest lives here, so listing adapters never imports torch.
"""

from unified_bench.adapter import AdapterManifest

MANIFEST = AdapterManifest(
    name="precomputed",
    factory="unified_bench_adapters.precomputed.adapter:build_precomputed",
    config="unified_bench_adapters.precomputed.adapter:PrecomputedConfig",
    description="Captions + images made elsewhere, by sample id: --adapter-arg dir=FOLDER "
    "(captions.jsonl + images/) or images=FOLDER captions=FILE_OR_FOLDER.",
    gpu_memory_gb=0.0,
    source_fingerprint="unified_bench_adapters.precomputed.adapter:source_fingerprint",
)
