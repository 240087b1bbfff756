"""How fast the scoring engine embeds, compared with the official per-pair loop and a bare forward.

All four methods run in one process on the same N (reference, reconstruction) pairs and the same
full-size, randomly initialised architectures (CLIP-L/14, DINOv2-L, DINOv3-L/16, Long-CLIP-L; built
from configs, nothing downloaded; random weights run exactly as fast as trained ones):

  (a) per-pair   the official Unified-Bench loop: one scorer at a time, batch 1, the reference
                 re-embedded for every pair;
  (b) ours cold  ``score_items`` with an empty embedding cache;
  (c) ours warm  ``score_items`` again, references from the cache (only reconstructions embedded);
  (d) bare       image processor + model forward in batches of ``--batch-size``, nothing else.

Timings are wall-clock (min over interleaved repeats); "CPU s" is this process's CPU time.
"fwd eff." compares each method's seconds per embedded image with (d)'s (1.00 = no overhead);
"images/s" counts images embedded; "pairs/s" counts pairs scored (what a user waits for);
(b) embeds 2N images like (d), (c) embeds N, so (c)'s ideal speed-up over (d) is 2x.
"time outside embed" is the share of (b)/(c) spent outside ``scorer.embed`` (preprocess + forward):
the engine's own overhead (batching, cache I/O, cosines), worst of the repeats.

    python benchmarks/score_speed.py --n 32 --scorers clip,dinov2,dinov3,longclip --batch-size 16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from unified_bench.scorers.base import EmbeddingScorer
from unified_bench.scorers.cache import EmbeddingCache
from unified_bench.scorers.weights import ResolvedWeights
from unified_bench.scoring import ScoringItem, score_items
from unified_bench.torch_utils import resolve_device, resolve_dtype


def random_init(name: str) -> ResolvedWeights:
    return ResolvedWeights(f"random-init:{name}", Path("."), "0" * 64)


def build_clip(device: torch.device, dtype: torch.dtype) -> EmbeddingScorer:
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    from unified_bench.scorers.clip import ClipImageScorer

    config = CLIPConfig(  # openai/clip-vit-large-patch14
        text_config={
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
        },
        vision_config={
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_attention_heads": 16,
            "num_hidden_layers": 24,
            "patch_size": 14,
            "image_size": 224,
        },
        projection_dim=768,
    )
    model = CLIPModel(config).to(device, dtype)
    return ClipImageScorer(
        model, CLIPImageProcessorPil(), weights=random_init("clip-L/14"), device=device, dtype=dtype
    )


def build_dinov2(device: torch.device, dtype: torch.dtype) -> EmbeddingScorer:
    from transformers import BitImageProcessorPil, Dinov2Config, Dinov2Model
    from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling

    from unified_bench.scorers.dino import Dinov2Scorer

    config = Dinov2Config(  # facebook/dinov2-large
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        mlp_ratio=4,
        patch_size=14,
        image_size=518,
    )
    processor = BitImageProcessorPil(  # facebook/dinov2-large's preprocessor_config.json
        size={"shortest_edge": 256},
        crop_size={"height": 224, "width": 224},
        resample=PILImageResampling.BICUBIC,
        image_mean=IMAGENET_DEFAULT_MEAN,
        image_std=IMAGENET_DEFAULT_STD,
    )
    model = Dinov2Model(config).to(device, dtype)
    return Dinov2Scorer(model, processor, weights=random_init("dinov2-L"), device=device, dtype=dtype)


def build_dinov3(device: torch.device, dtype: torch.dtype) -> EmbeddingScorer:
    from transformers import DINOv3ViTConfig, DINOv3ViTImageProcessor, DINOv3ViTModel

    from unified_bench.scorers.dino import Dinov3Scorer

    config = DINOv3ViTConfig(  # facebook/dinov3-vitl16-pretrain-lvd1689m
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        patch_size=16,
        num_register_tokens=4,
    )
    model = DINOv3ViTModel(config).to(device, dtype)
    processor = DINOv3ViTImageProcessor(size={"height": 224, "width": 224})
    return Dinov3Scorer(model, processor, weights=random_init("dinov3-L/16"), device=device, dtype=dtype)


def build_longclip(device: torch.device, dtype: torch.dtype) -> EmbeddingScorer:
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    from unified_bench.scorers.longclip import LongClipImageScorer

    model = CLIP(  # longclip-L.pt: OpenAI ViT-L/14 + 248-position text tower
        768,
        CLIPVisionCfg(layers=24, width=1024, patch_size=14, image_size=224),
        CLIPTextCfg(context_length=248, vocab_size=49408, width=768, heads=12, layers=12),
        quick_gelu=True,
    ).to(device, dtype)
    return LongClipImageScorer(model, weights=random_init("longclip-L"), device=device, dtype=dtype)


BUILDERS: dict[str, Callable[[torch.device, torch.dtype], EmbeddingScorer]] = {
    "clip": build_clip,
    "dinov2": build_dinov2,
    "dinov3": build_dinov3,
    "longclip": build_longclip,
}


def bare_forward(scorer: EmbeddingScorer, images: list[Image.Image]) -> torch.Tensor:
    """(d): the model's image processor and forward, as a user would write it, nothing around it."""
    with torch.inference_mode():
        if hasattr(scorer, "processor"):
            pixels = scorer.processor(images=images, return_tensors="pt")["pixel_values"].to(
                scorer.device, scorer.dtype
            )
            if scorer.name == "clip":
                return scorer.model.get_image_features(pixel_values=pixels).pooler_output
            return scorer.model(pixel_values=pixels).last_hidden_state[:, 0]
        pixels = torch.stack([scorer.transform(image) for image in images]).to(scorer.device, scorer.dtype)
        return scorer.model.encode_image(pixels)


