"""The round trips: i2t2i (caption each reference, draw it back) and t2i2t (draw each prompt, caption it).

Batch by batch, writing as each batch finishes, so a killed run resumes where it stopped. Only the
current batch's references are decoded (and the next one's, in a background thread).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from PIL import Image

from unified_bench.adapter import Adapter, Capabilities, capabilities
from unified_bench.datasets.base import Sample
from unified_bench.datasets.prompts import PromptSample
from unified_bench.errors import UserError
from unified_bench.images import read_image
from unified_bench.prefetch import DEFAULT_DEPTH, prefetched
from unified_bench.seeds import sample_seed
from unified_bench.store import CaptionRecord, RunStore

S = TypeVar("S", Sample, PromptSample)
ProgressCallback = Callable[[str, int], None]  # (stage, samples finished in this step)


class AdapterOutputError(UserError):
    """An adapter returned the wrong number or type of outputs."""


def pending_samples(samples: Sequence[tuple[int, S]], store: RunStore) -> list[tuple[int, S]]:
    """The (index, sample) pairs that still lack a caption or an image (either direction)."""
    captioned = store.captions()
    return [(i, s) for i, s in samples if s.id not in captioned or not store.has_image(s.id)]


def run_round_trip(
    adapter: Adapter,
    samples: Sequence[tuple[int, Sample]],
    store: RunStore,
    *,
    run_seed: int,
    batch_size: int,
    size: tuple[int, int] | None = None,
    on_progress: ProgressCallback | None = None,
    prefetch: int = DEFAULT_DEPTH,
    halve_on_oom: bool = False,
    on_note: Callable[[str], None] | None = None,
) -> int:
    """Caption and regenerate every sample that is not finished yet; returns the batch size used last.

    Args:
        samples: (dataset index, sample) pairs; the index is recorded so merged shards keep dataset order.
        batch_size: samples per adapter call. Outputs do not depend on it: every sample draws its
            randomness from ``sample_seed(run_seed, id, stage)``.
        prefetch: batches of references decoded ahead in a background thread (0: none).
        halve_on_oom: ``--batch-size auto``: on out-of-memory, halve the batch size and go on with
            what is not finished (finished samples are stored; outputs never depend on the size).
    """
    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size}: must be at least 1.")
    while True:
        try:
            _round_trip(adapter, samples, store, run_seed, batch_size, size, on_progress, prefetch)
            return batch_size
        except Exception as error:
            if not (halve_on_oom and batch_size > 1 and type(error).__name__ == "OutOfMemoryError"):
                raise
        batch_size //= 2
        _free_accelerator_memory()
        if on_note:
            on_note(f"out of memory: --batch-size auto goes on with batches of {batch_size}")


def _free_accelerator_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _round_trip(
    adapter: Adapter,
    samples: Sequence[tuple[int, Sample]],
    store: RunStore,
    run_seed: int,
    batch_size: int,
    size: tuple[int, int] | None,
    on_progress: ProgressCallback | None,
    prefetch: int,
) -> None:
    captions = store.captions()
    declared = capabilities(adapter)  # the optional keywords and hooks, looked up once
    todo = pending_samples(samples, store)

    def decode(batch: Sequence[tuple[int, Sample]]) -> list[tuple[int, Sample, Image.Image]]:
        return [(index, sample, sample.load_image()) for index, sample in batch]

    # The next batch's references are read and decoded while the adapter works on this one.
    batches = (todo[start : start + batch_size] for start in range(0, len(todo), batch_size))
    for batch in prefetched(batches, decode, depth=prefetch):
        to_caption = [(index, s.id, image) for index, s, image in batch if s.id not in captions]
        if to_caption:
            _caption_step(adapter, declared, to_caption, store, captions, run_seed)
            if on_progress:
                on_progress("caption", len(to_caption))
        to_draw = [
            (s.id, captions[s.id].caption, image) for _, s, image in batch if not store.has_image(s.id)
        ]
        if to_draw:
            _generate_step(adapter, declared, to_draw, store, run_seed, size)
        if on_progress:
            on_progress("generate", len(batch))


def run_prompt_round_trip(
    adapter: Adapter,
    samples: Sequence[tuple[int, PromptSample]],
    store: RunStore,
    *,
    run_seed: int,
    batch_size: int,
    size: tuple[int, int] | None = None,
    on_progress: ProgressCallback | None = None,
) -> None:
    """``t2i2t``: draw every prompt, then caption the drawing; resume what is finished.

    The image is written first and the caption is computed from the PNG read back from the store,
    so a resumed run captions exactly the bytes an uninterrupted one did. Seeds as in
    ``run_round_trip``: ``sample_seed(run_seed, id, stage)``, never the batch.
    """
    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size}: must be at least 1.")
    declared = capabilities(adapter)
    if declared.generate_needs_references:
        raise UserError(
            "--protocol native: t2i2t starts from a prompt, so there is no reference image to hand the "
            "generator; use --protocol text."
        )
    captions = store.captions()
    todo = pending_samples(samples, store)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        to_draw = [(s.id, s.prompt, None) for _, s in batch if not store.has_image(s.id)]
        if to_draw:
            _generate_step(adapter, declared, to_draw, store, run_seed, size)
        if on_progress:
            on_progress("generate", len(batch))
        to_caption = [
            (index, s.id, read_image(store.image_path(s.id))[0]) for index, s in batch if s.id not in captions
        ]
        if to_caption:
            _caption_step(adapter, declared, to_caption, store, captions, run_seed)
        if on_progress:
            on_progress("caption", len(batch))


def _caption_step(
    adapter: Adapter,
    declared: Capabilities,
    items: Sequence[tuple[int, str, Image.Image]],
    store: RunStore,
    captions: dict[str, CaptionRecord],
    run_seed: int,
) -> None:
    """Caption (dataset index, id, image) items and append their records (``captions`` too)."""
    seeds = [sample_seed(run_seed, sample_id, "caption") for _, sample_id, _ in items]
    ids = {"ids": [sample_id for _, sample_id, _ in items]} if declared.takes_sample_ids else {}
    texts = adapter.caption([image for _, _, image in items], seeds=seeds, **ids)
    _check_outputs("caption", texts, len(items), str)
    records = [
        CaptionRecord(id=sample_id, index=index, caption=text, seed=seed)
        for (index, sample_id, _), text, seed in zip(items, texts, seeds, strict=True)
    ]
    store.append_captions(records)
    captions.update({r.id: r for r in records})


def _generate_step(
    adapter: Adapter,
    declared: Capabilities,
    items: Sequence[tuple[str, str, Image.Image | None]],
    store: RunStore,
    run_seed: int,
    size: tuple[int, int] | None,
) -> None:
    """Draw (id, prompt, reference or None) items and write one image each."""
    seeds = [sample_seed(run_seed, sample_id, "generate") for sample_id, _, _ in items]
    extra: dict[str, list] = (
        {"ids": [sample_id for sample_id, _, _ in items]} if declared.takes_sample_ids else {}
    )
    if declared.generate_needs_references:  # protocol native (i2t2i only)
        extra["references"] = [reference for _, _, reference in items]
    prompts = [prompt for _, prompt, _ in items]
    images = adapter.generate(prompts, seeds=seeds, size=size, **extra)
    _check_outputs("generate", images, len(items), Image.Image)
    # Before the images: a sample's image is what marks its generation done.
    usage = declared.prompt_usage(prompts) if declared.prompt_usage is not None else None
    if usage:
        store.append_prompt_usage({sample_id: u for (sample_id, _, _), u in zip(items, usage, strict=True)})
    for (sample_id, _, _), image in zip(items, images, strict=True):
        store.write_image(sample_id, image)


def _check_outputs(stage: str, outputs: object, expected: int, kind: type) -> None:
    if (
        not isinstance(outputs, list)
        or len(outputs) != expected
        or not all(isinstance(o, kind) for o in outputs)
    ):
        got = (
            f"{type(outputs).__name__} of {len(outputs)}"
            if isinstance(outputs, list)
            else type(outputs).__name__
        )
        raise AdapterOutputError(
            f"adapter.{stage} returned {got}; expected a list of {expected} {kind.__name__}."
        )
