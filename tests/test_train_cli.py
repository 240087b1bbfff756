"""``unified-bench train``: a run's checkpoints load in the ``uae`` adapter and are scored by ``run``."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tests._tiny_training import cache_env, single_torch_thread, tiny_config, write_manifest  # noqa: F401 (fixture)
from unified_bench.adapter import AdapterOptions
from unified_bench.scorers.tiny import ensure_tiny_scorer_weights
from unified_bench_adapters.uae.adapter import build_uae, build_uae_tiny
from unified_bench_adapters.uae.checkpoint import TRAINING_METADATA
from unified_bench_adapters.uae.train.checkpoints import STATE
from unified_bench_adapters.uae.train.metrics_log import read_metrics
from unified_bench_adapters.uae.train.trainer import train

pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_manifest(tmp_path_factory.mktemp("cli-data"), count=2)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    return write_manifest(tmp_path_factory.mktemp("cli-held-out"), count=2, seed=1)


@pytest.fixture(scope="module")
def g4u_run(session_cache, data, held_out, tmp_path_factory):
    """A 2-step g4u run through the CLI code path's library call, evaluated by the harness at step 2."""
    output = tmp_path_factory.mktemp("g4u-run") / "run"
    with cache_env(session_cache):
        config = tiny_config(
            "g4u",
            dataset=str(data),
            max_steps=2,
            images_per_step=1,
            group_size=2,
            max_new_tokens=8,
            save_every=1,
            keep_checkpoints=1,
            eval_every=2,
            eval_dataset=str(held_out),
            eval_limit=2,
            eval_scorers=["clip", "dinov2"],
            scorer_models={"clip": "tiny", "dinov2": "tiny"},
        )
        train(config, output)
    return output


def test_training_logs_every_step_and_the_harness_evaluation(g4u_run):
    records = read_metrics(g4u_run)
    train_records = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train_records] == [1, 2]
    for key in ("reward_mean", "reward_std", "caption_tokens", "kl", "clip_fraction", "learning_rate"):
        assert all(isinstance(r[key], float) for r in train_records), key
    assert all(r["grad_norm"] >= 0 and r["samples_per_s"] > 0 for r in train_records)
    baseline, evaluation = [r for r in records if r["kind"] == "eval"]
    assert (baseline["step"], evaluation["step"]) == (0, 2)  # the starting weights, then every 2 steps
    assert evaluation["eval/overall"] == pytest.approx(
        (evaluation["eval/clip"] + evaluation["eval/dinov2"]) / 2
    )
    results = json.loads((g4u_run / "eval" / "step-2" / "results.json").read_text())
    assert results["model"]["adapter_args"]["checkpoint"].endswith("checkpoint-2")
    # tiny-g4u's eval_offset 1: the evaluation scored exactly the held-out window, from the run's manifest.
    (line,) = (g4u_run / "heldout.jsonl").read_text().splitlines()
    assert json.loads(line)["id"] == "img1" and json.loads(line)["image"].endswith("cli-held-out0/img1.png")
    assert set(results["samples"]["captions"]) == {"img1"}


def test_checkpoints_record_their_base_model_and_old_ones_are_pruned(g4u_run):
    assert sorted(p.name for p in g4u_run.glob("checkpoint-*")) == ["checkpoint-2"]
    metadata = json.loads((g4u_run / "final" / TRAINING_METADATA).read_text())
    assert metadata["base_model"] == "uae-tiny" and metadata["stage"] == "g4u" and metadata["step"] == 2
    # tiny-g4u states its caption sampling: recorded, so `run` with the checkpoint samples as trained.
    assert metadata["adapter_args"] == {
        "use_llm_lora": "true",
        "use_dit_lora": "false",
        "do_sample": "true",
        "temperature": "1.0",
        "top_k": "0",
        "top_p": "1.0",
        "max_new_tokens": "8",
    }
    # The rewards' reconstructions were drawn at tiny-g4u's size and steps, not the adapter's.
    assert metadata["reward_decoder"] == {
        "width": 64,
        "height": 64,
        "num_inference_steps": 4,
        "guidance_scale": 5.0,
    }
    assert (g4u_run / "final" / "llm_lora" / "adapter_config.json").is_file()
    assert not (g4u_run / "final" / "dit_lora").exists()


