"""Two processes (torchrun + accelerate, gloo on CPU) train like one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests._tiny_training import single_torch_thread, write_manifest  # noqa: F401 (fixture)
from tests.conftest import subprocess_env
from unified_bench_adapters.uae.train.checkpoints import STATE
from unified_bench_adapters.uae.train.config import DIT_LORA_TARGETS, load_config
from unified_bench_adapters.uae.train.metrics_log import read_metrics
from unified_bench_adapters.uae.train.trainer import train

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("single_torch_thread")]


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(session_cache, tmp_path):
    manifest = write_manifest(tmp_path / "data", count=2)
    settings = [
        f"dataset={manifest}",
        "max_steps=2",
        "images_per_step=2",
        "group_size=2",
        "micro_batch_size=1",
        "save_every=0",
        "eval_every=0",
        "report_to=none",
        # Adam divides by sqrt(v) + eps: with the default eps a gradient that is ~0 up to float noise
        # (summation order differs across processes) becomes a full step of either sign.
        "adam_epsilon=1e-4",
        # The settings this equivalence was measured with (tiny-u4g's own lr 2e-2 and proj_out LoRA
        # amplify summation-order noise past 1e-6 on near-zero-gradient weights).
        "learning_rate=1e-2",
        "lr_scheduler=constant",
        "dit_lora_targets=" + ",".join(DIT_LORA_TARGETS),
    ]
    one = train(load_config("u4g", "tiny-u4g", settings), tmp_path / "one")

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "unified_bench", "train", "uae", "--stage", "u4g", "--config", "tiny-u4g"]
    for item in settings:
        command += ["--set", item]
    command += ["--output", str(tmp_path / "two")]
    env = {**subprocess_env(session_cache), "OMP_NUM_THREADS": "1"}
    for variable in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(variable, None)
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=420, cwd=os.getcwd())
    assert finished.returncode == 0, finished.stderr[-3000:]

    records = read_metrics(tmp_path / "two")
    assert [r["step"] for r in records] == [1, 2]  # one process logs
    assert (
        len(list((tmp_path / "two" / "final" / STATE).glob("rng-*.pt"))) == 2
    )  # every process saved its RNG
    for single, double in zip(read_metrics(tmp_path / "one"), records, strict=True):
        assert double["reward_mean"] == pytest.approx(single["reward_mean"], abs=1e-5)
        assert double["grad_norm"] == pytest.approx(single["grad_norm"], rel=1e-3)
    weights_one = load_file(str(one.final / STATE / "trainable.safetensors"))
    weights_two = load_file(str(tmp_path / "two" / "final" / STATE / "trainable.safetensors"))
    assert weights_one.keys() == weights_two.keys()
    moved = 0
    for name, tensor in weights_one.items():
        torch.testing.assert_close(weights_two[name], tensor, rtol=1e-4, atol=1e-6)
        moved += int(".lora_B." in name and tensor.abs().sum() > 0)
    assert moved > 0  # the LoRA really trained (B starts at zero)
