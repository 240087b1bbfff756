"""One config dataclass per Unified-GRPO stage; every field's ``help`` is its only documentation.

Configs come from YAML (a shipped name such as ``tiny-u4g`` or a file) plus ``--set key=value``
overrides, are type-checked field by field, and checked as a whole in ``__post_init__`` before any
model is loaded. Values the UAE paper does not give are marked in their help with where the default
comes from (``[Flow-GRPO]``, ``[GRPO practice]``, ``[our choice]``). No torch import here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from unified_bench.errors import InputError
from unified_bench.typed_values import SettingError, parse_typed

CONFIG_DIR = Path(__file__).parent / "configs"
WEIGHTING_SCHEMES = ("logit_normal", "mode", "uniform", "sigma_sqrt", "cosmap")
PAPER_UNKNOWN = "Not given in the UAE paper; "
DIT_LORA_TARGETS = (
    "attn.add_k_proj",
    "attn.add_q_proj",
    "attn.add_v_proj",
    "attn.to_add_out",
    "attn.to_k",
    "attn.to_out.0",
    "attn.to_q",
    "attn.to_v",
)


def _field(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


def _unknown(source: str, text: str) -> str:
    return f"{text} {PAPER_UNKNOWN}default from {source}."


@dataclass
class TrainConfig:
    """Settings every stage shares: weights, data, optimisation, precision, checkpoints, logging."""

    stage: str = _field("", "Stage this config is for (sft, cold-start, g4u, u4g); checked against --stage.")
    # --- Weights ---------------------------------------------------------------------------------
    model: str = _field(
        "zhiyuanyan1/UAE",
        "Base UAE weights: hub id, local directory in the release layout, or 'uae-tiny' (random toy "
        "model, built locally). Recorded in every checkpoint.",
    )
    revision: str | None = _field(None, "Hub revision of `model` (branch, tag or commit).")
    init_checkpoint: str | None = _field(
        None,
        "A previous stage's checkpoint directory (llm_lora/, dit_lora/, projector.safetensors) loaded "
        "over the base weights, e.g. the g4u output for u4g.",
    )
    base_llm_lora: bool = _field(
        False,
        "Apply the encoder LoRA of the base weights (or of init_checkpoint) before training. If this "
        "stage trains the encoder LoRA, training continues that LoRA instead of a fresh one.",
    )
    base_dit_lora: bool = _field(
        False,
        "Apply the decoder LoRA (dit_lora/) of the base weights (or of init_checkpoint) before training; "
        "if this stage trains the decoder LoRA, training continues it.",
    )
    dtype: str = _field(
        "auto", "Dtype of the frozen weights: float32, bfloat16, float16 or auto (bf16 on GPU, fp32 on CPU)."
    )
    mixed_precision: Literal["no", "bf16", "fp16"] = _field(
        "no", "accelerate mixed precision for the forward passes; trainable weights are kept in float32."
    )
    gradient_checkpointing: bool = _field(
        False, "Recompute activations in the backward pass (Qwen and SD3 transformer) to save memory."
    )
    # --- Trainable LoRA ----------------------------------------------------------------------------
    lora_rank: int = _field(32, "Rank of the LoRA this stage trains (UAE's encoder and Flow-GRPO: 32).")
    lora_alpha: float = _field(64.0, "LoRA alpha (UAE's encoder and Flow-GRPO: 64).")
    dit_lora_targets: list[str] = field(
        default_factory=lambda: list(DIT_LORA_TARGETS),
        metadata={
            "help": "Modules of the SD3 transformer a fresh decoder LoRA wraps (PEFT target_modules). "
            "Default: the joint-attention projections (Flow-GRPO, the release's dit_lora); the tiny "
            "configs add proj_out, the output layer, which a 2-layer toy DiT needs to move its images."
        },
    )
    # --- Data --------------------------------------------------------------------------------------
    dataset: str = _field(
        "",
        "Training images: a JSONL manifest ({id, image, captions}), a folder of images, or a registered "
        "dataset name (samples, unibench).",
    )
    images_per_step: int = _field(
        8, "Reference images per optimizer step, across all processes (must divide by the process count)."
    )
    dataset_limit: int | None = _field(
        None, "Train on N images of `dataset` only (the tiny configs overfit a fixed handful)."
    )
    dataset_offset: int = _field(
        0,
        "Train on the images of `dataset` from this position on (then dataset_limit of them); negative "
        "counts from the end (-2: the last two). Keeps the first ones held out when eval_dataset is "
        "the same dataset; training refuses a held-out set that shares an image with the training images.",
    )
    seed: int = _field(0, "Seed of the data order and of every per-sample random draw.")
    resolution: int = _field(512, "Side of the square images the decoder draws (multiple of 16).")
    # --- Optimisation ------------------------------------------------------------------------------
    max_steps: int = _field(
        100, "Training steps (RL stages: rollout rounds, each of num_inner_epochs x minibatches updates)."
    )
    learning_rate: float = _field(1e-4, "AdamW learning rate.")
    lr_scheduler: str = _field(
        "constant_with_warmup",
        "transformers scheduler name: constant, constant_with_warmup, linear, cosine, ...",
    )
    warmup_steps: int = _field(0, "Linear warm-up steps of the learning rate.")
    adam_beta1: float = _field(0.9, "AdamW beta1.")
    adam_beta2: float = _field(0.999, "AdamW beta2.")
    adam_epsilon: float = _field(1e-8, "AdamW epsilon.")
    weight_decay: float = _field(1e-4, _unknown("Flow-GRPO", "AdamW weight decay."))
    max_grad_norm: float = _field(1.0, _unknown("Flow-GRPO", "Gradient-norm clip (0 disables)."))
    # --- Rewards (and the cold-start loss) -----------------------------------------------------------
    reward_scorers: dict[str, float] = field(
        default_factory=lambda: {"clip": 1.0},
        metadata={
            "help": "Harness scorers and weights whose weighted sum is the reward, e.g. "
            "{clip: 0.5, dinov2: 0.5} or --set reward_scorers=clip=0.5,dinov2=0.5. CLIP-L/14 image "
            "cosine is the only reward code UAE ships (paper: 'CLIP-based similarity')."
        },
    )
    scorer_models: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "Weights per scorer name (hub id or local path; 'tiny' = the random tiny test "
            "checkpoints); a scorer not listed uses its default weights."
        },
    )
    reward_batch_size: int = _field(16, "Images per scorer forward when computing rewards.")
    # --- Decoder sampling (rollouts, reconstructions) ------------------------------------------------
    num_inference_steps: int = _field(10, "Sampling steps of the decoder during training.")
    guidance_scale: float = _field(5.0, "Classifier-free guidance scale of the decoder during training.")
    # --- Checkpoints, evaluation, logging ------------------------------------------------------------
    save_every: int = _field(50, "Write DIR/checkpoint-STEP every this many steps (0: only DIR/final).")
    keep_checkpoints: int = _field(3, "Most recent checkpoint-STEP folders to keep (0 keeps all).")
    eval_every: int = _field(0, "Score the held-out set with the harness every this many steps (0: never).")
    eval_dataset: str = _field("", "Held-out images for evaluation (same forms as `dataset`).")
    eval_before_training: bool = _field(
        True, "With eval_every > 0, also score the starting weights (step 0) as the baseline."
    )
    eval_limit: int | None = _field(None, "Only N held-out images (the first, or from eval_offset on).")
    eval_offset: int = _field(
        0,
        "Held-out images from this position of eval_dataset on (e.g. past the training images of the "
        "same dataset); the evaluation then runs on DIR/heldout.jsonl, a manifest of exactly those "
        "image files.",
    )
    eval_scorers: list[str] = field(
        default_factory=lambda: ["clip", "dinov2", "dinov3", "longclip"],
        metadata={
            "help": "Scorers of the held-out evaluation (weights from scorer_models); the logged "
            "score (eval/overall) is the harness's overall mean."
        },
    )
    eval_adapter_args: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "Extra --adapter-arg settings for the evaluation run (e.g. num_inference_steps: '40')."
        },
    )
    log_every: int = _field(1, "Print a progress line every this many steps (metrics.jsonl gets every step).")
    report_to: list[str] = field(
        default_factory=lambda: ["auto"],
        metadata={
            "help": "Where metrics go besides metrics.jsonl: tensorboard, wandb, none, or auto "
            "(tensorboard when installed; wandb when installed and WANDB_API_KEY or WANDB_MODE is set)."
        },
    )

    def __post_init__(self) -> None:
        _check_types(self)
        if not self.model:
            raise ValueError("model is empty: give a hub id, a local UAE directory or uae-tiny.")
        if not self.dataset:
            raise ValueError("dataset is empty: give a JSONL manifest, a folder of images or a dataset name.")
        _positive(self, "images_per_step", "max_steps", "resolution", "num_inference_steps", "lora_rank")
        _positive(self, "reward_batch_size", "log_every")
        if self.dataset_limit is not None and self.dataset_limit < 1:
            raise ValueError(f"dataset_limit={self.dataset_limit}: use a positive number or null (all).")
        if not self.dit_lora_targets:
            raise ValueError("dit_lora_targets is empty: name the transformer modules the LoRA wraps.")
        if self.resolution % 16:
            raise ValueError(f"resolution={self.resolution}: use a multiple of 16 (SD3 latent grid).")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate={self.learning_rate}: use a positive value.")
        for name in ("save_every", "keep_checkpoints", "eval_every", "warmup_steps", "eval_offset"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: use 0 or a positive number.")
        if self.eval_every and not self.eval_dataset:
            raise ValueError("eval_every > 0 needs eval_dataset: the held-out images to score.")
        if not self.reward_scorers or any(weight == 0 for weight in self.reward_scorers.values()):
            raise ValueError("reward_scorers needs at least one scorer with a non-zero weight.")
        unknown = set(self.report_to) - {"auto", "tensorboard", "wandb", "none", "jsonl"}
        if unknown:
            raise ValueError(f"report_to: unknown {sorted(unknown)}; use tensorboard, wandb, auto or none.")


@dataclass
class SFTConfig(TrainConfig):
    """Decoder pre-training on long captions: SD3 flow matching, conditioned on the projected Qwen
    states of the caption (role ``generate``); DiT (LoRA or full) + projector train, encoder frozen."""

    dit_training: Literal["lora", "full"] = _field(
        "lora",
        "Train a LoRA on the DiT (lora_rank/alpha) or the whole DiT (full: fine for small DiTs; the 8B "
        "DiT's optimizer states need sharding, which the trainer does not support, see the train README).",
    )
    train_projector: bool = _field(True, "Train the Qwen -> SD3 projector too.")
    micro_batch_size: int = _field(4, "Images per forward/backward on each process (gradient accumulation).")
    caption_dropout: float = _field(
        0.1, _unknown("SD3 practice", "Probability of conditioning on the negative prompt instead (CFG).")
    )
    weighting_scheme: str = _field(
        "logit_normal", "Timestep density / loss weighting (diffusers SD3): logit_normal, mode, uniform, ..."
    )
    logit_mean: float = _field(0.0, "Mean of the logit-normal timestep density (SD3: 0).")
    logit_std: float = _field(1.0, "Std of the logit-normal timestep density (SD3: 1).")
    mode_scale: float = _field(1.29, "Scale of the 'mode' timestep density (SD3: 1.29).")
    precondition_outputs: bool = _field(
        False, "Compare x0 = x_t - σ v̂ with x0 instead of v̂ with ε - x0 (diffusers DreamBooth SD3 option)."
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "micro_batch_size")
        if not 0 <= self.caption_dropout < 1:
            raise ValueError(f"caption_dropout={self.caption_dropout}: use a probability in [0, 1).")
        if self.dit_training == "full" and self.base_dit_lora:
            raise ValueError(
                "dit_training=full with base_dit_lora=true: merge the LoRA first or train a LoRA."
            )
        if self.weighting_scheme not in WEIGHTING_SCHEMES:
            raise ValueError(f"weighting_scheme={self.weighting_scheme!r}: use one of {WEIGHTING_SCHEMES}.")


@dataclass
class ColdStartConfig(TrainConfig):
    """Cold start: caption-token states (image in context) condition the decoder, which reconstructs
    with gradients through every sampling step; loss = 1 - cos(scorer(reconstruction), scorer(image))."""

    caption_source: Literal["dataset", "encoder"] = _field(
        "dataset",
        "Where the caption tokens come from: the dataset's captions (teacher forcing, as UAE's "
        "modeling_longcontext_rec.py) or a caption sampled from the encoder first.",
    )
    train_projector: bool = _field(True, "Train the projector.")
    train_decoder_lora: bool = _field(False, "Also train a LoRA on the DiT.")
    caption_max_new_tokens: int = _field(512, "Longest sampled caption when caption_source=encoder.")
    caption_temperature: float = _field(0.7, "Sampling temperature when caption_source=encoder (demo: 0.7).")

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "caption_max_new_tokens")


@dataclass
class G4UConfig(TrainConfig):
    """Generation for Understanding: GRPO on the encoder's caption tokens; reward = similarity of the
    frozen decoder's reconstruction (fixed per-image seed) to the image."""

    learning_rate: float = _field(
        1e-5,
        "AdamW learning rate of the encoder LoRA. Not given in the UAE paper; our choice (TRL's 1e-6 "
        "targets full fine-tunes; LoRA usually needs about 10x more): tune it.",
    )
    group_size: int = _field(
        8, _unknown("GRPO practice (TRL num_generations)", "Captions sampled per image (G).")
    )
    temperature: float | None = _field(
        None,
        "Caption sampling temperature; None: what `run` samples at with this model (the uae adapter's "
        "temperature, 0.7). A value other than run's is recorded in the checkpoint, so `run` (and the "
        "stage's own evaluation) sample at it too.",
    )
    top_k: int | None = _field(
        None,
        "Caption top-k (0: off); None: the checkpoint's generation_config.json, as `run` (uae-tiny: 20). "
        "Recorded in the checkpoint like temperature; log-probs are those of the filtered distribution.",
    )
    top_p: float | None = _field(
        None,
        "Caption nucleus top-p (1: off); None: the checkpoint's, as `run` (uae-tiny: 0.9). Recorded too.",
    )
    max_new_tokens: int = _field(512, "Longest caption, in tokens (demo: 512).")
    clip_epsilon: float = _field(0.2, _unknown("GRPO practice (TRL epsilon)", "PPO clip range ε (low side)."))
    clip_epsilon_high: float | None = _field(
        None, "Upper clip range (DAPO's clip-higher, e.g. 0.28); None = clip_epsilon."
    )
    kl_beta: float = _field(
        0.04,
        _unknown(
            "GRPO practice (DeepSeekMath, R1-V)", "Weight of the per-token k3 KL to the LoRA-off model."
        ),
    )
    loss_aggregation: Literal["grpo", "dr_grpo", "token_mean"] = _field(
        "grpo",
        "Token loss to sample loss: grpo (token mean per caption), dr_grpo (sum / max_new_tokens), "
        "token_mean (sum / completion tokens of the whole step, DAPO).",
    )
    advantage_scale: Literal["group", "batch", "none"] = _field(
        "group",
        "Divide centred rewards by the group std (GRPO), the std of every reward of the step across "
        "all processes (batch; TRL scale_rewards=batch), or not at all (Dr. GRPO).",
    )
    advantage_std: Literal["population", "bessel"] = _field(
        "bessel",
        "Std of the z-score: bessel (divides by n - 1, TRL's torch.std: GRPO practice) or population "
        "(divides by n, Flow-GRPO's np.std; advantages x1.069 larger at G = 8).",
    )
    advantage_eps: float = _field(1e-4, "Added to the std in the advantage denominator (TRL, Flow-GRPO).")
    num_inner_epochs: int = _field(
        1, _unknown("GRPO practice (TRL num_iterations)", "Optimizer passes over each step's rollouts.")
    )
    minibatches: int = _field(
        1,
        _unknown(
            "GRPO practice (TRL: steps_per_generation = gradient_accumulation_steps, one update per "
            "generation batch)",
            "Optimizer updates per pass: the step's images split into this many minibatches. With "
            "minibatches or num_inner_epochs > 1 later updates are off-policy and the PPO clip acts.",
        ),
    )
    condition_with: Literal["policy", "reference"] = _field(
        "policy",
        "Which encoder turns each caption into decoder conditioning for the reward: the trained one "
        "(what `unified-bench run` does with the checkpoint) or the LoRA-off reference.",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "group_size", "max_new_tokens", "num_inner_epochs", "minibatches")
        _check_minibatches(self)
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2: GRPO needs two samples per image for an advantage.")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"temperature={self.temperature}: use a value > 0.")
        if (self.top_p is not None and not 0 < self.top_p <= 1) or (
            self.top_k is not None and self.top_k < 0
        ):
            raise ValueError("top_p must be in (0, 1] and top_k >= 0.")
        if self.kl_beta < 0 or self.clip_epsilon <= 0:
            raise ValueError("kl_beta must be >= 0 and clip_epsilon > 0.")


