"""``clip`` (image-image) and ``clipscore`` (caption-image) on OpenAI CLIP ViT-L/14.

The image embedding is the projected one (``vision_model`` + ``visual_projection``, i.e.
``CLIPModel.get_image_features``), as in UAE's ``CLIP.py``; the score is the raw cosine of
L2-normalised embeddings (not CLIPScore's ``100 * max(cos, 0)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from unified_bench.scorers.embedding import (
    TransformersImageEmbedder,
    image_processor_class,
    placement,
    quiet_loading,
)
from unified_bench.scorers.registry import BuildContext
from unified_bench.scorers.text_image import ImageTextScorer
from unified_bench.scorers.weights import ResolvedWeights, resolve_pretrained_dir

CLIP_MODEL_ID = "openai/clip-vit-large-patch14"
CLIP_TEXT_TOKENS = 77


class ClipImageScorer(TransformersImageEmbedder):
    """Projected CLIP image embedding."""

    name = "clip"

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.get_image_features(pixel_values=pixel_values).pooler_output


class ClipScoreScorer(ImageTextScorer):
    """Cosine of a caption's CLIP text embedding (truncated to 77 tokens) and its original image's."""

    name = "clipscore"

    def __init__(self, image_embedder: ClipImageScorer, tokenizer: Any, *, batch_size: int = 16) -> None:
        self.image_embedder = image_embedder
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    def text_preprocessing_id(self) -> str:
        return f"{type(self.tokenizer).__name__}-trunc{CLIP_TEXT_TOKENS}"

    def embed_texts(self, captions: list[str]) -> torch.Tensor:
        embedder = self.image_embedder
        tokens = self.tokenizer(
            captions, padding=True, truncation=True, max_length=CLIP_TEXT_TOKENS, return_tensors="pt"
        ).to(embedder.device)
        with torch.inference_mode():
            features = embedder.model.get_text_features(**tokens).pooler_output
        return F.normalize(features.float(), dim=-1).cpu()


@dataclass(frozen=True)
class LoadedClip:
    model: Any
    processor: Any
    weights: ResolvedWeights
    path: str


def load_clip(ref: str, context: BuildContext, *, scorer: str) -> LoadedClip:
    """Load (once per context) a ``CLIPModel`` and its image processor from a folder or hub id."""
    from transformers import CLIPImageProcessor, CLIPImageProcessorPil, CLIPModel

    device, dtype = placement(context)

    def load() -> LoadedClip:
        weights = resolve_pretrained_dir(ref, scorer=scorer)
        with quiet_loading():
            model = CLIPModel.from_pretrained(weights.path, dtype=dtype).to(device).eval()
        classes = {"pil": CLIPImageProcessorPil, "torchvision": CLIPImageProcessor}
        processor = image_processor_class(classes, context.image_backend).from_pretrained(weights.path)
        return LoadedClip(model, processor, weights, str(weights.path))

    return context.shared(("clip", ref, str(device), dtype, context.image_backend), load)


def build_clip_scorer(model: str | None, context: BuildContext) -> ClipImageScorer:
    loaded = load_clip(model or CLIP_MODEL_ID, context, scorer="clip")
    device, dtype = placement(context)
    return ClipImageScorer(loaded.model, loaded.processor, weights=loaded.weights, device=device, dtype=dtype)


def build_clipscore_scorer(model: str | None, context: BuildContext) -> ClipScoreScorer:
    from transformers import CLIPTokenizer

    loaded = load_clip(model or CLIP_MODEL_ID, context, scorer="clipscore")
    device, dtype = placement(context)
    image_embedder = ClipImageScorer(
        loaded.model, loaded.processor, weights=loaded.weights, device=device, dtype=dtype
    )
    return ClipScoreScorer(image_embedder, CLIPTokenizer.from_pretrained(loaded.path))
