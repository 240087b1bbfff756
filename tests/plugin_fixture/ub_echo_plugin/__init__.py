"""A unified-bench adapter shipped by a third-party package (the manifest only: no heavy imports)."""

from unified_bench.adapter import AdapterManifest

MANIFEST = AdapterManifest(
    name="echo-plugin",
    factory="ub_echo_plugin.adapter:build",
    aliases=("echo",),
    description="Test plugin: mean colour in, flat image out.",
    protocols=("text", "native"),
    gpu_memory_gb=0.0,
    packages=("ub-echo-plugin",),
)
