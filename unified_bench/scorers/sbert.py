"""``sbert`` (optional, ``unified-bench[sbert]``): cosine of the prompt's and the caption's sentence
embeddings from a sentence-transformers model, the text-text similarity CycleReward (arXiv 2506.02095)
scores T2I cycles with.

The model is whatever ``sentence_transformers.SentenceTransformer`` loads from a folder written by
``SentenceTransformer.save`` or a hub id (default ``sentence-transformers/all-mpnet-base-v2``; which
SBERT checkpoint CycleReward used is not verified here, pass ``sbert=MODEL`` to choose). Embeddings
are L2-normalised by ``encode(normalize_embeddings=True)``, so the cosine is their dot product. Texts
longer than the model's ``max_seq_length`` are cut by it; how many were cut is recorded.
"""

from __future__ import annotations

from typing import Any

from unified_bench.scorers.base import TextPairScorer
from unified_bench.scorers.registry import BuildContext
from unified_bench.scorers.weights import ResolvedWeights, config_digest, resolve_pretrained_dir

SBERT_MODEL_ID = "sentence-transformers/all-mpnet-base-v2"


class SbertScorer(TextPairScorer):
    name = "sbert"

    def __init__(self, model: Any, weights: ResolvedWeights, batch_size: int = 32) -> None:
        self.model = model  # a sentence_transformers.SentenceTransformer
        self.weights = weights
        self.batch_size = batch_size
        self._truncated = {"prompts": 0, "captions": 0}

    @property
    def limit(self) -> int:
        return int(self.model.max_seq_length)

    def fingerprint(self) -> str:
        # The modules (transformer, pooling, normalisation) and the sequence limit change the numbers.
        modules = [type(module).__name__ for module in self.model]
        return (
            f"sbert:{self.weights.model_id}@{self.weights.short_sha}:{config_digest([modules, self.limit])}"
        )

    def _tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text)["input_ids"])

    def score_text_pairs(self, prompts: list[str], captions: list[str]) -> list[float | None]:
        self._truncated["prompts"] += sum(self._tokens(p) > self.limit for p in prompts)
        self._truncated["captions"] += sum(self._tokens(c) > self.limit for c in captions)
        a, b = (
            self.model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            .double()
            .cpu()
            for texts in (prompts, captions)
        )
        return (a * b).sum(dim=-1).tolist()

    def truncation(self) -> dict[str, int]:
        return {**self._truncated, "limit": self.limit}


def build_sbert_scorer(model: str | None, context: BuildContext) -> SbertScorer:
    from unified_bench.loading import require_package
    from unified_bench.torch_utils import resolve_device

    sentence_transformers = require_package(
        "sentence_transformers", package="sentence-transformers", purpose="scorer sbert", extra="sbert"
    )
    weights = resolve_pretrained_dir(model or SBERT_MODEL_ID, scorer="sbert")
    device = str(resolve_device(context.device))
    loaded = context.shared(
        ("sbert", str(weights.path), device),
        lambda: sentence_transformers.SentenceTransformer(str(weights.path), device=device).eval(),
    )
    return SbertScorer(loaded, weights)
