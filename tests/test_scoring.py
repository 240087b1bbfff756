"""The scoring engine and the embedding cache: what is computed, what is reused, what is skipped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests._tiny_scorers import fresh_cache, image_sha, make_items, random_images, tiny_specs
from unified_bench.scorers import build_scorers
from unified_bench.scorers.cache import EmbeddingCache
from unified_bench.scoring import ScoringItem, score_items

__all__ = ["fresh_cache", "tiny_specs"]  # pytest fixtures, used by name


class ImagesSeen:
    """Counts the images that go through a module's forward (a real hook on the real model)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.count = 0
        module.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs) -> None:
        pixel_values = kwargs.get("pixel_values", args[0] if args else None)
        self.count += pixel_values.shape[0]


@pytest.fixture
def clip_scorer(tiny_specs, fresh_cache):
    [scorer] = build_scorers([f"clip={tiny_specs['clip']}"], device="cpu")
    return scorer


def test_every_scorer_reports_every_sample(tiny_specs, fresh_cache):
    specs = [f"clip={tiny_specs['clip']}", "ssim", "caption_words", "bleu4"]
    items = make_items(3)
    table = score_items(items, build_scorers(specs, device="cpu"), batch_size=2)
    assert list(table) == ["clip", "ssim", "caption_words", "bleu4"]
    for values in table.values():
        assert list(values) == [item.id for item in items]
    assert table["bleu4"]["sample-1"] is None  # no reference captions
    assert all(isinstance(table["clip"][item.id], float) for item in items)


def test_embedding_score_is_the_cosine_of_reference_and_reconstruction_embeddings(clip_scorer):
    items = make_items(3)
    table = score_items(items, [clip_scorer], batch_size=2)
    references = clip_scorer.embed([item.reference for item in items])
    reconstructions = clip_scorer.embed([item.reconstruction for item in items])
    expected = torch.nn.functional.cosine_similarity(references, reconstructions).tolist()
    assert [table["clip"][item.id] for item in items] == pytest.approx(expected, abs=1e-5)


def test_scores_do_not_depend_on_batch_size(clip_scorer):
    items = make_items(5)
    one = score_items(items, [clip_scorer], batch_size=1)["clip"]
    four = score_items(items, [clip_scorer], batch_size=4)["clip"]
    assert list(one) == list(four)
    assert list(one.values()) == pytest.approx(list(four.values()), abs=1e-5)


def test_warm_reference_cache_embeds_only_reconstructions(clip_scorer, tmp_path):
    cache = EmbeddingCache(tmp_path / "embeddings")
    seen = ImagesSeen(clip_scorer.model.vision_model)
    first_model = make_items(4, seed=1)
    cold = score_items(first_model, [clip_scorer], batch_size=3, cache=cache)
    assert seen.count == 8  # 4 references + 4 reconstructions
    cached_files = sorted(cache.folder(clip_scorer.fingerprint()).glob("*.npy"))
    assert [f.stem for f in cached_files] == sorted(item.reference_sha256 for item in first_model)

    seen.count = 0
    second_model = make_items(4, seed=2)  # same dataset, another model's reconstructions
    score_items(second_model, [clip_scorer], batch_size=3, cache=cache)
    assert seen.count == 4  # references came from disk

    seen.count = 0
    rescored = score_items(first_model, [clip_scorer], batch_size=3, cache=cache)
    assert rescored == cold  # a cached embedding gives exactly the score a fresh one gave


def test_a_reference_shared_by_two_samples_is_embedded_once(clip_scorer):
    items = make_items(3)
    shared = ScoringItem(
        id="sample-copy",
        reference=items[0].reference,
        reference_sha256=items[0].reference_sha256,
        reconstruction=items[1].reconstruction,
        reconstruction_sha256=items[1].reconstruction_sha256,
    )
    seen = ImagesSeen(clip_scorer.model.vision_model)
    score_items([*items, shared], [clip_scorer], batch_size=8)
    assert seen.count == 3 + 4


def test_clipscore_reuses_the_reference_embeddings_clip_computed(tiny_specs, fresh_cache):
    clip, clipscore = build_scorers(
        [f"clip={tiny_specs['clip']}", f"clipscore={tiny_specs['clip']}"], device="cpu"
    )
    items = make_items(3)
    seen = ImagesSeen(clip.model.vision_model)
    table = score_items(items, [clip, clipscore], batch_size=4)
    assert seen.count == 6  # clip's references + reconstructions; clipscore embedded no image
    direct = clipscore.score_captions([i.caption for i in items], [i.reference for i in items], [None] * 3)
    assert [table["clipscore"][i.id] for i in items] == pytest.approx(direct, abs=1e-5)


def test_caption_scorers_give_none_when_samples_have_no_caption(tiny_specs, fresh_cache):
    scorers = build_scorers([f"clipscore={tiny_specs['clip']}", "caption_words", "cider"], device="cpu")
    table = score_items(make_items(2, captions=False), scorers)
    assert all(value is None for values in table.values() for value in values.values())


