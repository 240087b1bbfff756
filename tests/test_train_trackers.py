"""``report_to``: the step records of metrics.jsonl also reach TensorBoard, through accelerate's trackers."""

from __future__ import annotations

import pytest

from tests._tiny_training import single_torch_thread, tiny_config, write_manifest  # noqa: F401 (fixture)
from unified_bench_adapters.uae.train.metrics_log import read_metrics
from unified_bench_adapters.uae.train.trainer import train

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_tensorboard_receives_every_train_record_of_metrics_jsonl(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    manifest = write_manifest(tmp_path / "data", count=2)
    config = tiny_config(
        "sft", dataset=str(manifest), max_steps=2, images_per_step=2, report_to=["tensorboard"]
    )
    output = tmp_path / "run"
    train(config, output)
    records = [r for r in read_metrics(output) if r["kind"] == "train"]
    (events,) = (output / "unified-bench").glob("events.out.tfevents.*")  # accelerate's tracker folder
    accumulator = EventAccumulator(str(events.parent))
    accumulator.Reload()
    logged = {event.step: event.value for event in accumulator.Scalars("train/loss")}
    assert logged == pytest.approx({r["step"]: r["loss"] for r in records}, rel=1e-6)
    assert [event.step for event in accumulator.Scalars("train/grad_norm")] == [1, 2]


def test_report_to_none_writes_metrics_jsonl_only(tmp_path):
    manifest = write_manifest(tmp_path / "data", count=2)
    config = tiny_config("sft", dataset=str(manifest), max_steps=1, images_per_step=2, report_to=["none"])
    train(config, tmp_path / "run")
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1]
    assert not (tmp_path / "run" / "unified-bench").exists()
