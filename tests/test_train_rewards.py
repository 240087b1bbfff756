"""Rewards come from the harness's scorers; the cold-start loss uses their differentiable twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from unified_bench.datasets import Sample
from unified_bench.scorers import build_scorers
from unified_bench.scorers.tiny import ensure_tiny_scorer_weights
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


@pytest.mark.parametrize("name", PAPER_SCORERS)
@pytest.mark.parametrize("size", [(64, 64), (80, 48)])
def test_differentiable_embedding_matches_embed_on_the_same_image(name, size):
    specs = ensure_tiny_scorer_weights()
    (scorer,) = build_scorers([f"{name}={specs[name]}"], device="cpu", dtype="float32")
    image = photo(1, size)
    pixels = as_tensor(image).requires_grad_(True)
    rows = scorer.embed_tensor(pixels)
    reference = scorer.embed([image])
    assert rows.shape == reference.shape
    assert float((rows.detach() * reference).sum()) > 0.9999
    (rows * torch.randn(rows.shape, generator=torch.Generator().manual_seed(0))).sum().backward()
    assert pixels.grad is not None and pixels.grad.abs().sum() > 0


def test_tiny_weights_resolve_to_the_local_test_checkpoints():
    specs = scorer_specs(["clip", "dinov2"], {"clip": "tiny"})
    assert specs[0].startswith("clip=") and specs[0].endswith("tiny-clip")
    assert specs[1] == "dinov2"


def test_reward_is_the_weighted_sum_of_the_harness_cosines():
    weights = {"clip": 0.5, "dinov2": 0.25}
    reward = ReconstructionReward(weights, {"clip": "tiny", "dinov2": "tiny"}, device="cpu", dtype="float32")
    references = [sample(photo(2, (64, 64)), "a"), sample(photo(3, (72, 56)), "b")]
    reconstructions = [photo(4, (64, 64)), photo(3, (72, 56))]
    batch = reward.score(references, reconstructions)
    for scorer in reward.scorers:
        expected = [
            float((scorer.embed([ref.image])[0].double() * scorer.embed([rec])[0].double()).sum())
            for ref, rec in zip(references, reconstructions, strict=True)
        ]
        torch.testing.assert_close(batch.per_scorer[scorer.name].double(), torch.tensor(expected).double())
    expected_total = 0.5 * batch.per_scorer["clip"] + 0.25 * batch.per_scorer["dinov2"]
    torch.testing.assert_close(batch.total, expected_total)
    assert batch.total[1] > batch.total[0]  # the reconstruction equal to its reference scores higher


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
