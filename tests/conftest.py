"""Shared fixtures: an isolated cache per test session, and the CLI called in-process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Tiny models are all overhead: one torch thread is faster than two fighting over 2 cores
# (set before anything imports torch; subprocess tests inherit it).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

from unified_bench.cli.app import main


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One cache for the whole session, so tiny checkpoints are built once and never touch ~/.cache."""
    return tmp_path_factory.mktemp("unified-bench-cache")


@pytest.fixture(autouse=True)
def isolated_cache(session_cache, monkeypatch) -> Path:
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(session_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("SLURM_PROCID", raising=False)  # a suite run inside an srun job is not sharded
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    return session_cache


def isolation_problem(environment: Mapping[str, str], temp_root: Path) -> str | None:
    """What is missing from the isolation every test gets (docs/testing.md), or None."""
    cache = environment.get("UNIFIED_BENCH_CACHE")
    if cache is None or not Path(cache).resolve().is_relative_to(temp_root.resolve()):
        return f"UNIFIED_BENCH_CACHE={cache!r} is not under pytest's temp folder {temp_root}"
    if environment.get("HF_HUB_OFFLINE") != "1":
        return f"HF_HUB_OFFLINE={environment.get('HF_HUB_OFFLINE')!r}, not '1'"
    leaked = [name for name in ("RANK", "WORLD_SIZE") if name in environment]
    return f"{', '.join(leaked)} set" if leaked else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Every test body starts isolated, whatever its module imports.

    A module that imports a fixture named ``isolated_cache`` shadows the autouse one above, and its
    tests then run online with the caller's RANK/WORLD_SIZE: this check fails them.
    """
    problem = isolation_problem(os.environ, item.config._tmp_path_factory.getbasetemp())
    if problem:
        pytest.fail(f"{item.nodeid} runs without the suite's isolation: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def tiny_sd3_composite(tmp_path_factory) -> dict[str, str]:
    """The composite adapter's default pair at tiny size: a Qwen2.5-VL captioner and an SD3 pipeline.

    Saved once per session with ``save_pretrained``; returns ``{"captioner": DIR, "generator": DIR}``,
    the adapter arguments that load them through ``from_pretrained`` as users do.
    """
    from tests._tiny_adapters import build_tiny_qwen2_5_vl, build_tiny_sd3, one_torch_thread

    root = tmp_path_factory.mktemp("tiny-sd3-composite")
    with one_torch_thread():
        return {
            "captioner": str(build_tiny_qwen2_5_vl(root / "qwen2.5-vl-tiny")),
            "generator": str(build_tiny_sd3(root / "sd3-tiny")),
        }


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """Run ``unified-bench ARGS`` in this process; returns exit code, stdout and stderr."""

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


def subprocess_env(cache: Path) -> dict[str, str]:
    return {**os.environ, "UNIFIED_BENCH_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
