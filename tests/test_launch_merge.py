"""Under a launcher one command leaves one result: rank 0 waits for every shard and merges them.

Two real processes under ``torch.distributed.run`` (torchrun), meeting over gloo; the model is
``openai-api`` against a local vLLM-Omni stub, so each rank starts quickly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._stub_engines import StubEngine
from tests._tiny_adapters import run_args
from tests.conftest import subprocess_env
from unified_bench.sharding import Shard, shard_from_environment
from unified_bench.store import RunStore

KEY_ENV, KEY = "UB_TEST_LAUNCH_KEY", "sk-launch-" + "3c" * 12
MODEL = "ByteDance-Seed/BAGEL-7B-MoT"
LIMIT = 4


def test_srun_ranks_shard_when_rank_is_unset():
    assert shard_from_environment({"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}) == Shard(1, 2)
    # torchrun's variables win where both are set (torchrun inside an sbatch allocation)
    both = {"RANK": "0", "WORLD_SIZE": "4", "SLURM_PROCID": "1", "SLURM_NTASKS": "2"}
    assert shard_from_environment(both) == Shard(0, 4)
    assert shard_from_environment({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) is None


def served_args(stub: StubEngine, output: Path, *extra: str) -> list[str]:
    settings = [
        "engine=vllm-omni",
        f"base_url={stub.base_url}",
        f"caption_model={MODEL}",
        f"image_model={MODEL}",
        f"api_key_env={KEY_ENV}",
        "image_size=16x16",
        "cache=false",
    ]
    adapter = [part for setting in settings for part in ("--adapter-arg", setting)]
    return [*run_args("openai-api", output, *adapter, limit=LIMIT)[:], *extra]


def outputs(run_dir: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    captions = {sample_id: record.caption for sample_id, record in RunStore(run_dir).captions().items()}
    images = {path.stem: path.read_bytes() for path in (run_dir / "images").glob("*.png")}
    return captions, images


def torchrun(args: list[str], cache: Path, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    environment = {**subprocess_env(cache), KEY_ENV: KEY, "OMP_NUM_THREADS": "1", **env}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS"):
        environment.pop(name, None)
    return subprocess.run(
        [*command, "-m", "unified_bench", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )


@pytest.mark.slow
def test_torchrun_with_two_processes_leaves_one_merged_result(cli, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with StubEngine("vllm-omni", MODEL, KEY) as stub:
        launched = torchrun(served_args(stub, tmp_path / "merged"), tmp_path / "cache")
        whole = cli(*served_args(stub, tmp_path / "whole"))
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert whole.code == 0, whole.err
    merged = tmp_path / "merged"
    results = json.loads((merged / "results.json").read_text())
    assert results["dataset"]["shard"] is None and len(results["samples"]["ids"]) == LIMIT
    assert sorted(p.name for p in merged.glob("shard-*")) == ["shard-00000-of-00002", "shard-00001-of-00002"]
    assert outputs(merged) == outputs(tmp_path / "whole")  # the merge equals the unsharded run
    assert "2 shards merged" in launched.stdout


def test_no_merge_keeps_the_shard_and_waits_for_no_one(cli, tmp_path, monkeypatch):
    for name, value in {KEY_ENV: KEY, "RANK": "1", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MASTER_ADDR", raising=False)  # no rendezvous could even start
    with StubEngine("vllm-omni", MODEL, KEY) as stub:
        result = cli(*served_args(stub, tmp_path / "run", "--no-merge"))
    assert result.code == 0, result.err
    assert (tmp_path / "run" / "shard-00001-of-00002" / "results.json").is_file()
    assert not (tmp_path / "run" / "results.json").exists()


def test_rank_zero_waits_a_bounded_time_for_a_rank_that_never_comes(cli, tmp_path, monkeypatch):
    """One rank of two, alone: it finishes its shard, waits the timeout, and says what to do."""
    import socket

    with socket.socket() as probe:  # a free port for the rendezvous of a group that never fills
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(KEY_ENV, KEY)
    for name, value in {
        "RANK": "0",
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "UNIFIED_BENCH_MERGE_TIMEOUT": "3",
    }.items():
        monkeypatch.setenv(name, value)
    with StubEngine("vllm-omni", MODEL, KEY) as stub:
        result = cli(*served_args(stub, tmp_path / "run"))
    assert result.code == 2, result.err
    assert "did not hear from all 2 ranks within 3 s" in result.err and "unified-bench merge" in result.err
    assert "Traceback" not in result.err
    assert (tmp_path / "run" / "shard-00000-of-00002" / "results.json").is_file()  # its own shard kept
    assert not (tmp_path / "run" / "results.json").exists()
    assert os.environ["RANK"] == "0"
