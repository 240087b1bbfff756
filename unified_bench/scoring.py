"""The scoring engine: (reference, reconstruction, caption) items x scorers -> one value per sample.

Items are streamed: the images of ``batch_size`` items are read and decoded (and, for embedding
scorers, preprocessed) in a background thread while the scorers run on the previous batch, and
every scorer takes its turn on a batch before the next one; each image is decoded once, and peak
memory depends on ``batch_size`` x prefetch depth, not on the number of items. Per scorer:

* embedding scorers embed references and reconstructions in batches of ``batch_size``; reference
  embeddings go through the ``EmbeddingCache`` (and an in-memory table for this call), so a
  reference is embedded at most once per scorer fingerprint, whichever model is being scored;
* pixel scorers compare each reconstruction with its reference, in batches;
* caption-image scorers (``clipscore``) reuse the same reference embeddings and embed captions, in
  batches of ``batch_size`` captioned items;
* other caption scorers get every captioned sample in one call (CIDEr's IDF needs the corpus);
  their reference images are decoded only if a scorer looks at them.

The batches each model sees are those of a plain per-scorer loop, so the numbers do not depend on
the streaming. A sample a scorer cannot score (no caption, no reference captions, a non-finite
value) gets ``None``. Importing this module does not import torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, Union

from PIL import Image

from unified_bench.prefetch import DEFAULT_DEPTH, prefetched

if TYPE_CHECKING:
    import torch

    from unified_bench.scorers.base import (
        CaptionScorer,
        EmbeddingScorer,
        PairwiseScorer,
        Scorer,
        TextPairScorer,
    )
    from unified_bench.scorers.cache import EmbeddingCache
    from unified_bench.scorers.text_image import ImageTextScorer

T = TypeVar("T")
Progress = Callable[[str, int], None]
ScoreTable = dict[str, dict[str, float | None]]
# A decoded image, or a function that reads and decodes it when its batch comes.
ImageInput = Union[Image.Image, Callable[[], Image.Image]]  # noqa: UP007 (a runtime alias on 3.10)


@dataclass(frozen=True)
class ScoringItem:
    """One sample to score: its reference, its reconstruction and (optionally) captions.

    ``reference`` and ``reconstruction`` are PIL images or zero-argument functions returning one
    (e.g. ``Sample.load_image``); functions are called when the item's batch is loaded.
    """

    id: str
    reference: ImageInput = field(repr=False, compare=False)
    reference_sha256: str
    reconstruction: ImageInput = field(repr=False, compare=False)
    reconstruction_sha256: str | None = None
    caption: str | None = None
    reference_captions: tuple[str, ...] | None = None
    # t2i2t: the prompt the image was drawn from. Then ``reference`` is the drawn image, text-image
    # scorers score the prompt against it, and text-pair scorers score the caption against the prompt.
    prompt: str | None = None

    @property
    def image_text(self) -> str | None:
        """The text an image-text scorer holds against ``reference``: the prompt, else the caption."""
        return self.prompt if self.prompt is not None else self.caption


def resolve_image(image: ImageInput) -> Image.Image:
    """The image itself, or the image its loader returns."""
    return image if isinstance(image, Image.Image) else image()


@dataclass
class _Loaded:
    """An item with its images decoded."""

    item: ScoringItem
    reference: Image.Image
    reconstruction: Image.Image


@dataclass
class _Prepared:
    """One embedding model's preprocessed inputs for a batch (``EmbeddingScorer.prepare``)."""

    reconstructions: Any
    reference_rows: dict[str, int]  # reference sha256 -> its row in ``references``
    references: Any | None  # only the references not yet embedded when the batch was loaded


@dataclass
class _Batch:
    """Decoded items of one batch, with each embedding model's preprocessed inputs by fingerprint."""

    loaded: list[_Loaded]
    prepared: dict[str, _Prepared] = field(default_factory=dict)