def test_cider_sees_the_whole_set_of_captioned_samples(fresh_cache):
    [cider] = build_scorers(["cider"])
    items = make_items(4)
    table = score_items(items, [cider], batch_size=1)
    with_refs = [item for item in items if item.reference_captions]
    corpus = cider.score_captions(
        [i.caption for i in with_refs],
        [i.reference for i in with_refs],
        [i.reference_captions for i in with_refs],
    )
    alone = cider.score_captions(
        [with_refs[0].caption], [with_refs[0].reference], [with_refs[0].reference_captions]
    )
    assert [table["cider"][i.id] for i in with_refs] == pytest.approx(corpus)
    assert corpus[0] != pytest.approx(alone[0])  # computing per batch would change the numbers


def test_progress_increments_add_up_to_the_number_of_samples_per_scorer(tiny_specs, fresh_cache):
    scorers = build_scorers([f"clip={tiny_specs['clip']}", "psnr", "bleu4", "caption_tokens"], device="cpu")
    items = make_items(5)
    items[4] = ScoringItem(**{**items[4].__dict__, "caption": None})
    events: list[tuple[str, int]] = []
    score_items(items, scorers, batch_size=2, on_progress=lambda name, n: events.append((name, n)))
    for name in ("clip", "psnr", "bleu4", "caption_tokens"):
        assert sum(n for scorer, n in events if scorer == name) == 5
    assert [n for scorer, n in events if scorer == "clip"] == [2, 2, 1]


def test_non_finite_values_become_none(fresh_cache):
    [ssim] = build_scorers(["ssim"])
    tiny = random_images(1, size=(2, 2))[0]
    item = ScoringItem("tiny", tiny, image_sha(tiny), tiny, image_sha(tiny))
    assert score_items([item], [ssim]) == {"ssim": {"tiny": None}}


def test_duplicate_sample_ids_are_a_programming_error(fresh_cache):
    items = make_items(2)
    with pytest.raises(ValueError, match="duplicate sample id"):
        score_items([items[0], items[0]], build_scorers(["psnr"]))


# --- the cache on its own --------------------------------------------------------------------------


def test_cache_layout_is_fingerprint_folder_then_image_sha(tmp_path):
    import hashlib

    cache = EmbeddingCache(tmp_path)
    row = np.array([0.6, 0.0, 0.8, 0.0], dtype=np.float32)  # rows are unit vectors
    cache.put("clip:model@sha256:abc:pre:float32", "ab" * 32, row)
    folder = tmp_path / hashlib.sha256(b"clip:model@sha256:abc:pre:float32").hexdigest()[:16]
    assert (folder / f"{'ab' * 32}.npy").is_file()
    assert (folder / "fingerprint.txt").read_text().strip() == "clip:model@sha256:abc:pre:float32"
    np.testing.assert_array_equal(cache.get("clip:model@sha256:abc:pre:float32", "ab" * 32), row)
    assert cache.get("another fingerprint", "ab" * 32) is None


def test_cache_default_root_follows_unified_bench_cache(fresh_cache):
    assert EmbeddingCache().root == fresh_cache / "embeddings"


def test_a_corrupt_cache_file_is_a_miss(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("fp", "cd" * 32, np.ones(3, dtype=np.float32))
    cache.path("fp", "cd" * 32).write_bytes(b"not a numpy file")
    assert cache.get("fp", "cd" * 32) is None


def test_cache_refuses_image_keys_that_are_not_hex_digests(tmp_path):
    with pytest.raises(ValueError, match="not a hex image digest"):
        EmbeddingCache(tmp_path).put("fp", "../../etc/passwd", np.ones(1, dtype=np.float32))


# --- tiny checkpoints ------------------------------------------------------------------------------


def test_tiny_weights_are_built_once_and_reused(fresh_cache):
    from unified_bench.scorers.tiny import ensure_tiny_scorer_weights

    first = ensure_tiny_scorer_weights()
    stamp = {name: (fresh_cache / path).stat().st_mtime_ns for name, path in first.items()}
    assert ensure_tiny_scorer_weights() == first
    assert {name: (fresh_cache / path).stat().st_mtime_ns for name, path in first.items()} == stamp
    leftovers = [p.name for p in (fresh_cache / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the staging folder was renamed into place


def test_tiny_weights_from_another_process_win_a_race(fresh_cache):
    from unified_bench.scorers import tiny

    specs = tiny.ensure_tiny_scorer_weights()
    staging = fresh_cache / "models" / ".late-builder"
    staging.mkdir()
    tiny._publish(staging, fresh_cache / "models" / tiny.TINY_DIRNAME)  # a second, late finisher
    assert staging.exists()  # not renamed over the complete build (the caller deletes it)
    assert all((fresh_cache / path).exists() for path in specs.values())