def per_pair_loop(scorer: EmbeddingScorer, items: list[ScoringItem]) -> list[float]:
    """(a): the official scripts' loop: embed reference and reconstruction one by one, for every pair."""
    return [
        float(
            torch.nn.functional.cosine_similarity(
                scorer.embed([i.reference]), scorer.embed([i.reconstruction])
            )
        )
        for i in items
    ]


def synced(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(function: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process); CPU time is less disturbed by other processes."""
    synced(device)
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    synced(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def make_items(count: int, size: int, seed: int) -> list[ScoringItem]:
    """Smooth random images (upsampled noise), more like photos than pixel noise for the resizers."""
    rng = np.random.default_rng(seed)

    def image() -> Image.Image:
        small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        return Image.fromarray(small).resize((size, size), Image.Resampling.BILINEAR)

    return [
        ScoringItem(f"s{i}", image(), f"{2 * i:064x}", image(), f"{2 * i + 1:064x}") for i in range(count)
    ]


def benchmark(name: str, args: argparse.Namespace, items: list[ScoringItem]) -> list[str]:
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    torch.manual_seed(0)
    start = time.perf_counter()
    scorer = BUILDERS[name](device, dtype)
    synced(device)
    load_s = time.perf_counter() - start
    scorer.embed([items[0].reference])  # warm-up (first-call allocations), untimed
    n, batch = len(items), args.batch_size
    references = [i.reference for i in items]
    reconstructions = [i.reconstruction for i in items]

    def bare() -> None:
        for images in (references, reconstructions):
            for start_index in range(0, n, batch):
                bare_forward(scorer, images[start_index : start_index + batch])

    def per_pair() -> dict[str, tuple[float, float]]:
        return {"(a) per-pair": timed(lambda: per_pair_loop(scorer, items), device)}

    # Time spent inside scorer.embed (preprocess + forward) during (b)/(c): the rest is the engine's
    # own overhead (batching, cache I/O, cosines), a ratio that other processes cannot distort.
    inside_embed = [0.0]
    embed = scorer.embed

    def timed_embed(images: list[Image.Image]) -> torch.Tensor:
        start = time.perf_counter()
        try:
            return embed(images)
        finally:
            inside_embed[0] += time.perf_counter() - start

    def ours() -> dict[str, tuple[float, float]]:
        scorer.embed = timed_embed  # instance attribute: the engine calls it like the method
        try:
            with tempfile.TemporaryDirectory() as folder:
                cache = EmbeddingCache(folder)
                inside_embed[0] = 0.0
                cold = timed(lambda: score_items(items, [scorer], batch_size=batch, cache=cache), device)
                outside["(b) ours cold"].append(1 - inside_embed[0] / cold[0])
                inside_embed[0] = 0.0
                warm = timed(lambda: score_items(items, [scorer], batch_size=batch, cache=cache), device)
                outside["(c) ours warm"].append(1 - inside_embed[0] / warm[0])
        finally:
            del scorer.embed
        return {"(b) ours cold": cold, "(c) ours warm": warm}

    def bare_batched() -> dict[str, tuple[float, float]]:
        return {"(d) bare": timed(bare, device)}

    # Methods are interleaved, in alternating order, and repeated; the minimum per method is the
    # least disturbed run (on a shared machine other processes steal cores at random moments).
    runs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    outside: dict[str, list[float]] = defaultdict(list)
    for repeat in range(args.repeats):
        order = [per_pair, ours, bare_batched]
        for method in order if repeat % 2 == 0 else order[::-1]:
            for label, measured in method().items():
                runs[label].append(measured)
    labels = ["(a) per-pair", "(b) ours cold", "(c) ours warm", "(d) bare"]
    seconds = {label: min(wall for wall, _ in runs[label]) for label in labels}
    cpu_seconds = {label: min(cpu for _, cpu in runs[label]) for label in labels}
    embedded = {"(a) per-pair": 2 * n, "(b) ours cold": 2 * n, "(c) ours warm": n, "(d) bare": 2 * n}
    bare_per_image = seconds["(d) bare"] / (2 * n)
    bare_cpu_per_image = cpu_seconds["(d) bare"] / (2 * n)
    rows = []
    for method, spent in seconds.items():
        pairs_per_s = n / spent
        rows.append(
            f"| {name} | {method} | {spent:7.2f} | {cpu_seconds[method]:7.2f} | {embedded[method]:4d} | "
            f"{embedded[method] / spent:6.2f} | "
            f"{pairs_per_s:6.2f} | {seconds['(a) per-pair'] / spent:5.2f}x | "
            f"{bare_per_image * embedded[method] / spent:4.2f} | "
            f"{bare_cpu_per_image * embedded[method] / cpu_seconds[method]:4.2f} | "
            f"{f'{100 * max(outside[method]):.2f}%' if method in outside else ''} |"
        )
    rows.append(f"| {name} | model build (random init, separate) | {load_s:7.2f} | | | | | | | | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=32, help="pairs to score")
    parser.add_argument(
        "--scorers", default="clip,dinov2,dinov3,longclip", help="comma-separated, of: " + ",".join(BUILDERS)
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=512, help="side of the square test images")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repeats; the minimum is reported")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    args = parser.parse_args()
    device = resolve_device(args.device)
    items = make_items(args.n, args.image_size, seed=0)
    print(
        f"N={args.n} pairs, {args.image_size}px images, batch {args.batch_size}, device {device}, "
        f"dtype {resolve_dtype(args.dtype, device)}, torch threads {torch.get_num_threads()}, "
        f"min of {args.repeats} interleaved repeat(s)"
    )
    print(
        "| scorer | method | wall s | CPU s | images embedded | images/s | pairs/s | vs per-pair "
        "| fwd eff. (wall) | fwd eff. (CPU) | time outside embed |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.scorers.split(","):
        for row in benchmark(name.strip(), args, items):
            print(row, flush=True)


if __name__ == "__main__":
    main()
