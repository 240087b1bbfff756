"""The round trip: caption each reference (I2T), draw it back from the caption (T2I), store both.

Batch by batch, writing as each batch finishes, so a killed run resumes where it stopped. Only the
current batch's references are decoded (and the next one's, in a background thread).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PIL import Image

from unified_bench.adapter import Adapter, Capabilities, capabilities
from unified_bench.datasets.base import Sample
from unified_bench.errors import UserError
from unified_bench.prefetch import DEFAULT_DEPTH, prefetched
from unified_bench.seeds import sample_seed
from unified_bench.store import CaptionRecord, RunStore

ProgressCallback = Callable[[str, int], None]  # (stage, samples finished in this step)


class AdapterOutputError(UserError):
    """An adapter returned the wrong number or type of outputs."""


def pending_samples(samples: Sequence[tuple[int, Sample]], store: RunStore) -> list[tuple[int, Sample]]:
    """The (index, sample) pairs that still lack a caption or an image."""
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
        to_caption = [(index, s, image) for index, s, image in batch if s.id not in captions]
        if to_caption:
            seeds = [sample_seed(run_seed, s.id, "caption") for _, s, _ in to_caption]
            ids = {"ids": [s.id for _, s, _ in to_caption]} if declared.takes_sample_ids else {}
            texts = adapter.caption([image for _, _, image in to_caption], seeds=seeds, **ids)
            _check_outputs("caption", texts, len(to_caption), str)
            records = [
                CaptionRecord(id=s.id, index=index, caption=text, seed=seed)
                for (index, s, _), text, seed in zip(to_caption, texts, seeds, strict=True)
            ]
            store.append_captions(records)
            captions.update({r.id: r for r in records})
            if on_progress:
                on_progress("caption", len(records))
        to_draw = [(s, image) for _, s, image in batch if not store.has_image(s.id)]
        if to_draw:
            seeds = [sample_seed(run_seed, s.id, "generate") for s, _ in to_draw]
            extra: dict[str, list] = {"ids": [s.id for s, _ in to_draw]} if declared.takes_sample_ids else {}
            if declared.generate_needs_references:  # protocol native
                extra["references"] = [image for _, image in to_draw]
            images = adapter.generate(
                [captions[s.id].caption for s, _ in to_draw], seeds=seeds, size=size, **extra
            )
            _check_outputs("generate", images, len(to_draw), Image.Image)
            # Before the images: a sample counts as done once its image exists.
            drawn = [s for s, _ in to_draw]
            _record_prompt_usage(declared, store, drawn, [captions[s.id].caption for s in drawn])
            for sample, image in zip(drawn, images, strict=True):
                store.write_image(sample.id, image)
        if on_progress:
            on_progress("generate", len(batch))


def _record_prompt_usage(
    declared: Capabilities, store: RunStore, samples: Sequence[Sample], prompts: list[str]
) -> None:
    """Store what an adapter says its generator read of each caption (``ReportsPromptUsage``)."""
    usage = declared.prompt_usage(prompts) if declared.prompt_usage is not None else None
    if usage:
        store.append_prompt_usage({s.id: u for s, u in zip(samples, usage, strict=True)})


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