def score_items(
    items: list[ScoringItem],
    scorers: list[Scorer],
    *,
    batch_size: int = 16,
    cache: EmbeddingCache | None = None,
    on_progress: Progress | None = None,
    prefetch: int = DEFAULT_DEPTH,
) -> ScoreTable:
    """Score every item with every scorer.

    Args:
        items: the samples; ids must be unique.
        scorers: built scorers (``unified_bench.scorers.build_scorers``); names must be unique.
        batch_size: images per model forward.
        cache: reference-embedding cache; ``None`` keeps embeddings for this call only.
        on_progress: called as ``on_progress(scorer_name, n)`` after each batch, ``n`` = samples
            just finished (an increment); per scorer the increments add up to ``len(items)``.
        prefetch: batches loaded ahead in a background thread; 0 loads in this thread.

    Returns:
        ``{scorer name: {sample id: value or None}}``, every sample present for every scorer.
    """
    from unified_bench.scorers.base import CaptionScorer, EmbeddingScorer, PairwiseScorer, TextPairScorer
    from unified_bench.scorers.text_image import ImageTextScorer

    _check_unique([item.id for item in items], "sample id")
    _check_unique([scorer.name for scorer in scorers], "scorer name")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for scorer in scorers:
        if not isinstance(scorer, (EmbeddingScorer, PairwiseScorer, CaptionScorer, TextPairScorer)):
            raise TypeError(
                f"{type(scorer).__name__} is not an embedding, pairwise, caption or text-pair scorer"
            )
    progress = on_progress or (lambda name, count: None)
    references = _ReferenceEmbeddings(cache)
    values: dict[str, dict[str, float | None]] = {scorer.name: {} for scorer in scorers}
    image_text_queues: dict[str, list[_Loaded]] = {}
    embedders = _embedders_to_prepare(scorers)

    def load(chunk: Sequence[ScoringItem]) -> _Batch:
        batch = _Batch(
            [_Loaded(i, resolve_image(i.reference), resolve_image(i.reconstruction)) for i in chunk]
        )
        for embedder in embedders:
            batch.prepared[embedder.fingerprint()] = _prepare(embedder, batch.loaded, references)
        return batch

    for batch in prefetched(_batches(items, batch_size), load, depth=prefetch):
        for scorer in scorers:
            scored = values[scorer.name]
            if isinstance(scorer, EmbeddingScorer):
                scored.update(_score_embedding(scorer, batch, references))
                progress(scorer.name, len(batch.loaded))
            elif isinstance(scorer, PairwiseScorer):
                scored.update(_score_pairwise(scorer, batch.loaded))
                progress(scorer.name, len(batch.loaded))
            elif isinstance(scorer, ImageTextScorer):
                waiting = image_text_queues.setdefault(scorer.name, [])
                waiting.extend(entry for entry in batch.loaded if entry.item.image_text is not None)
                while len(waiting) >= batch_size:
                    chunk, waiting[:] = waiting[:batch_size], waiting[batch_size:]
                    scored.update(_score_image_text(scorer, chunk, references))
                    progress(scorer.name, len(chunk))
    for scorer in scorers:
        if isinstance(scorer, ImageTextScorer):
            waiting = image_text_queues.get(scorer.name, [])
            if waiting:
                values[scorer.name].update(_score_image_text(scorer, waiting, references))
                progress(scorer.name, len(waiting))
            _report_skipped(scorer, sum(item.image_text is None for item in items), progress)
        elif isinstance(scorer, CaptionScorer):
            values[scorer.name].update(_score_captions(scorer, items, progress))
        elif isinstance(scorer, TextPairScorer):
            values[scorer.name].update(_score_text_pairs(scorer, items, batch_size, progress))
    return {
        scorer.name: {item.id: _finite_or_none(values[scorer.name].get(item.id)) for item in items}
        for scorer in scorers
    }


