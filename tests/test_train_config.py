"""Stage configs: shipped YAMLs, ``--set`` overrides, help on every field, rules checked before loading."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from unified_bench.errors import InputError
from unified_bench_adapters.uae.train.config import (
    STAGE_CONFIGS,
    U4GConfig,
    config_help,
    load_config,
    render_config,
    shipped_configs,
)


def test_every_field_of_every_stage_config_has_help_text():
    for config_cls in STAGE_CONFIGS.values():
        for field in dataclasses.fields(config_cls):
            help_text = field.metadata.get("help")
            assert isinstance(help_text, str) and len(help_text) > 10, (config_cls.__name__, field.name)


@pytest.mark.parametrize(
    ("stage", "field", "source"),
    [
        ("g4u", "group_size", "GRPO practice"),
        ("g4u", "kl_beta", "GRPO practice"),
        ("g4u", "clip_epsilon", "GRPO practice"),
        ("u4g", "group_size", "Flow-GRPO"),
        ("u4g", "noise_level", "Flow-GRPO"),
        ("u4g", "clip_range", "Flow-GRPO"),
        ("u4g", "kl_beta", "Flow-GRPO"),
        ("u4g", "timestep_fraction", "Flow-GRPO"),
    ],
)
def test_defaults_the_paper_does_not_give_say_where_they_come_from(stage, field, source):
    text = config_help(STAGE_CONFIGS[stage])[field]
    assert "Not given in the UAE paper" in text and source in text


def test_flow_grpo_and_grpo_defaults():
    u4g = U4GConfig(dataset="samples")
    assert (u4g.noise_level, u4g.clip_range, u4g.adv_clip_max, u4g.timestep_fraction) == (
        0.7,
        1e-4,
        5.0,
        0.99,
    )
    assert (u4g.lora_rank, u4g.lora_alpha, u4g.learning_rate) == (32, 64.0, 3e-4)
    g4u = STAGE_CONFIGS["g4u"](dataset="samples")
    assert (g4u.clip_epsilon, g4u.group_size) == (0.2, 8)
    # g4u samples captions as `run` does unless the config says otherwise (then it is recorded).
    assert (g4u.temperature, g4u.top_k, g4u.top_p) == (None, None, None)
    assert load_config("g4u", "g4u").temperature is None
    # The z-score's std follows each stage's reference: Flow-GRPO's np.std, TRL's torch.std.
    assert (u4g.advantage_std, g4u.advantage_std) == ("population", "bessel")
    assert "np.std" in config_help(U4GConfig)["advantage_std"]
    assert "torch.std" in config_help(STAGE_CONFIGS["g4u"])["advantage_std"]
    # Every Flow-GRPO SD3 config sets global_std=True: u4g divides by the std of the whole step.
    assert u4g.advantage_scale == "batch" and load_config("u4g", "u4g").advantage_scale == "batch"
    assert "global_std" in config_help(U4GConfig)["advantage_scale"]


@pytest.mark.parametrize(
    "name", ["tiny-sft", "tiny-cold-start", "tiny-g4u", "tiny-u4g", "sft", "cold-start", "g4u", "u4g"]
)
def test_every_shipped_config_loads_for_its_stage(name):
    assert name in shipped_configs()
    stage = name.removeprefix("tiny-")
    config = load_config(stage, name)
    assert isinstance(config, STAGE_CONFIGS[stage]) and config.stage == stage
    if name.startswith("tiny-"):
        assert config.model == "uae-tiny" and config.resolution <= 64
    else:
        assert config.model == "zhiyuanyan1/UAE" and config.mixed_precision == "bf16"


def test_set_overrides_are_typed_like_the_fields():
    config = load_config(
        "u4g",
        "tiny-u4g",
        [
            "max_steps=7",
            "learning_rate=1e-3",
            "ema=false",
            "reward_scorers=clip=0.5,dinov2=0.5",
            "eval_limit=none",
        ],
    )
    assert config.max_steps == 7 and config.learning_rate == 1e-3 and config.ema is False
    assert config.reward_scorers == {"clip": 0.5, "dinov2": 0.5}
    assert config.eval_limit is None
    assert load_config("g4u", "tiny-g4u", ["eval_scorers=clip,dinov2"]).eval_scorers == ["clip", "dinov2"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["max_stepz=3"], "--set max_stepz: unknown U4GConfig key"),
        (["max_steps=three"], "expected an integer"),
        (["ema=maybe"], "expected true or false"),
        (["micro_batch_size=3"], "must divide group_size"),
        (["cfg_in_training=false"], "guidance_scale"),
        (["group_size=1", "micro_batch_size=1"], "group_size must be >= 2"),
        (["resolution=50"], "multiple of 16"),
        (["eval_every=5", "eval_dataset="], "eval_dataset"),
        (["stage=g4u"], "is a 'g4u' config but --stage is 'u4g'"),
        (["dataset_limit=0"], "dataset_limit=0"),
        (["dit_lora_targets=[]"], "dit_lora_targets is empty"),
        (["advantage_std=sample"], "expected one of population, bessel"),
    ],
)
def test_bad_settings_are_one_line_errors_before_anything_loads(overrides, message):
    with pytest.raises(InputError, match=message) as error:
        load_config("u4g", "tiny-u4g", overrides)
    assert "\n" not in str(error.value)


def test_unknown_stage_and_config_name_are_errors():
    with pytest.raises(InputError, match="use one of sft, cold-start, g4u, u4g"):
        load_config("rl", None)
    with pytest.raises(InputError, match="shipped: cold-start"):
        load_config("u4g", "no-such-config")


def test_rendered_config_is_yaml_with_help_comments_that_loads_back(tmp_path):
    config = load_config("g4u", "tiny-g4u", ["max_steps=3"])
    text = render_config(config)
    assert "# Captions sampled per image (G)." in text
    path = tmp_path / "again.yaml"
    path.write_text(text)
    assert load_config("g4u", str(path)) == config
    assert yaml.safe_load(text)["max_steps"] == 3


def test_optional_metric_backends_are_used_only_when_installed(monkeypatch):
    import importlib.util

    from unified_bench.errors import MissingDependencyError
    from unified_bench_adapters.uae.train.metrics_log import resolve_report_to

    installed = {name for name in ("tensorboard", "wandb") if importlib.util.find_spec(name) is not None}
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert resolve_report_to(["auto"]) == installed - {"wandb"}
    assert resolve_report_to(["none", "tensorboard"]) == set()
    for backend in {"tensorboard", "wandb"} - installed:
        with pytest.raises(MissingDependencyError, match=f"pip install {backend}"):
            resolve_report_to([backend])


@pytest.mark.parametrize("name", ["tiny-sft", "tiny-cold-start", "tiny-g4u", "tiny-u4g"])
def test_shipped_tiny_configs_evaluate_on_images_they_do_not_train_on(name):
    from unified_bench.datasets import load_dataset
    from unified_bench_adapters.uae.train.data import check_held_out, window

    config = load_config(name.removeprefix("tiny-"), name)
    if not config.eval_every:
        return
    training = window(load_dataset(config.dataset).samples, config.dataset_offset, config.dataset_limit)
    held_out = window(load_dataset(config.eval_dataset).samples, config.eval_offset, config.eval_limit)
    assert len(held_out) == config.eval_limit and training
    assert not {s.image_sha256 for s in training} & {s.image_sha256 for s in held_out}
    check_held_out(training, held_out, name)  # and the trainer's own check agrees
