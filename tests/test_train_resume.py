"""Exact resume: a run interrupted and resumed ends where the uninterrupted run ends, bit for bit."""

from __future__ import annotations

import json
import resource
import signal
from contextlib import contextmanager

import pytest
import torch
from safetensors.torch import load_file

from tests._tiny_training import single_torch_thread, tiny_config, write_manifest  # noqa: F401 (fixture)
from unified_bench.errors import InputError
from unified_bench.io import WriteError
from unified_bench_adapters.uae.train.checkpoints import STATE
from unified_bench_adapters.uae.train.metrics_log import read_metrics
from unified_bench_adapters.uae.train.trainer import train

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def tensors(path):
    return load_file(str(path))


def assert_same_tensors(first, second):
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name


def test_interrupt_and_resume_gives_the_same_parameters_as_an_uninterrupted_run(tmp_path):
    manifest = write_manifest(tmp_path / "data", count=3)
    config = tiny_config(
        "u4g",
        dataset=str(manifest),
        max_steps=4,
        save_every=2,
        images_per_step=1,
        group_size=2,
        micro_batch_size=1,
        kl_beta=0.02,
        ema=True,
        ema_every=1,
        lr_scheduler="cosine",
        warmup_steps=1,
    )
    straight = train(config, tmp_path / "straight")

    def interrupt_after_step_3(step, record):
        if step == 3:
            raise KeyboardInterrupt

    resumed_dir = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        train(config, resumed_dir, callbacks=[interrupt_after_step_3])
    assert (resumed_dir / "checkpoint-2").is_dir() and not (resumed_dir / "final").exists()
    assert [r["step"] for r in read_metrics(resumed_dir)] == [1, 2, 3]
    with pytest.raises(InputError, match="pass --resume"):
        train(config, resumed_dir)
    resumed = train(config, resumed_dir, resume=True)

    state, other = straight.final / STATE, resumed.final / STATE
    assert_same_tensors(tensors(state / "trainable.safetensors"), tensors(other / "trainable.safetensors"))
    assert_same_tensors(tensors(state / "ema.safetensors"), tensors(other / "ema.safetensors"))
    first = torch.load(state / "optimizer.pt", weights_only=True)["state"]
    second = torch.load(other / "optimizer.pt", weights_only=True)["state"]
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key]["exp_avg_sq"], second[key]["exp_avg_sq"])
    lora = "dit_lora/adapter_model.safetensors"
    assert_same_tensors(tensors(straight.final / lora), tensors(resumed.final / lora))
    assert json.loads((other / "trainer_state.json").read_text())["optimizer_steps"] == 4
    # The redone step 3 replaced the interrupted one's record: one record per step, same numbers.
    straight_rewards = [r["reward_mean"] for r in read_metrics(straight.output)]
    resumed_records = read_metrics(resumed_dir)
    assert [r["step"] for r in resumed_records] == [1, 2, 3, 4]
    assert [r["reward_mean"] for r in resumed_records] == straight_rewards
    assert tensors(state / "trainable.safetensors").keys()  # something was trained


@contextmanager
def _file_size_limit(limit: int):
    """Writes past ``limit`` bytes fail with EFBIG, as on a full disk (root ignores read-only modes)."""
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    previous = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, previous[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous)
        signal.signal(signal.SIGXFSZ, previous_handler)


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_resume_continues(tmp_path):
    manifest = write_manifest(tmp_path / "data", count=3)
    config = tiny_config(
        "u4g", dataset=str(manifest), max_steps=4, save_every=2, images_per_step=1, group_size=2,
        micro_batch_size=1,
    )  # fmt: skip
    output = tmp_path / "run"
    good: dict[str, bytes] = {}

    class DiskFullAfterStep3(Exception):
        pass

    def fill_the_disk_after_step_3(step, record):
        if step == 3:
            good.update({str(p): p.read_bytes() for p in (output / "checkpoint-2").rglob("*") if p.is_file()})
            raise DiskFullAfterStep3

    with pytest.raises(DiskFullAfterStep3):
        train(config, output, callbacks=[fill_the_disk_after_step_3])
    with _file_size_limit(2048), pytest.raises(WriteError) as refused:
        train(config, output, resume=True)
    message = str(refused.value)
    assert "\n" not in message and "cannot write" in message and str(output) in message
    assert {str(p): p.read_bytes() for p in (output / "checkpoint-2").rglob("*") if p.is_file()} == good
    assert not list(output.glob(".*partial")), "the partial checkpoint must be removed"
    assert [path.name for path in output.glob("checkpoint-*")] == ["checkpoint-2"]

    resumed = train(config, output, resume=True)
    assert (resumed.final / STATE / "trainer_state.json").is_file()
    assert [r["step"] for r in read_metrics(output)] == [1, 2, 3, 4]