def _embedders_to_prepare(scorers: Sequence[Scorer]) -> list[EmbeddingScorer]:
    """The embedding models whose inputs the loader preprocesses, one per fingerprint."""
    from unified_bench.scorers.base import EmbeddingScorer

    by_fingerprint: dict[str, EmbeddingScorer] = {}
    for scorer in scorers:
        if isinstance(scorer, EmbeddingScorer):
            by_fingerprint.setdefault(scorer.fingerprint(), scorer)
    return list(by_fingerprint.values())


def _prepare(embedder: EmbeddingScorer, loaded: list[_Loaded], references: _ReferenceEmbeddings) -> _Prepared:
    """Preprocess a batch's reconstructions, and the references that will probably need embedding."""
    reconstructions = embedder.prepare([entry.reconstruction for entry in loaded])
    rows: dict[str, int] = {}
    images: list[Image.Image] = []
    for entry in loaded:
        sha = entry.item.reference_sha256
        if sha not in rows and references.probably_missing(embedder.fingerprint(), sha):
            rows[sha] = len(images)
            images.append(entry.reference)
    return _Prepared(reconstructions, rows, embedder.prepare(images) if images else None)


class _ReferenceEmbeddings:
    """Reference embeddings by (scorer fingerprint, image sha256): memory, then disk, then the model.

    Rows read from disk are checked against the width the model itself produces (``dims``), so a
    stale or damaged cache entry is recomputed instead of trusted.
    """

    def __init__(self, cache: EmbeddingCache | None) -> None:
        self.cache = cache
        self.known: dict[str, dict[str, torch.Tensor]] = {}
        self.dims: dict[str, int] = {}  # embedding width per fingerprint, as the model produced it

    def probably_missing(self, fingerprint: str, sha: str) -> bool:
        """A hint for the loader thread: neither memory nor disk holds this embedding yet."""
        if sha in self.known.get(fingerprint, {}):
            return False
        return self.cache is None or not self.cache.path(fingerprint, sha).is_file()

    def rows(
        self,
        scorer: EmbeddingScorer,
        chunk: Sequence[_Loaded],
        prepared: _Prepared | None = None,
        *,
        dim: int | None = None,
    ) -> list[torch.Tensor]:
        """One embedding per item of ``chunk``, embedding only what neither memory nor disk holds.

        Args:
            prepared: the loader's preprocessed references, used when they hold every reference to
                embed (they give the same rows ``embed`` would compute).
            dim: the scorer's embedding width if the caller has just seen it (e.g. from the
                reconstructions' rows); otherwise learnt from the model before the cache is read.
        """
        import torch

        fingerprint = scorer.fingerprint()
        known = self.known.setdefault(fingerprint, {})
        if dim is not None:
            self.dims.setdefault(fingerprint, dim)
        missing: dict[str, Image.Image] = {}
        for entry in chunk:
            if entry.item.reference_sha256 not in known:
                missing.setdefault(entry.item.reference_sha256, entry.reference)
        if missing and self.cache is not None and fingerprint not in self.dims:
            first = next(iter(missing))  # one embedding from the model tells the width
            self._embed(scorer, fingerprint, {first: missing.pop(first)})
        if missing and self.cache is not None:
            cached = self.cache.get_many(fingerprint, list(missing), dim=self.dims[fingerprint])
            for sha, row in cached.items():
                known[sha] = torch.from_numpy(row)
                del missing[sha]
        if missing:
            self._embed(scorer, fingerprint, missing, prepared)
        return [known[entry.item.reference_sha256] for entry in chunk]

    def _embed(
        self,
        scorer: EmbeddingScorer,
        fingerprint: str,
        images: dict[str, Image.Image],
        prepared: _Prepared | None = None,
    ) -> None:
        if (
            prepared is not None
            and prepared.references is not None
            and images.keys() <= prepared.reference_rows.keys()
        ):
            rows = [prepared.reference_rows[sha] for sha in images]
            embedded = scorer.embed_prepared(_take_rows(prepared.references, rows))
        else:
            embedded = scorer.embed(list(images.values()))
        self.dims.setdefault(fingerprint, int(embedded.shape[-1]))
        for sha, row in zip(images, embedded, strict=True):
            self.known[fingerprint][sha] = row
            if self.cache is not None:
                self.cache.put(fingerprint, sha, row.numpy())


