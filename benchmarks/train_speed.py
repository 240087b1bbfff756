"""Speed and memory of Unified-GRPO training (a benchmark, not a test).

1. **Sampler overhead.** The Flow-GRPO sampler that records log-probs (``sde_trajectory`` over
   ``UAEPolicy.velocity``, exactly the u4g rollout loop) against diffusers' own
   ``StableDiffusion3Pipeline`` (Euler, ``output_type="latent"``) on the same transformer, batch,
   resolution, steps and guidance. Both stop at latents (no VAE). Overhead = ours / diffusers - 1.
2. **Per-stage step time and peak memory**: one ``run_step`` of each stage after a warm-up step
   (``--stages``; tiny model). Peak memory is ``torch.cuda.max_memory_allocated`` on a GPU and the
   process's peak RSS on the CPU (cumulative: stages run in order in one process).
3. **``--estimate``**: parameter counts of the full-size parts, built on the meta device from their
   published configs (nothing downloaded), and the memory of weights + trainable state per stage.

    python benchmarks/train_speed.py                                  # tiny, CPU (minutes)
    python benchmarks/train_speed.py --estimate                       # full-size budget, no compute
    python benchmarks/train_speed.py --size full --device cuda --batch 8 --resolution 512 --stages none

``--size full`` builds SD3.5-Large's transformer (8.1B parameters) with random weights in bf16;
random weights run exactly as fast as trained ones.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SD35_LARGE = {
    "sample_size": 128,
    "patch_size": 2,
    "in_channels": 16,
    "out_channels": 16,
    "num_layers": 38,
    "attention_head_dim": 64,
    "num_attention_heads": 38,
    "joint_attention_dim": 4096,
    "caption_projection_dim": 2432,
    "pooled_projection_dim": 2048,
    "pos_embed_max_size": 192,
    "qk_norm": "rms_norm",
}
QWEN25_VL_3B = {
    "text_config": {
        "hidden_size": 2048,
        "intermediate_size": 11008,
        "num_hidden_layers": 36,
        "num_attention_heads": 16,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "tie_word_embeddings": True,
        "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    },
    "vision_config": {
        "depth": 32,
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "out_hidden_size": 2048,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
    },
    "tie_word_embeddings": True,
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, device: torch.device, repeats: int) -> float:
    """Median wall seconds of ``function()`` over ``repeats`` runs after one warm-up."""
    function()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        function()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- 1. sampler overhead ---------------------------------------------------------------------------


class _VelocityParts:
    """What ``UAEPolicy.velocity`` reads, for a bare transformer (the full-size random model)."""

    def __init__(self, transformer, pooled: torch.Tensor) -> None:
        self.transformer = transformer
        self.transformer_dtype = next(transformer.parameters()).dtype
        self._pooled = pooled

    def pooled(self, batch: int) -> torch.Tensor:
        return self._pooled.expand(batch, -1)


def sampler_overhead(args, device: torch.device) -> None:
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    from unified_bench_adapters.uae.train.policy import UAEPolicy
    from unified_bench_adapters.uae.train.stages.common import sampling_schedule
    from unified_bench_adapters.uae.train.stages.u4g import sde_trajectory

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if args.size == "full":
        with torch.device("meta"):
            transformer = SD3Transformer2DModel(**SD35_LARGE)
        transformer = transformer.to_empty(device=device).to(dtype)
        with torch.no_grad():
            for parameter in transformer.parameters():
                parameter.normal_(std=0.02)
        scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
        text_length, width = 300, SD35_LARGE["joint_attention_dim"]
    else:
        from unified_bench_adapters.uae.tiny import ensure_tiny_checkpoint

        root = ensure_tiny_checkpoint()
        transformer = SD3Transformer2DModel.from_pretrained(str(root / "dit"), torch_dtype=dtype).to(device)
        scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(str(root / "SD3"), subfolder="scheduler")
        text_length, width = 120, transformer.config.joint_attention_dim
    transformer.eval().requires_grad_(False)
    pipeline = StableDiffusion3Pipeline(transformer, scheduler, None, None, None, None, None, None, None)
    pipeline.set_progress_bar_config(disable=True)
    batch, steps, resolution, guidance = args.batch, args.steps, args.resolution, args.guidance
    generator = torch.Generator().manual_seed(0)
    positive = torch.randn(batch, text_length, width, generator=generator).to(device, dtype)
    negative = torch.randn(batch, text_length, width, generator=generator).to(device, dtype)
    pooled = torch.randn(1, transformer.config.pooled_projection_dim, generator=generator).to(device, dtype)
    latent_shape = (batch, transformer.config.in_channels, resolution // 8, resolution // 8)
    start = torch.randn(latent_shape, generator=generator).to(device, torch.float32)
    parts = _VelocityParts(transformer, pooled)
    schedule = sampling_schedule(scheduler, steps, width=resolution, height=resolution)

    @torch.no_grad()
    def diffusers_sampler() -> None:
        pipeline(
            prompt_embeds=positive,
            negative_prompt_embeds=negative,
            pooled_prompt_embeds=pooled.expand(batch, -1),
            negative_pooled_prompt_embeds=pooled.expand(batch, -1),
            latents=start.to(dtype),
            height=resolution,
            width=resolution,
            num_inference_steps=steps,
            guidance_scale=guidance,
            output_type="latent",
        )

    @torch.no_grad()
    def logprob_sampler() -> None:
        def velocity(latents: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
            return UAEPolicy.velocity(parts, latents, timestep.to(device), positive, negative, guidance)

        def noise(index: int) -> torch.Tensor:  # per-sample seeded CPU draws, as the u4g rollout does
            return torch.stack(
                [
                    torch.randn(latent_shape[1:], generator=torch.Generator().manual_seed(1000 * index + row))
                    for row in range(batch)
                ]
            )

        sde_trajectory(velocity, start, schedule, noise_level=0.7, noise=noise)

    plain = timed(diffusers_sampler, device, args.repeats)
    ours = timed(logprob_sampler, device, args.repeats)
    setting = f"{args.size}, {device}, {dtype}, batch {batch}, {resolution}px, {steps} steps, CFG"
    print(f"\n## Sampler overhead ({setting})")
    print("| sampler | s / call | overhead |")
    print("|---|---|---|")
    print(f"| diffusers StableDiffusion3Pipeline (Euler, latents) | {plain:.4f} | - |")
    print(f"| Flow-GRPO SDE + log-probs (u4g rollout loop) | {ours:.4f} | {100 * (ours / plain - 1):+.1f}% |")


# --- 2. per-stage step time ------------------------------------------------------------------------


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def stage_steps(args, device: torch.device) -> None:
    import dataclasses

    from _tiny_training import write_manifest

    from unified_bench.datasets import load_dataset
    from unified_bench_adapters.uae.train.config import load_config
    from unified_bench_adapters.uae.train.data import TrainData
    from unified_bench_adapters.uae.train.stages import stage_class
    from unified_bench_adapters.uae.train.trainer import build_context

    folder = Path(tempfile.mkdtemp(prefix="train-speed-"))
    manifest = write_manifest(folder, count=4)
    print("\n## Step time per stage (tiny; one optimizer step after a warm-up step)")
    print("| stage | images/step | samples/step | s / step | peak memory MB |")
    print("|---|---|---|---|---|")
    for stage in args.stages.split(","):
        config = load_config(stage, f"tiny-{stage}", [f"dataset={manifest}", "report_to=none"])
        config = dataclasses.replace(config, images_per_step=2, max_steps=10)
        if hasattr(config, "group_size"):  # the shape the README figures were measured with
            config = dataclasses.replace(config, group_size=4)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        context = build_context(config)
        runner = stage_class(stage)(context)
        data = TrainData(load_dataset(str(manifest)), images_per_step=2, seed=0)
        runner.run_step(0, data.step_items(0))
        synchronize(device)
        started = time.perf_counter()
        runner.run_step(1, data.step_items(1))
        synchronize(device)
        elapsed = time.perf_counter() - started
        samples = 2 * getattr(config, "group_size", 1)
        print(f"| {stage} | 2 | {samples} | {elapsed:.3f} | {peak_memory_mb(device):.0f} |")
        del context, runner


# --- 3. full-size estimate -------------------------------------------------------------------------


def lora_parameters(model: torch.nn.Module, targets: tuple[str, ...] | None, rank: int) -> int:
    """Parameters a LoRA of ``rank`` adds on the Linear layers PEFT would target (None = all-linear)."""
    total = 0
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        if targets is None or any(name == t or name.endswith("." + t) for t in targets):
            total += rank * (module.in_features + module.out_features)
    return total


def unique_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def estimate() -> None:
    from diffusers import AutoencoderKL, SD3Transformer2DModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, Qwen2_5_VLConfig

    from unified_bench_adapters.uae.modeling import Qwen2_5_VLWithProjector
    from unified_bench_adapters.uae.train.config import DIT_LORA_TARGETS

    with torch.device("meta"):
        qwen = Qwen2_5_VLWithProjector(Qwen2_5_VLConfig(**QWEN25_VL_3B))
        dit = SD3Transformer2DModel(**SD35_LARGE)
        vae = AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512),
            layers_per_block=2,
            latent_channels=16,
        )
        clip = CLIPVisionModelWithProjection(
            CLIPVisionConfig(
                hidden_size=1024,
                intermediate_size=4096,
                num_hidden_layers=24,
                num_attention_heads=16,
                patch_size=14,
                image_size=224,
                projection_dim=768,
            )
        )
    projector = unique_parameters(qwen.projector)
    counts = {
        "Qwen2.5-VL-3B (encoder, without projector)": unique_parameters(qwen) - projector,
        "projector 2048->8192->4096": projector,
        "SD3.5-Large transformer (DiT)": unique_parameters(dit),
        "SD3 VAE": unique_parameters(vae),
        "CLIP-L/14 image tower (reward)": unique_parameters(clip),
        "encoder LoRA r32 all-linear (language model)": lora_parameters(qwen.model.language_model, None, 32),
        "decoder LoRA r32 (Flow-GRPO attention targets)": lora_parameters(dit, DIT_LORA_TARGETS, 32),
    }
    print("\n## Full-size parameter counts (meta device, from the published configs)")
    print("| part | parameters |")
    print("|---|---|")
    for name, count in counts.items():
        print(f"| {name} | {count / 1e6:,.1f} M |")
    frozen_gb = 2 / 1e9  # bf16 bytes per parameter
    trained_gb = 16 / 1e9  # fp32 weight + fp32 grad + Adam (2 x fp32)
    qwen_n, dit_n = (
        counts["Qwen2.5-VL-3B (encoder, without projector)"],
        counts["SD3.5-Large transformer (DiT)"],
    )
    vae_n, clip_n = counts["SD3 VAE"], counts["CLIP-L/14 image tower (reward)"]
    enc_lora, dit_lora = (
        counts["encoder LoRA r32 all-linear (language model)"],
        counts["decoder LoRA r32 (Flow-GRPO attention targets)"],
    )
    stages = {
        "sft (DiT LoRA + projector)": ((qwen_n + dit_n + vae_n), dit_lora + projector),
        "sft (full DiT + projector, unsharded)": (qwen_n + vae_n, dit_n + projector),
        "cold-start (encoder LoRA + projector)": ((qwen_n + dit_n + vae_n + clip_n), enc_lora + projector),
        "g4u (encoder LoRA)": ((qwen_n + projector + dit_n + vae_n + clip_n), enc_lora),
        "u4g (DiT LoRA)": ((qwen_n + projector + dit_n + vae_n + clip_n), dit_lora),
    }
    print(
        "\n## Weights + trainable state per GPU (bf16 frozen, fp32 trainable + grads + AdamW), no activations"
    )
    print("| stage | frozen GB | trainable GB | total GB |")
    print("|---|---|---|---|")
    for name, (frozen, trained) in stages.items():
        print(
            f"| {name} | {frozen * frozen_gb:.1f} | {trained * trained_gb:.1f} | "
            f"{frozen * frozen_gb + trained * trained_gb:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=8, help="Images per sampler call (u4g: a group).")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stages", default="sft,cold-start,g4u,u4g", help="Comma list, or 'none'.")
    parser.add_argument("--estimate", action="store_true", help="Only the full-size parameter/memory budget.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.estimate:
        estimate()
        return
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    sampler_overhead(args, device)
    if args.stages != "none":
        stage_steps(args, device)


if __name__ == "__main__":
    main()
