"""Rewards come from the harness's scorers; the cold-start loss uses their differentiable twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from unified_bench.datasets import Sample
from unified_bench.scorers import build_scorers
from unified_bench.scorers.embedding import tensor_pixel_values
from unified_bench.scorers.tiny import IMAGE_SIZE, ensure_tiny_scorer_weights
from unified_bench_adapters.uae.train.rewards import ReconstructionReward, scorer_specs

PAPER_SCORERS = ("clip", "dinov2", "dinov3", "longclip")


def photo(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)


def as_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0).float() / 255


def sample(image: Image.Image, name: str) -> Sample:
    return Sample.from_image(name, image)


# ---------------------------------------------------------------- independent references
# Each model's official recipe, written out here with transformers and torchvision directly (scaled
# down to the tiny checkpoints' IMAGE_SIZE): the preprocessing and the global feature.
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
RECIPES = {
    # resize (shorter side -> int, or (height, width)), interpolation, centre crop, mean, std
    "clip": (IMAGE_SIZE, InterpolationMode.BICUBIC, IMAGE_SIZE, CLIP_MEAN, CLIP_STD),
    "dinov2": (IMAGE_SIZE + 4, InterpolationMode.BICUBIC, IMAGE_SIZE, IMAGENET_MEAN, IMAGENET_STD),
    "dinov3": ((IMAGE_SIZE, IMAGE_SIZE), InterpolationMode.BILINEAR, None, IMAGENET_MEAN, IMAGENET_STD),
}
TRANSFORMERS_SCORERS = tuple(RECIPES)


def reference_pixel_values(name: str, pixels: torch.Tensor) -> torch.Tensor:
    """torchvision's antialiased resize, centre crop and normalisation with the recipe's settings."""
    size, interpolation, crop, mean, std = RECIPES[name]
    size = [size] if isinstance(size, int) else list(size)
    pixels = TF.resize(pixels, size, interpolation=interpolation, antialias=True)
    if crop is not None:
        pixels = TF.center_crop(pixels, [crop, crop])
    return TF.normalize(pixels, list(mean), list(std))


def reference_model(name: str, path: str):
    from transformers import (
        BitImageProcessorPil,
        CLIPImageProcessorPil,
        CLIPModel,
        Dinov2Model,
        DINOv3ViTImageProcessor,
        DINOv3ViTModel,
    )

    model_class, processor_class = {
        "clip": (CLIPModel, CLIPImageProcessorPil),
        "dinov2": (Dinov2Model, BitImageProcessorPil),
        "dinov3": (DINOv3ViTModel, DINOv3ViTImageProcessor),
    }[name]
    return model_class.from_pretrained(path).eval(), processor_class.from_pretrained(path)


def reference_features(name: str, model, pixel_values: torch.Tensor) -> torch.Tensor:
    """CLIP: the projected pooled vision output; DINO: the CLS token (index 0) of the last layer."""
    with torch.no_grad():
        if name == "clip":
            return model.visual_projection(model.vision_model(pixel_values=pixel_values).pooler_output)
        return model(pixel_values=pixel_values).last_hidden_state[:, 0]


def processed(processor, image: Image.Image) -> torch.Tensor:
    return processor(images=image, return_tensors="pt")["pixel_values"]


def unit(rows: torch.Tensor) -> torch.Tensor:
    return rows / rows.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("name", TRANSFORMERS_SCORERS)
@pytest.mark.parametrize("size", [(64, 64), (80, 48), (40, 72)])
def test_tensor_preprocessing_is_the_official_resize_crop_and_normalisation(name, size):
    specs = ensure_tiny_scorer_weights()
    (scorer,) = build_scorers([f"{name}={specs[name]}"], device="cpu", dtype="float32")
    pixels = as_tensor(photo(7, size))
    torch.testing.assert_close(
        tensor_pixel_values(pixels, scorer.processor), reference_pixel_values(name, pixels)
    )


@pytest.mark.parametrize("name", TRANSFORMERS_SCORERS)
@pytest.mark.parametrize("size", [(64, 64), (80, 48)])
def test_both_embeddings_are_the_official_global_feature_l2_normalised(name, size):
    specs = ensure_tiny_scorer_weights()
    (scorer,) = build_scorers([f"{name}={specs[name]}"], device="cpu", dtype="float32")
    model, processor = reference_model(name, specs[name])
    image = photo(1, size)
    pixels = as_tensor(image)
    from_pil = unit(
        reference_features(name, model, processor(images=image, return_tensors="pt")["pixel_values"])
    )
    from_tensor = unit(reference_features(name, model, reference_pixel_values(name, pixels)))

    torch.testing.assert_close(scorer.embed([image]), from_pil, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(scorer.embed_tensor(pixels).detach(), from_tensor, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", PAPER_SCORERS)
@pytest.mark.parametrize("size", [(64, 64), (80, 48)])
def test_differentiable_embedding_is_close_to_embed_and_reaches_the_pixels(name, size):
    specs = ensure_tiny_scorer_weights()
    (scorer,) = build_scorers([f"{name}={specs[name]}"], device="cpu", dtype="float32")
    image = photo(1, size)
    pixels = as_tensor(image).requires_grad_(True)
    rows = scorer.embed_tensor(pixels)
    reference = scorer.embed([image])
    assert rows.shape == reference.shape
    # PIL and torch resize differ in rounding only: the two paths agree to ~1e-5 in cosine
    assert float((rows.detach() * reference).sum()) > 0.9999
    (rows * torch.randn(rows.shape, generator=torch.Generator().manual_seed(0))).sum().backward()
    assert pixels.grad is not None and pixels.grad.abs().sum() > 0


def test_tiny_weights_resolve_to_the_local_test_checkpoints():
    specs = scorer_specs(["clip", "dinov2"], {"clip": "tiny"})
    assert specs[0].startswith("clip=") and specs[0].endswith("tiny-clip")
    assert specs[1] == "dinov2"


def test_reward_is_the_weighted_sum_of_the_official_cosines():
    specs = ensure_tiny_scorer_weights()
    weights = {"clip": 0.5, "dinov2": 0.25}
    reward = ReconstructionReward(weights, {"clip": "tiny", "dinov2": "tiny"}, device="cpu", dtype="float32")
    references = [sample(photo(2, (64, 64)), "a"), sample(photo(3, (72, 56)), "b")]
    reconstructions = [photo(4, (64, 64)), photo(3, (72, 56))]
    batch = reward.score(references, reconstructions)

    expected_total = torch.zeros(2, dtype=torch.float64)
    for name, weight in weights.items():
        model, processor = reference_model(name, specs[name])

        def features(image: Image.Image, name=name, model=model, processor=processor) -> torch.Tensor:
            return reference_features(name, model, processed(processor, image))

        cosines = torch.tensor(
            [
                F.cosine_similarity(features(ref.image), features(rec)).item()
                for ref, rec in zip(references, reconstructions, strict=True)
            ],
            dtype=torch.float64,
        )
        torch.testing.assert_close(batch.per_scorer[name].double(), cosines, rtol=1e-4, atol=1e-5)
        expected_total += weight * cosines
    torch.testing.assert_close(batch.total.double(), expected_total, rtol=1e-4, atol=1e-5)
    assert batch.total[1] > batch.total[0]  # the reconstruction equal to its reference scores higher


def test_a_lower_is_better_scorer_counts_against_the_reward():
    reward = ReconstructionReward(
        {"lpips": 2.0, "clip": 0.5}, {"lpips": "tiny", "clip": "tiny"}, device="cpu"
    )
    reference = sample(photo(8, (64, 64)), "r")
    batch = reward.score([reference, reference], [reference.image, photo(9, (64, 64))])
    distance = batch.per_scorer["lpips"]
    assert distance[0] == pytest.approx(0.0, abs=1e-6) and distance[1] > 0  # a distance: 0 for a copy
    torch.testing.assert_close(batch.total, 0.5 * batch.per_scorer["clip"] - 2.0 * distance)
    lpips_only = ReconstructionReward({"lpips": 1.0}, {"lpips": "tiny"}, device="cpu")
    alone = lpips_only.score([reference, reference], [reference.image, photo(9, (64, 64))]).total
    assert alone[0] > alone[1]  # the exact copy earns the larger reward


def test_differentiable_similarity_agrees_with_the_reward_and_reaches_the_pixels():
    reward = ReconstructionReward({"clip": 1.0}, {"clip": "tiny"}, device="cpu", dtype="float32")
    reference = sample(photo(5, (64, 64)), "r")
    reconstruction = photo(6, (64, 64))
    pixels = as_tensor(reconstruction).requires_grad_(True)
    similarity = reward.similarity([reference], pixels)
    scored = reward.score([reference], [reconstruction]).total
    assert float(similarity.detach()) == pytest.approx(float(scored), abs=1e-3)
    (1 - similarity).sum().backward()
    assert pixels.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in reward.scorers[0].model.parameters())  # scorers stay frozen


def test_a_cached_reference_row_of_another_width_is_recomputed_not_broadcast(tmp_path, monkeypatch):
    """A unit row of width 1 would broadcast against the reconstruction's row: it must be refused."""
    from unified_bench.scorers.cache import EmbeddingCache

    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path / "cache"))
    reference = sample(photo(7, (64, 64)), "r")
    pixels = as_tensor(photo(8, (64, 64)))
    uncached = ReconstructionReward({"clip": 1.0}, {"clip": "tiny"}, device="cpu", use_cache=False)
    expected = float(uncached.similarity([reference], pixels))
    reward = ReconstructionReward({"clip": 1.0}, {"clip": "tiny"}, device="cpu")
    fingerprint = reward.scorers[0].fingerprint()
    EmbeddingCache().put(fingerprint, reference.image_sha256, np.ones(1, dtype=np.float32))
    assert float(reward.similarity([reference], pixels)) == pytest.approx(expected, abs=1e-6)
    assert reward.cache.get(fingerprint, reference.image_sha256).shape[0] > 1  # rewritten at full width
