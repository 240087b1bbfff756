"""Rewards from the harness's own scorers: one reward path for training and for the benchmark.

``ReconstructionReward`` builds the scorers with ``build_scorers`` and scores (reference,
reconstruction) pairs with ``score_items``, the function ``unified-bench run`` uses, on PIL images
rounded exactly as a saved reconstruction would be; reference embeddings go through the same
on-disk cache. The reward is the weighted sum of the per-scorer values (a scorer where lower is
better counts negatively). The cold-start loss needs gradients instead: ``similarity`` embeds the
reconstruction tensor with the scorer's ``embed_tensor`` (same model and preprocessing steps, done
on tensors) against the reference's ``embed`` row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from unified_bench.datasets import Sample
from unified_bench.errors import InputError

TINY_WEIGHTS = "tiny"


def scorer_specs(names: Sequence[str], models: Mapping[str, str]) -> list[str]:
    """``NAME`` or ``NAME=MODEL`` specs; a model ``tiny`` is the random tiny test checkpoint."""
    tiny: dict[str, str] = {}
    if any(models.get(name) == TINY_WEIGHTS for name in names):
        from unified_bench.scorers.tiny import ensure_tiny_scorer_weights

        tiny = ensure_tiny_scorer_weights()
    specs = []
    for name in names:
        model = models.get(name)
        if model == TINY_WEIGHTS:
            if name not in tiny:
                raise InputError(f"scorer_models: there is no tiny checkpoint for {name!r}.")
            model = tiny[name]
        specs.append(f"{name}={model}" if model else name)
    return specs


@dataclass(frozen=True)
class RewardBatch:
    """Weighted reward per sample and each scorer's raw value, float32 ``[N]``."""

    total: torch.Tensor
    per_scorer: dict[str, torch.Tensor]


class ReconstructionReward:
    """Similarity of reconstructions to their reference images, by a weighted mix of harness scorers."""

    def __init__(
        self,
        weights: Mapping[str, float],
        scorer_models: Mapping[str, str],
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
        use_cache: bool = True,
    ) -> None:
        from unified_bench.scorers import build_scorers
        from unified_bench.scorers.cache import EmbeddingCache

        self.weights = dict(weights)
        self.scorers = build_scorers(
            scorer_specs(list(self.weights), scorer_models), device=device, dtype=dtype
        )
        for scorer in self.scorers:
            model = getattr(scorer, "model", None)
            if isinstance(model, torch.nn.Module):
                model.requires_grad_(False)
        self.batch_size = batch_size
        self.cache = EmbeddingCache() if use_cache else None

    def fingerprints(self) -> dict[str, str]:
        return {scorer.name: scorer.fingerprint() for scorer in self.scorers}

    def score(self, references: Sequence[Sample], reconstructions: Sequence[Image.Image]) -> RewardBatch:
        """Rewards of ``reconstructions[i]`` against ``references[i]`` (``score_items``, no gradients)."""
        from unified_bench.scoring import ScoringItem, score_items

        items = [
            ScoringItem(
                id=f"item-{index}",
                reference=reference.image,
                reference_sha256=reference.image_sha256,
                reconstruction=image,
                reconstruction_sha256="unhashed",
            )
            for index, (reference, image) in enumerate(zip(references, reconstructions, strict=True))
        ]
        table = score_items(items, self.scorers, batch_size=self.batch_size, cache=self.cache)
        per_scorer: dict[str, torch.Tensor] = {}
        total = torch.zeros(len(items))
        for scorer in self.scorers:
            values = [table[scorer.name][item.id] for item in items]
            if any(value is None for value in values):
                raise ValueError(f"scorer {scorer.name} returned no value for some reconstructions")
            column = torch.tensor(values, dtype=torch.float32)
            per_scorer[scorer.name] = column
            sign = 1.0 if scorer.higher_is_better else -1.0
            total += sign * self.weights[scorer.name] * column
        return RewardBatch(total, per_scorer)

    def similarity(self, references: Sequence[Sample], reconstructions: torch.Tensor) -> torch.Tensor:
        """Differentiable weighted cosine ``Σ w cos(embed_tensor(rec), embed(ref))``: ``[N]``.

        Raises:
            InputError: a reward scorer is not an embedding scorer.
        """
        from unified_bench.scorers.base import EmbeddingScorer

        total = torch.zeros(reconstructions.shape[0], device=reconstructions.device)
        for scorer in self.scorers:
            if not isinstance(scorer, EmbeddingScorer):
                raise InputError(
                    f"scorer {scorer.name} cannot give gradients; the cold-start loss needs embedding "
                    "scorers (clip, dinov2, dinov3, longclip)."
                )
            rows = scorer.embed_tensor(reconstructions).to(reconstructions.device)
            reference_rows = self._reference_rows(scorer, references, dim=rows.shape[-1])
            reference_rows = reference_rows.to(reconstructions.device)
            total = total + self.weights[scorer.name] * (rows * reference_rows).sum(dim=-1)
        return total

    def total_weight(self) -> float:
        return float(sum(self.weights.values()))

    def _reference_rows(self, scorer, references: Sequence[Sample], *, dim: int) -> torch.Tensor:
        """Reference embeddings ``[N, dim]``: cached rows of another width are bad, recomputed."""
        fingerprint = scorer.fingerprint()
        rows: dict[str, torch.Tensor] = {}
        if self.cache is not None:
            shas = [reference.image_sha256 for reference in references]
            cached = self.cache.get_many(fingerprint, shas, dim=dim)
            rows = {sha: torch.from_numpy(row) for sha, row in cached.items()}
        missing = {ref.image_sha256: ref.image for ref in references if ref.image_sha256 not in rows}
        if missing:
            embedded = scorer.embed(list(missing.values()))
            for sha, row in zip(missing, embedded, strict=True):
                rows[sha] = row
                if self.cache is not None:
                    self.cache.put(fingerprint, sha, row.numpy())
        return torch.stack([rows[reference.image_sha256] for reference in references]).float()