def test_saved_checkpoint_loads_in_the_uae_adapter_with_nothing_else_given(g4u_run):
    final = g4u_run / "final"
    adapter = build_uae(AdapterOptions(args={"checkpoint": str(final)}, device="cpu", dtype="float32"))
    assert adapter.name == "uae-tiny" and adapter.config.height == 64  # base model read from the checkpoint
    assert adapter.config.use_dit_lora is False  # as trained: the decoder had no LoRA
    trained = load_file(str(final / STATE / "trainable.safetensors"))
    loaded = dict(adapter.encoder.model.named_parameters())
    lora_b = [name for name in trained if ".lora_B." in name]
    assert lora_b and any(trained[name].abs().sum() > 0 for name in lora_b)
    for name in lora_b:
        torch.testing.assert_close(loaded[name.removeprefix("encoder.")], trained[name])
    tiny = build_uae_tiny(AdapterOptions(args={"checkpoint": str(final)}, device="cpu", dtype="float32"))
    assert tiny.config.use_dit_lora is False
    explicit = build_uae_tiny(
        AdapterOptions(args={"checkpoint": str(final), "use_dit_lora": "true"}, device="cpu", dtype="float32")
    )
    assert explicit.config.use_dit_lora is True  # --adapter-arg wins over the checkpoint's record


def test_unified_bench_run_scores_a_training_checkpoint(cli, g4u_run, data, tmp_path):
    clip = ensure_tiny_scorer_weights()["clip"]
    result = cli(
        "run",
        "--model",
        "uae",
        "--adapter-arg",
        f"checkpoint={g4u_run / 'final'}",
        "--dataset",
        data,
        "--scorer",
        f"clip={clip}",
        "--output",
        tmp_path / "bench",
    )
    assert result.code == 0, result.err
    results = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert results["scorers"]["clip"]["n"] == 2
    adapter_info = json.loads((tmp_path / "bench" / "adapter.json").read_text())
    assert "llm_lora/adapter_model.safetensors" in adapter_info["checkpoint"]["sha256"]


def test_train_cli_refuses_a_used_output_folder_and_plots_curves(cli, g4u_run, data):
    again = cli(
        "train", "uae", "--stage", "g4u", "--config", "tiny-g4u", "--set", f"dataset={data}", "-o", g4u_run
    )
    assert again.code == 2 and "pass --resume" in again.err
    plotted = cli("train", "plot", g4u_run)
    assert plotted.code == 0
    png = (g4u_run / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_training_refuses_a_held_out_set_that_shares_training_images(cli, data, tmp_path):
    output = tmp_path / "run"
    command = ("train", "uae", "--stage", "g4u", "--config", "tiny-g4u", "--set", f"dataset={data}")
    refused = cli(*command, "--set", f"eval_dataset={data}", "--set", "eval_offset=0", "-o", output)
    # tiny-g4u trains on the first image (img0); the held-out set, the same two images, holds it too.
    assert refused.code == 2 and "1 held-out image(s) are also training images (img0)" in refused.err
    assert not output.exists()  # refused before anything was written


def test_train_cli_prints_the_effective_config_and_rejects_bad_settings(cli):
    shown = cli(
        "train", "uae", "--stage", "u4g", "--config", "tiny-u4g", "--set", "max_steps=9", "--print-config"
    )
    assert shown.code == 0 and "max_steps: 9" in shown.out and "# SDE noise level a" in shown.out
    bad = cli("train", "uae", "--stage", "u4g", "--config", "tiny-u4g", "--set", "noise_level=0", "-o", "x")
    assert bad.code == 2 and "noise_level must be > 0" in bad.err
    missing = cli("train", "plot", "/nonexistent-run")
    assert missing.code == 2 and "no metrics.jsonl" in missing.err


def test_a_fully_trained_dit_is_saved_as_dit_and_loaded_from_the_checkpoint(session_cache, data, tmp_path):
    config = tiny_config("sft", dataset=str(data), dit_training="full", max_steps=1, images_per_step=2)
    result = train(config, tmp_path / "sft")
    assert (result.final / "dit" / "config.json").is_file() and not (result.final / "dit_lora").exists()
    adapter = build_uae(AdapterOptions(args={"checkpoint": str(result.final)}, device="cpu", dtype="float32"))
    trained = load_file(str(result.final / STATE / "trainable.safetensors"))
    transformer = dict(adapter.decoder.pipeline.transformer.named_parameters())
    name = "proj_out.weight"
    torch.testing.assert_close(transformer[name], trained[f"transformer.{name}"])
    base = build_uae_tiny(AdapterOptions(args={"use_dit_lora": "false"}, device="cpu", dtype="float32"))
    assert not torch.equal(
        dict(base.decoder.pipeline.transformer.named_parameters())[name], transformer[name]
    )
    assert adapter.info()["checkpoint"]["sha256"]
