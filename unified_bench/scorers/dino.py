"""``dinov2`` (DINOv2-L) and ``dinov3`` (DINOv3 ViT-L/16): the CLS token, as UAE's scripts use.

UAE takes ``last_hidden_state[:, 0]`` (after the final layer norm), not ``pooler_output``; for
DINOv3 the sequence is CLS + 4 register tokens + patches, and index 0 is still the CLS token.
DINOv2's official processor is ``BitImageProcessor`` (PIL backend by default). DINOv3 only has a
torchvision processor in transformers (as it had when it was released, in 4.56), so ``dinov3``
always uses it.
"""

from __future__ import annotations

import torch

from unified_bench.scorers.embedding import (
    TransformersImageEmbedder,
    image_processor_class,
    placement,
    quiet_loading,
)
from unified_bench.scorers.registry import BuildContext
from unified_bench.scorers.weights import resolve_pretrained_dir

DINOV2_MODEL_ID = "facebook/dinov2-large"
DINOV3_MODEL_ID = "facebook/dinov3-vitl16-pretrain-lvd1689m"
DINOV3_GATED_HINT = (
    f"DINOv3 is gated: accept its licence at https://huggingface.co/{DINOV3_MODEL_ID} and run "
    "`hf auth login`, or pass --scorer dinov3=PATH to a local copy."
)


class DinoClsScorer(TransformersImageEmbedder):
    """CLS token of the last hidden state."""

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).last_hidden_state[:, 0]


class Dinov2Scorer(DinoClsScorer):
    name = "dinov2"


class Dinov3Scorer(DinoClsScorer):
    name = "dinov3"


def build_dinov2_scorer(model: str | None, context: BuildContext) -> Dinov2Scorer:
    from transformers import BitImageProcessor, BitImageProcessorPil, Dinov2Model

    device, dtype = placement(context)
    weights = resolve_pretrained_dir(model or DINOV2_MODEL_ID, scorer="dinov2")
    with quiet_loading():
        network = Dinov2Model.from_pretrained(weights.path, dtype=dtype).to(device)
    classes = {"pil": BitImageProcessorPil, "torchvision": BitImageProcessor}
    processor = image_processor_class(classes, context.image_backend).from_pretrained(weights.path)
    return Dinov2Scorer(network, processor, weights=weights, device=device, dtype=dtype)


def build_dinov3_scorer(model: str | None, context: BuildContext) -> Dinov3Scorer:
    from transformers import DINOv3ViTImageProcessor, DINOv3ViTModel

    device, dtype = placement(context)
    weights = resolve_pretrained_dir(model or DINOV3_MODEL_ID, scorer="dinov3", hint=DINOV3_GATED_HINT)
    with quiet_loading():
        network = DINOv3ViTModel.from_pretrained(weights.path, dtype=dtype).to(device)
    processor = DINOv3ViTImageProcessor.from_pretrained(weights.path)
    return Dinov3Scorer(network, processor, weights=weights, device=device, dtype=dtype)
