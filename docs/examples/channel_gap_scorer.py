"""Worked example of docs/extending.md: a scorer that needs no weights.

``channel_gap``: the largest difference, over R, G and B, between the mean colour of a reconstruction
and of its reference, in 0-255 units. Lower is better; 0 when the mean colours match.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from unified_bench.scorers.base import PairwiseScorer
from unified_bench.scorers.registry import BuildContext


class ChannelGapScorer(PairwiseScorer):
    name = "channel_gap"
    higher_is_better = False

    def fingerprint(self) -> str:
        # Equal fingerprints promise equal numbers: name, weights (none) and preprocessing.
        return "channel_gap:none:rgb-uint8-mean"

    def pairwise(self, reconstructions: list[Image.Image], references: list[Image.Image]) -> torch.Tensor:
        gaps = [
            float(np.abs(_mean_rgb(rec) - _mean_rgb(ref)).max())
            for rec, ref in zip(reconstructions, references, strict=True)
        ]
        return torch.tensor(gaps, dtype=torch.float32)


def _mean_rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0)


def build_channel_gap_scorer(model: str | None, context: BuildContext) -> ChannelGapScorer:
    """The factory ``SCORER_FACTORIES`` names: ``(model after '=', context)`` in, a scorer out."""
    if model is not None:
        raise ValueError("channel_gap has no weights; use it as --scorer channel_gap")
    return ChannelGapScorer()