@dataclass
class U4GConfig(TrainConfig):
    """Understanding for Generation: Flow-GRPO on the decoder; captions from the (stage-2) encoder,
    G images per caption from the SDE sampler, reward = similarity of each image to the original."""

    learning_rate: float = _field(3e-4, _unknown("Flow-GRPO", "AdamW learning rate of the decoder LoRA."))
    group_size: int = _field(8, _unknown("Flow-GRPO (1-GPU config)", "Images sampled per caption (k)."))
    micro_batch_size: int = _field(
        4, "Samples per training forward (divides group_size; a group shares one caption length)."
    )
    noise_level: float = _field(0.7, _unknown("Flow-GRPO", "SDE noise level a of the rollouts."))
    timestep_fraction: float = _field(
        0.99,
        _unknown(
            "Flow-GRPO",
            "Trained steps = int(num_inference_steps x fraction), from the first; the last never.",
        ),
    )
    clip_range: float = _field(1e-4, _unknown("Flow-GRPO", "PPO clip range of the per-step ratio."))
    adv_clip_max: float = _field(5.0, _unknown("Flow-GRPO", "Advantages are clamped to [-x, x]."))
    kl_beta: float = _field(
        0.02,
        _unknown("Flow-GRPO (CLIPScore config)", "Weight of the KL of step means to the LoRA-off model."),
    )
    advantage_scale: Literal["group", "batch", "none"] = _field(
        "batch",
        _unknown(
            "Flow-GRPO (global_std=True in every SD3 config)",
            "Divide centred rewards by the std of every reward of the step across all processes "
            "(batch), by the group's own std (group) or by nothing (none).",
        ),
    )
    advantage_std: Literal["population", "bessel"] = _field(
        "population",
        "Std of the z-score: population (divides by n, Flow-GRPO's np.std) or bessel (divides by "
        "n - 1, TRL's torch.std; advantages /1.069 at G = 8).",
    )
    advantage_eps: float = _field(1e-4, "Added to the std in the advantage denominator (Flow-GRPO).")
    cfg_in_training: bool = _field(
        True,
        "Use classifier-free guidance in the training forward as in the rollout (Flow-GRPO train.cfg); "
        "false needs guidance_scale <= 1 (the *_nocfg recipe).",
    )
    same_latent: bool = _field(
        False, "All images of a group start from the same noise (Flow-GRPO same_latent)."
    )
    caption_source: Literal["encoder", "dataset"] = _field(
        "encoder", "Captions from the frozen encoder (sampled per step, seeded) or the dataset's captions."
    )
    caption_max_new_tokens: int = _field(512, "Longest encoder caption (demo: 512).")
    caption_temperature: float = _field(0.7, "Encoder caption temperature (demo: 0.7).")
    num_inner_epochs: int = _field(1, _unknown("Flow-GRPO", "Optimizer passes over each step's rollouts."))
    minibatches: int = _field(
        2,
        _unknown(
            "Flow-GRPO (gradient_accumulation_steps = num_batches_per_epoch // 2: two updates per epoch)",
            "Optimizer updates per pass: the step's images split into this many minibatches; the second "
            "is off-policy, so the PPO clip acts.",
        ),
    )
    ema: bool = _field(False, "Keep an EMA of the LoRA weights, used for evaluation and exported adapters.")
    ema_decay: float = _field(0.9, _unknown("Flow-GRPO", "EMA decay cap: min((1 + n) / (10 + n), decay)."))
    ema_every: int = _field(8, _unknown("Flow-GRPO", "Update the EMA every this many optimizer steps."))

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "group_size", "micro_batch_size", "num_inner_epochs", "ema_every", "minibatches")
        _check_minibatches(self)
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2: GRPO needs two samples per caption for an advantage.")
        if self.group_size % self.micro_batch_size:
            raise ValueError(
                f"micro_batch_size={self.micro_batch_size} must divide group_size={self.group_size}."
            )
        if self.noise_level <= 0:
            raise ValueError(
                "noise_level must be > 0: the rollout needs a stochastic step to have log-probs."
            )
        if not 0 < self.timestep_fraction <= 1 or int(self.num_inference_steps * self.timestep_fraction) < 1:
            raise ValueError("timestep_fraction x num_inference_steps must leave at least one trained step.")
        if not self.cfg_in_training and self.guidance_scale > 1:
            raise ValueError(
                "cfg_in_training=false with guidance_scale > 1 trains a different policy than the one "
                "sampled; set guidance_scale=1 (no CFG) or cfg_in_training=true."
            )


