"""Model adapters shipped with unified-bench (import name ``unified_bench_adapters``)."""
