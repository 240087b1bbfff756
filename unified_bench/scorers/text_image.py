"""Caption-vs-original-image scorers (CLIPScore-style, but the raw cosine like UAE's scorers).

An ``ImageTextScorer`` pairs a text encoder with an image ``EmbeddingScorer`` of the same model.
The image side is exactly that embedding scorer, so the engine can take the original images'
embeddings from the embedding cache (``clip`` and ``clipscore`` with the same weights share them).
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from PIL import Image

from unified_bench.scorers.base import CaptionScorer, EmbeddingScorer


class ImageTextScorer(CaptionScorer):
    """Score = cosine of the caption's text embedding and its original image's embedding."""

    image_embedder: EmbeddingScorer
    batch_size: int = 16

    @abstractmethod
    def embed_texts(self, captions: list[str]) -> torch.Tensor:
        """Text embeddings ``[N, D]``, float32 CPU, rows L2-normalised."""

    @abstractmethod
    def text_preprocessing_id(self) -> str:
        """Tokeniser and truncation, e.g. ``clip-bpe-trunc77``."""

    def fingerprint(self) -> str:
        _, image_part = self.image_embedder.fingerprint().split(":", 1)
        return f"{self.name}:{image_part}:{self.text_preprocessing_id()}"

    def score_with_image_embeddings(self, captions: list[str], image_embeddings: torch.Tensor) -> list[float]:
        """Cosine of each caption with its (already embedded) original image."""
        size = self.batch_size
        text_embeddings = torch.cat(
            [self.embed_texts(captions[i : i + size]) for i in range(0, len(captions), size)]
        )
        return (text_embeddings.double() * image_embeddings.double()).sum(dim=-1).tolist()

    def score_captions(
        self,
        captions: list[str],
        images: list[Image.Image],
        references: list[tuple[str, ...] | None],
    ) -> list[float | None]:
        del references  # scored against the image, not against reference captions
        if not captions:
            return []
        size, embedder = self.batch_size, self.image_embedder
        image_embeddings = torch.cat(
            [embedder.embed(images[i : i + size]) for i in range(0, len(images), size)]
        )
        return list(self.score_with_image_embeddings(captions, image_embeddings))
