"""Package discovery only (metadata lives in pyproject.toml).

The adapters sit in the top-level ``adapters/`` folder but import as ``unified_bench_adapters``
(the bare name ``adapters`` is taken on PyPI), which needs a computed package list.
"""

from setuptools import find_packages, setup

adapter_packages = ["unified_bench_adapters"] + [
    f"unified_bench_adapters.{name}" for name in find_packages("adapters")
]

setup(
    packages=find_packages(include=["unified_bench", "unified_bench.*"]) + adapter_packages,
    package_dir={"unified_bench_adapters": "adapters"},
)
