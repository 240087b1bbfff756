"""The scoring engine: (reference, reconstruction, caption) items x scorers -> one value per sample.

The caller decodes every image once; all scorers share those images. Per scorer:

* embedding scorers embed references and reconstructions in batches of ``batch_size``; reference
  embeddings go through the ``EmbeddingCache`` (and an in-memory table for this call), so a
  reference is embedded at most once per scorer fingerprint, whichever model is being scored;
* pixel scorers compare each reconstruction with its reference, in batches;
* caption-image scorers (``clipscore``) reuse the same reference embeddings and embed captions;
* other caption scorers get every captioned sample in one call (CIDEr's IDF needs the corpus).

A sample a scorer cannot score (no caption, no reference captions, a non-finite value) gets
``None``. Importing this module does not import torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from PIL import Image

if TYPE_CHECKING:
    import torch

    from unified_bench.scorers.base import CaptionScorer, EmbeddingScorer, PairwiseScorer, Scorer
    from unified_bench.scorers.cache import EmbeddingCache
    from unified_bench.scorers.text_image import ImageTextScorer

T = TypeVar("T")
Progress = Callable[[str, int], None]
ScoreTable = dict[str, dict[str, float | None]]


@dataclass(frozen=True)
class ScoringItem:
    """One sample to score: its reference, its reconstruction and (optionally) captions."""

    id: str
    reference: Image.Image = field(repr=False, compare=False)
    reference_sha256: str
    reconstruction: Image.Image = field(repr=False, compare=False)
    reconstruction_sha256: str
    caption: str | None = None
    reference_captions: tuple[str, ...] | None = None


def score_items(
    items: list[ScoringItem],
    scorers: list[Scorer],
    *,
    batch_size: int = 16,
    cache: EmbeddingCache | None = None,
    on_progress: Progress | None = None,
) -> ScoreTable:
    """Score every item with every scorer.

    Args:
        items: the samples; ids must be unique.
        scorers: built scorers (``unified_bench.scorers.build_scorers``); names must be unique.
        batch_size: images per model forward.
        cache: reference-embedding cache; ``None`` keeps embeddings for this call only.
        on_progress: called as ``on_progress(scorer_name, n)`` after each batch, ``n`` = samples
            just finished (an increment); per scorer the increments add up to ``len(items)``.

    Returns:
        ``{scorer name: {sample id: value or None}}``, every sample present for every scorer.
    """
    from unified_bench.scorers.base import CaptionScorer, EmbeddingScorer, PairwiseScorer
    from unified_bench.scorers.text_image import ImageTextScorer

    _check_unique([item.id for item in items], "sample id")
    _check_unique([scorer.name for scorer in scorers], "scorer name")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    progress = on_progress or (lambda name, count: None)
    references = _ReferenceEmbeddings(cache)
    table: ScoreTable = {}
    for scorer in scorers:
        if isinstance(scorer, EmbeddingScorer):
            values = _score_embedding(scorer, items, batch_size, references, progress)
        elif isinstance(scorer, PairwiseScorer):
            values = _score_pairwise(scorer, items, batch_size, progress)
        elif isinstance(scorer, ImageTextScorer):
            values = _score_image_text(scorer, items, batch_size, references, progress)
        elif isinstance(scorer, CaptionScorer):
            values = _score_captions(scorer, items, progress)
        else:
            raise TypeError(f"{type(scorer).__name__} is not an embedding, pairwise or caption scorer")
        table[scorer.name] = {item.id: _finite_or_none(values.get(item.id)) for item in items}
    return table


class _ReferenceEmbeddings:
    """Reference embeddings by (scorer fingerprint, image sha256): memory, then disk, then the model.

    Rows read from disk are checked against the width the model itself produces (``dims``), so a
    stale or damaged cache entry is recomputed instead of trusted.
    """

    def __init__(self, cache: EmbeddingCache | None) -> None:
        self.cache = cache
        self.known: dict[str, dict[str, torch.Tensor]] = {}
        self.dims: dict[str, int] = {}  # embedding width per fingerprint, as the model produced it

    def rows(
        self, scorer: EmbeddingScorer, chunk: Sequence[ScoringItem], *, dim: int | None = None
    ) -> list[torch.Tensor]:
        """One embedding per item of ``chunk``, embedding only what neither memory nor disk holds.

        Args:
            dim: the scorer's embedding width if the caller has just seen it (e.g. from the
                reconstructions' rows); otherwise learnt from the model before the cache is read.
        """
        import torch

        fingerprint = scorer.fingerprint()
        known = self.known.setdefault(fingerprint, {})
        if dim is not None:
            self.dims.setdefault(fingerprint, dim)
        missing: dict[str, Image.Image] = {}
        for item in chunk:
            if item.reference_sha256 not in known:
                missing.setdefault(item.reference_sha256, item.reference)
        if missing and self.cache is not None and fingerprint not in self.dims:
            first = next(iter(missing))  # one embedding from the model tells the width
            self._embed(scorer, fingerprint, {first: missing.pop(first)})
        if missing and self.cache is not None:
            cached = self.cache.get_many(fingerprint, list(missing), dim=self.dims[fingerprint])
            for sha, row in cached.items():
                known[sha] = torch.from_numpy(row)
                del missing[sha]
        if missing:
            self._embed(scorer, fingerprint, missing)
        return [known[item.reference_sha256] for item in chunk]

    def _embed(self, scorer: EmbeddingScorer, fingerprint: str, images: dict[str, Image.Image]) -> None:
        embedded = scorer.embed(list(images.values()))
        self.dims.setdefault(fingerprint, int(embedded.shape[-1]))
        for sha, row in zip(images, embedded, strict=True):
            self.known[fingerprint][sha] = row
            if self.cache is not None:
                self.cache.put(fingerprint, sha, row.numpy())


def _score_embedding(
    scorer: EmbeddingScorer,
    items: list[ScoringItem],
    batch_size: int,
    references: _ReferenceEmbeddings,
    progress: Progress,
) -> dict[str, float]:
    values: dict[str, float] = {}
    for chunk in _batches(items, batch_size):
        reconstruction_rows = scorer.embed([item.reconstruction for item in chunk])
        reference_rows = references.rows(scorer, chunk, dim=int(reconstruction_rows.shape[-1]))
        for item, ref, rec in zip(chunk, reference_rows, reconstruction_rows, strict=True):
            values[item.id] = _cosine(ref, rec)
        progress(scorer.name, len(chunk))
    return values


def _score_pairwise(
    scorer: PairwiseScorer, items: list[ScoringItem], batch_size: int, progress: Progress
) -> dict[str, float]:
    values: dict[str, float] = {}
    for chunk in _batches(items, batch_size):
        scores = scorer.pairwise([item.reconstruction for item in chunk], [item.reference for item in chunk])
        values.update(zip([item.id for item in chunk], scores.tolist(), strict=True))
        progress(scorer.name, len(chunk))
    return values


def _score_image_text(
    scorer: ImageTextScorer,
    items: list[ScoringItem],
    batch_size: int,
    references: _ReferenceEmbeddings,
    progress: Progress,
) -> dict[str, float]:
    import torch

    captioned = [item for item in items if item.caption is not None]
    values: dict[str, float] = {}
    for chunk in _batches(captioned, batch_size):
        image_rows = torch.stack(references.rows(scorer.image_embedder, chunk))
        scores = scorer.score_with_image_embeddings([item.caption or "" for item in chunk], image_rows)
        values.update(zip([item.id for item in chunk], scores, strict=True))
        progress(scorer.name, len(chunk))
    _report_skipped(scorer, len(items) - len(captioned), progress)
    return values


def _score_captions(
    scorer: CaptionScorer, items: list[ScoringItem], progress: Progress
) -> dict[str, float | None]:
    captioned = [item for item in items if item.caption is not None]
    if not captioned:
        _report_skipped(scorer, len(items), progress)
        return {}
    scores = scorer.score_captions(
        [item.caption or "" for item in captioned],
        [item.reference for item in captioned],
        [item.reference_captions for item in captioned],
    )
    progress(scorer.name, len(captioned))
    _report_skipped(scorer, len(items) - len(captioned), progress)
    return dict(zip([item.id for item in captioned], scores, strict=True))


def _report_skipped(scorer: Scorer, count: int, progress: Progress) -> None:
    if count:
        progress(scorer.name, count)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine of two L2-normalised rows (their dot product), summed in float64."""
    return float((a.double() * b.double()).sum())


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what}: {name!r}")
        seen.add(name)
