"""Caption scorers that need no vision model: length, and BLEU-4 / ROUGE-L / CIDEr vs references.

BLEU, ROUGE-L and CIDEr are pycocoevalcap's pure-Python scorers; its ``PTBTokenizer`` needs Java,
so captions go through ``functional.coco_tokenize`` instead (lower-case, punctuation dropped).
CIDEr weighs n-grams by their document frequency over all reference sets, so it must see the
whole set at once: the engine passes every captioned sample in one call. A sample without
reference captions gets ``None`` and is left out of that corpus.
"""

from __future__ import annotations

from typing import Any, ClassVar

from PIL import Image

from unified_bench.scorers.base import CaptionScorer
from unified_bench.scorers.functional import caption_words, coco_tokenize
from unified_bench.scorers.registry import BuildContext, reject_model


class CaptionLengthScorer(CaptionScorer):
    """A caption statistic, reported for context (UAE's captions grow during RL), not a quality score."""

    informational: ClassVar[bool] = True


class CaptionWordsScorer(CaptionLengthScorer):
    """Number of whitespace-separated words."""

    name = "caption_words"

    def fingerprint(self) -> str:
        return "caption_words:whitespace-split"

    def score_captions(
        self, captions: list[str], images: list[Image.Image], references: list[tuple[str, ...] | None]
    ) -> list[float | None]:
        return [float(caption_words(caption)) for caption in captions]


class CaptionTokensScorer(CaptionLengthScorer):
    """Number of CLIP BPE tokens (OpenAI's vocabulary, bundled with open_clip).

    Start/end tokens are not counted and nothing is truncated.
    """

    name = "caption_tokens"

    def __init__(self) -> None:
        from open_clip.tokenizer import SimpleTokenizer

        self.tokenizer = SimpleTokenizer()

    def fingerprint(self) -> str:
        return f"caption_tokens:openai-clip-bpe-{len(self.tokenizer.encoder)}"

    def score_captions(
        self, captions: list[str], images: list[Image.Image], references: list[tuple[str, ...] | None]
    ) -> list[float | None]:
        return [float(len(self.tokenizer.encode(caption))) for caption in captions]


class CocoCaptionScorer(CaptionScorer):
    """A pycocoevalcap scorer applied to the samples that have reference captions."""

    metric: ClassVar[str]

    def fingerprint(self) -> str:
        from importlib.metadata import version

        return f"{self.name}:pycocoevalcap-{version('pycocoevalcap')}@{self.metric}:lower-alnum-tokens"

    def new_scorer(self) -> Any:
        """A fresh pycocoevalcap scorer object."""
        raise NotImplementedError

    def per_sample(self, scorer: Any, gts: dict[int, list[str]], res: dict[int, list[str]]) -> list[float]:
        _, scores = scorer.compute_score(gts, res)
        return [float(value) for value in scores]

    def score_captions(
        self, captions: list[str], images: list[Image.Image], references: list[tuple[str, ...] | None]
    ) -> list[float | None]:
        scored = [i for i, refs in enumerate(references) if refs]
        results: list[float | None] = [None] * len(captions)
        if not scored:
            return results
        gts = {i: [coco_tokenize(ref) for ref in references[i]] for i in scored}  # type: ignore[union-attr]
        res = {i: [coco_tokenize(captions[i])] for i in scored}
        for i, value in zip(scored, self.per_sample(self.new_scorer(), gts, res), strict=True):
            results[i] = value
        return results


class Bleu4Scorer(CocoCaptionScorer):
    """Per-sample BLEU-4 (pycocoevalcap, 'closest' reference length)."""

    name = "bleu4"
    metric = "Bleu4-closest"

    def new_scorer(self) -> Any:
        from pycocoevalcap.bleu.bleu import Bleu

        return Bleu(4)

    def per_sample(self, scorer: Any, gts: dict[int, list[str]], res: dict[int, list[str]]) -> list[float]:
        _, scores = scorer.compute_score(gts, res, verbose=0)
        return [float(value) for value in scores[3]]  # scores[n-1] holds BLEU-n per sample


class RougeLScorer(CocoCaptionScorer):
    """Per-sample ROUGE-L F-measure (beta 1.2, best over references)."""

    name = "rougeL"
    metric = "RougeL-beta1.2"

    def new_scorer(self) -> Any:
        from pycocoevalcap.rouge.rouge import Rouge

        return Rouge()


class CiderScorer(CocoCaptionScorer):
    """Per-sample CIDEr (n = 1..4, sigma 6), IDF over the reference sets of the whole call."""

    name = "cider"
    metric = "CIDEr-n4-sigma6-corpus"

    def new_scorer(self) -> Any:
        from pycocoevalcap.cider.cider import Cider

        return Cider()


def build_caption_words_scorer(model: str | None, context: BuildContext) -> CaptionWordsScorer:
    reject_model("caption_words", model)
    return CaptionWordsScorer()


def build_caption_tokens_scorer(model: str | None, context: BuildContext) -> CaptionTokensScorer:
    reject_model("caption_tokens", model)
    return CaptionTokensScorer()


def build_bleu4_scorer(model: str | None, context: BuildContext) -> Bleu4Scorer:
    reject_model("bleu4", model)
    return Bleu4Scorer()


def build_rouge_l_scorer(model: str | None, context: BuildContext) -> RougeLScorer:
    reject_model("rougeL", model)
    return RougeLScorer()


def build_cider_scorer(model: str | None, context: BuildContext) -> CiderScorer:
    reject_model("cider", model)
    return CiderScorer()
