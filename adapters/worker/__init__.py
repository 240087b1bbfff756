"""``worker``: a model in its own environment, started as a command and driven over worker protocol v1
(docs/worker-protocol.md). The presets (bagel, show-o2, ...) run the workers in ``adapters/workers``.

Only the manifests live here, so listing adapters never imports anything heavy.
"""

from unified_bench.adapter import AdapterManifest

MANIFEST = AdapterManifest(
    name="worker",
    factory="unified_bench_adapters.worker.adapter:build_worker",
    config="unified_bench_adapters.worker.adapter:WorkerConfig",
    description='A model in its own environment: --adapter-arg command="/env/bin/python my_worker.py ..." '
    "speaking worker protocol v1 (docs/worker-protocol.md; `unified-bench worker-template` prints a "
    "skeleton); timeout=SECONDS per request, restarts=N.",
    gpu_memory_gb=None,
)
