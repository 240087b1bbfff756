"""Scorer interfaces.

Three kinds, each small:

* ``EmbeddingScorer``: a frozen vision encoder. ``embed(images)`` returns L2-normalised rows; the
  score of a pair is the cosine of the reconstruction's and the reference's embeddings. Because
  references are embedded independently of reconstructions, their embeddings are cached on disk
  (keyed by ``fingerprint()`` + image sha256) and shared by every model scored on that dataset.
* ``PairwiseScorer``: compares pixels of a reconstruction with its reference (LPIPS, SSIM, PSNR).
* ``CaptionScorer``: scores a caption against its original image and/or reference captions.
* ``TextPairScorer``: scores a caption against the prompt its image was drawn from (t2i2t).

``fingerprint()`` names the weights (id + revision or sha256) and the preprocessing, so results
from different scorer weights are never compared as if equal.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch
    from PIL import Image


class Scorer(ABC):
    name: ClassVar[str]
    higher_is_better: ClassVar[bool] = True

    @abstractmethod
    def fingerprint(self) -> str:
        """``name:model@revision-or-sha:preprocessing``: equal strings mean equal numbers."""


class EmbeddingScorer(Scorer):
    """A frozen image encoder; score = cosine of L2-normalised embeddings."""

    @abstractmethod
    def embed(self, images: list[Image.Image]) -> torch.Tensor:
        """Embed a batch of RGB images -> float32 CPU tensor ``[N, D]``, rows L2-normalised."""

    def prepare(self, images: list[Image.Image]) -> Any:
        """CPU-side preprocessing of a batch, safe to run in a loader thread ahead of ``embed_prepared``.

        ``embed_prepared(prepare(images))`` equals ``embed(images)``; rows of the result can be
        selected (``prepared[rows]`` for a tensor) and embed the same as those images alone. The
        default keeps the images as they are.
        """
        return list(images)

    def embed_prepared(self, prepared: Any) -> torch.Tensor:
        """``embed`` of what ``prepare`` returned."""
        return self.embed(prepared)

    def embed_tensor(self, pixels: torch.Tensor) -> torch.Tensor:
        """Differentiable twin of ``embed`` for float images ``[N, 3, H, W]`` in [0, 1].

        Same model and preprocessing steps, done on tensors (so resizing is float, not PIL's uint8),
        rows L2-normalised, on the scorer's device, with gradients to ``pixels``. Used as a training
        loss (UAE's cold start); scores in results always come from ``embed``.
        """
        raise NotImplementedError(f"scorer {self.name} has no differentiable embedding")


class PairwiseScorer(Scorer):
    """A pixel-level comparison of each reconstruction with its reference."""

    @abstractmethod
    def pairwise(self, reconstructions: list[Image.Image], references: list[Image.Image]) -> torch.Tensor:
        """One float per pair -> float32 CPU tensor ``[N]``."""


class CaptionScorer(Scorer):
    """Scores captions; may return ``None`` for a sample it cannot score (e.g. no reference captions)."""

    @abstractmethod
    def score_captions(
        self,
        captions: list[str],
        images: list[Image.Image],
        references: list[tuple[str, ...] | None],
    ) -> list[float | None]:
        """One value (or ``None``) per caption."""


class TextPairScorer(Scorer):
    """Scores each caption against the prompt its image was drawn from (the t2i2t direction)."""

    @abstractmethod
    def score_text_pairs(self, prompts: list[str], captions: list[str]) -> list[float | None]:
        """One value (or ``None``) per (prompt, caption) pair."""

    def truncation(self) -> dict[str, int] | None:
        """What the scorer's tokenizer cut so far (``{"prompts": n, "captions": m, "limit": k}``), if it
        truncates at all; recorded in the results' provenance."""
        return None
