"""t2i2t scorers: the caption of a drawn image against the prompt it was drawn from.

* ``longclip_t2t`` (the t2i2t primary): cosine of the Long-CLIP text embeddings (248 tokens) of the
  prompt and the caption, on the same weights, loading and tokenizer as ``longclip``/``longclipscore``;
* ``clip_t2t``: the same with CLIP-L/14's text tower (77 tokens); texts cut at 77 tokens are counted;
* ``quoted_text`` / ``quoted_text_edit``: each ``"..."`` span of the prompt (text to be rendered)
  looked up in the caption, see ``unified_bench.scorers.quoted``.
"""

from __future__ import annotations

from typing import Any

from unified_bench.scorers.base import TextPairScorer
from unified_bench.scorers.registry import BuildContext, reject_model
from unified_bench.scorers.text_image import ImageTextScorer


class TextEmbeddingScorer(TextPairScorer):
    """Cosine of the prompt's and the caption's text embeddings from one text tower."""

    def __init__(
        self, name: str, text_scorer: ImageTextScorer, count_tokens: Any, limit: int, batch_size: int = 16
    ) -> None:
        self.name = name  # type: ignore[misc]  # one class, two registered names
        self.text_scorer = text_scorer
        self.count_tokens = count_tokens  # text -> tokens before truncation (start/end included)
        self.limit = limit
        self.batch_size = batch_size
        self._truncated = {"prompts": 0, "captions": 0}

    def fingerprint(self) -> str:
        _, rest = self.text_scorer.fingerprint().split(":", 1)
        return f"{self.name}:{rest}"

    def score_text_pairs(self, prompts: list[str], captions: list[str]) -> list[float | None]:
        self._truncated["prompts"] += sum(self.count_tokens(p) > self.limit for p in prompts)
        self._truncated["captions"] += sum(self.count_tokens(c) > self.limit for c in captions)
        embed = self.text_scorer.embed_texts
        a, b = embed(prompts), embed(captions)
        return (a.double() * b.double()).sum(dim=-1).tolist()

    def truncation(self) -> dict[str, int]:
        return {**self._truncated, "limit": self.limit}


def build_longclip_t2t_scorer(model: str | None, context: BuildContext) -> TextEmbeddingScorer:
    from unified_bench.scorers.longclip import build_longclipscore_scorer

    text_scorer = build_longclipscore_scorer(model, context)
    tokenizer = text_scorer.tokenizer
    return TextEmbeddingScorer(
        "longclip_t2t",
        text_scorer,
        lambda text: len(tokenizer.encode(text)) + 2,
        text_scorer.context_length,
    )


def build_clip_t2t_scorer(model: str | None, context: BuildContext) -> TextEmbeddingScorer:
    from unified_bench.scorers.clip import CLIP_TEXT_TOKENS, build_clipscore_scorer

    text_scorer = build_clipscore_scorer(model, context)
    tokenizer = text_scorer.tokenizer
    return TextEmbeddingScorer(
        "clip_t2t", text_scorer, lambda text: len(tokenizer(text)["input_ids"]), CLIP_TEXT_TOKENS
    )


class QuotedTextScorer(TextPairScorer):
    """``quoted_text``: share of the prompt's quoted spans found in the caption; ``quoted_text_edit``:
    mean normalised edit similarity of each span to its closest stretch of the caption. Prompts
    without a quoted span are not scored (``None``)."""

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]

    def fingerprint(self) -> str:
        from unified_bench.scorers.quoted import QUOTED_VERSION

        return f"{self.name}:{QUOTED_VERSION}"

    def score_text_pairs(self, prompts: list[str], captions: list[str]) -> list[float | None]:
        from unified_bench.scorers.quoted import quoted_edit_similarity, quoted_recall

        score = quoted_recall if self.name == "quoted_text" else quoted_edit_similarity
        return [score(prompt, caption) for prompt, caption in zip(prompts, captions, strict=True)]


def build_quoted_text_scorer(model: str | None, context: BuildContext) -> QuotedTextScorer:
    reject_model("quoted_text", model)
    return QuotedTextScorer("quoted_text")


def build_quoted_text_edit_scorer(model: str | None, context: BuildContext) -> QuotedTextScorer:
    reject_model("quoted_text_edit", model)
    return QuotedTextScorer("quoted_text_edit")