def _take_rows(prepared: Any, rows: list[int]) -> Any:
    """The given rows of a prepared batch (a tensor, or a list of images)."""
    if isinstance(prepared, list):
        return [prepared[row] for row in rows]
    if rows == list(range(len(prepared))):
        return prepared
    return prepared[rows]


def _score_embedding(
    scorer: EmbeddingScorer, batch: _Batch, references: _ReferenceEmbeddings
) -> dict[str, float]:
    prepared = batch.prepared.get(scorer.fingerprint())
    if prepared is not None:
        reconstruction_rows = scorer.embed_prepared(prepared.reconstructions)
    else:
        reconstruction_rows = scorer.embed([entry.reconstruction for entry in batch.loaded])
    # the reconstructions' width checks what the cache returns for the references
    reference_rows = references.rows(scorer, batch.loaded, prepared, dim=int(reconstruction_rows.shape[-1]))
    return {
        entry.item.id: _cosine(ref, rec)
        for entry, ref, rec in zip(batch.loaded, reference_rows, reconstruction_rows, strict=True)
    }


def _score_pairwise(scorer: PairwiseScorer, loaded: list[_Loaded]) -> dict[str, float]:
    scores = scorer.pairwise(
        [entry.reconstruction for entry in loaded], [entry.reference for entry in loaded]
    )
    return dict(zip([entry.item.id for entry in loaded], scores.tolist(), strict=True))


def _score_image_text(
    scorer: ImageTextScorer, chunk: list[_Loaded], references: _ReferenceEmbeddings
) -> dict[str, float]:
    import torch

    image_rows = torch.stack(references.rows(scorer.image_embedder, chunk))
    scores = scorer.score_with_image_embeddings([entry.item.image_text or "" for entry in chunk], image_rows)
    return dict(zip([entry.item.id for entry in chunk], scores, strict=True))


class _LazyImages(Sequence[Image.Image]):
    """Reference images decoded only when a caption scorer indexes them."""

    def __init__(self, items: Sequence[ScoringItem]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [resolve_image(item.reference) for item in self.items[index]]
        return resolve_image(self.items[index].reference)


def _score_captions(
    scorer: CaptionScorer, items: list[ScoringItem], progress: Progress
) -> dict[str, float | None]:
    captioned = [item for item in items if item.caption is not None]
    if not captioned:
        _report_skipped(scorer, len(items), progress)
        return {}
    scores = scorer.score_captions(
        [item.caption or "" for item in captioned],
        _LazyImages(captioned),  # type: ignore[arg-type]
        [item.reference_captions for item in captioned],
    )
    progress(scorer.name, len(captioned))
    _report_skipped(scorer, len(items) - len(captioned), progress)
    return dict(zip([item.id for item in captioned], scores, strict=True))


def _score_text_pairs(
    scorer: TextPairScorer, items: list[ScoringItem], batch_size: int, progress: Progress
) -> dict[str, float | None]:
    """Caption against prompt, ``batch_size`` pairs per call; items without both are skipped."""
    paired = [item for item in items if item.prompt is not None and item.caption is not None]
    scored: dict[str, float | None] = {}
    for chunk in _batches(paired, batch_size):
        values = scorer.score_text_pairs([i.prompt or "" for i in chunk], [i.caption or "" for i in chunk])
        scored.update(zip([item.id for item in chunk], values, strict=True))
        progress(scorer.name, len(chunk))
    _report_skipped(scorer, len(items) - len(paired), progress)
    return scored


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