STAGE_CONFIGS: dict[str, type[TrainConfig]] = {
    "sft": SFTConfig,
    "cold-start": ColdStartConfig,
    "g4u": G4UConfig,
    "u4g": U4GConfig,
}
STAGES: tuple[str, ...] = tuple(STAGE_CONFIGS)


# --- loading -------------------------------------------------------------------------------------


def shipped_configs() -> list[str]:
    """Names of the YAML configs shipped in ``configs/`` (without ``.yaml``)."""
    return sorted(path.stem for path in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(config: str) -> Path:
    """A shipped config name (``tiny-u4g``) or a path to a YAML file."""
    path = Path(config).expanduser()
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{config}.yaml"
    if shipped.is_file():
        return shipped
    raise InputError(
        f"--config {config}: no such file and no shipped config of that name; shipped: "
        f"{', '.join(shipped_configs())}."
    )


def load_config(stage: str, config: str | None, overrides: list[str] | None = None) -> TrainConfig:
    """The config of ``stage`` from a YAML file (or shipped name) plus ``key=value`` overrides.

    Raises:
        InputError: unknown stage or key, a value of the wrong type, a stage mismatch, or a rule of
            the config's ``__post_init__`` broken (the message says which field to change).
    """
    import yaml

    if stage not in STAGE_CONFIGS:
        raise InputError(f"--stage {stage}: use one of {', '.join(STAGES)}.")
    values: dict[str, Any] = {}
    where = "command line"
    if config:
        path = resolve_config_path(config)
        where = str(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise InputError(f"{path}: not valid YAML ({str(error).splitlines()[0]}).") from None
        if not isinstance(loaded, dict):
            raise InputError(f"{path}: expected a mapping of config keys to values.")
        values.update(loaded)
    config_cls = STAGE_CONFIGS[stage]
    names = {f.name for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected KEY=VALUE.")
        if key.strip() not in names:  # named here: the file is not where the mistake is
            raise InputError(
                f"--set {key.strip()}: unknown {config_cls.__name__} key; valid: {', '.join(sorted(names))}."
            )
        try:
            values[key.strip()] = parse_typed(raw, hints[key.strip()])
        except SettingError as error:
            raise InputError(f"--set {item}: {error}.") from None
    given_stage = values.get("stage") or stage
    if given_stage != stage:
        raise InputError(f"{where} is a {given_stage!r} config but --stage is {stage!r}.")
    values["stage"] = stage
    return build_config(config_cls, values, where)


def build_config(config_cls: type[TrainConfig], values: dict[str, Any], where: str) -> TrainConfig:
    """Instantiate ``config_cls`` from plain values, turning every problem into one ``InputError`` line."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InputError(
            f"{where}: unknown {config_cls.__name__} key(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(names))}."
        )
    hints = typing.get_type_hints(config_cls)
    coerced = {key: coerce(value, hints[key], key) for key, value in values.items()}
    try:
        return config_cls(**coerced)
    except (ValueError, TypeError) as error:
        raise InputError(f"{where}: {error}") from None


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_help(config_cls: type[TrainConfig]) -> dict[str, str]:
    """``{field: help}`` in declaration order."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(config_cls)}


def render_config(config: TrainConfig) -> str:
    """The config as YAML, each key preceded by its help as a comment."""
    import yaml

    lines = [f"# {type(config).__name__}"]
    for name, text in config_help(type(config)).items():
        lines.append(f"# {text}")
        lines.append(yaml.safe_dump({name: getattr(config, name)}, sort_keys=False).rstrip())
    return "\n".join(lines) + "\n"


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against a field's annotation; ints pass as floats, comma strings as lists."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() == "none")):
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], key)
    if origin is Literal:
        if value not in args:
            raise InputError(f"{key}={value!r}: expected one of {', '.join(map(str, args))}.")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"{key}={value!r}: expected a mapping like {{name: value}} or name=value,...")
        key_type, value_type = args
        return {coerce(k, key_type, key): coerce(v, value_type, key) for k, v in value.items()}
    if origin is list:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise InputError(f"{key}={value!r}: expected a list.")
        return [coerce(item, args[0], key) for item in value]
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise InputError(f"{key}={value!r}: expected true or false.")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InputError(f"{key}={value!r}: expected an integer.")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise InputError(f"{key}={value!r}: expected a number.")
    if annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise InputError(f"{key}={value!r}: expected a string.")
    return value


def _check_types(config: TrainConfig) -> None:
    hints = typing.get_type_hints(type(config))
    for item in dataclasses.fields(config):
        try:
            coerce(getattr(config, item.name), hints[item.name], item.name)
        except InputError as error:
            raise ValueError(str(error)) from None


def _check_minibatches(config: Any) -> None:
    if config.images_per_step % config.minibatches:
        raise ValueError(
            f"minibatches={config.minibatches} must divide images_per_step={config.images_per_step} "
            "(each minibatch holds whole groups)."
        )


def updates_per_step(config: TrainConfig) -> int:
    """Optimizer updates per training step (one rollout round in the RL stages)."""
    return getattr(config, "num_inner_epochs", 1) * getattr(config, "minibatches", 1)


def _positive(config: TrainConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value < 1:
            raise ValueError(f"{name}={value}: use a positive number.")
