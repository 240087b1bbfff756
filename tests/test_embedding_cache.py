"""The embedding cache is never trusted: every bad entry is recomputed and rewritten, and the scores
equal those of a run with a clean cache; a cache that cannot be written is turned off with one warning.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from tests._tiny_scorers import fresh_cache, make_items, tiny_specs
from unified_bench.scorers import build_scorers
from unified_bench.scorers.cache import EmbeddingCache, row_problem
from unified_bench.scoring import score_items

__all__ = ["fresh_cache", "tiny_specs"]  # pytest fixtures, used by name

N_ITEMS = 4


@pytest.fixture(scope="module")
def scorers(tiny_specs):
    """clip (embedding) and clipscore (caption vs the same cached image embeddings)."""
    return build_scorers([f"clip={tiny_specs['clip']}", f"clipscore={tiny_specs['clip']}"], device="cpu")


@pytest.fixture(scope="module")
def clean(scorers):
    """Scores computed with no cache at all: the yardstick."""
    return score_items(make_items(N_ITEMS), scorers, batch_size=3, cache=None)


def _assert_same_scores(table: dict, expected: dict) -> None:
    """Equal up to float32 rounding: a recomputed row comes from a smaller batch than the clean run's."""
    assert {name: list(values) for name, values in table.items()} == {
        name: list(values) for name, values in expected.items()
    }
    for name, values in expected.items():
        assert list(table[name].values()) == pytest.approx(list(values.values()), abs=1e-6), name


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _unit(width: int, seed: int = 0) -> np.ndarray:
    row = np.random.default_rng(seed).standard_normal(width)
    return (row / np.linalg.norm(row)).astype(np.float32)


# Each corruption gets the good row (to derive a plausible wrong one) and writes over the entry.
CORRUPTIONS = {
    "truncated file": lambda path, good: path.write_bytes(_npy(good)[:60]),
    "not a numpy file": lambda path, good: path.write_bytes(b"garbage"),
    "float64 row": lambda path, good: path.write_bytes(_npy(good.astype(np.float64))),
    "one-element row": lambda path, good: path.write_bytes(_npy(np.ones(1, dtype=np.float32))),
    "shorter unit row": lambda path, good: path.write_bytes(_npy(_unit(good.size - 1))),
    "two-dimensional": lambda path, good: path.write_bytes(_npy(good.reshape(1, -1))),
    "NaN row": lambda path, good: path.write_bytes(_npy(np.full_like(good, np.nan))),
    "zero row": lambda path, good: path.write_bytes(_npy(np.zeros_like(good))),
    "not unit norm": lambda path, good: path.write_bytes(_npy(good * 2)),
    "pickled object": lambda path, good: path.write_bytes(_npy(np.array([good], dtype=object))),
    "empty file": lambda path, good: path.write_bytes(b""),
    "folder in its place": lambda path, good: (path.unlink(), path.mkdir(), (path / "x").write_text("x")),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_each_corrupt_entry_is_recomputed_and_rewritten_and_scores_equal_a_clean_run(
    kind, scorers, clean, tmp_path
):
    items = make_items(N_ITEMS)
    clip = scorers[0]
    score_items(items, scorers, batch_size=3, cache=EmbeddingCache(tmp_path))  # fill the cache
    victim = items[1].reference_sha256
    path = EmbeddingCache(tmp_path).path(clip.fingerprint(), victim)
    good = np.load(path)
    CORRUPTIONS[kind](path, good)

    notes: list[str] = []
    cache = EmbeddingCache(tmp_path, notify=notes.append)
    rescored = score_items(items, scorers, batch_size=3, cache=cache)

    _assert_same_scores(rescored, clean)
    assert cache.discarded == 1 and len(notes) == 1 and str(path) in notes[0]
    assert path.is_file()
    np.testing.assert_allclose(np.load(path), good, atol=1e-6)  # rewritten with the right row


def test_a_poisoned_entry_no_longer_poisons_later_runs(scorers, clean, tmp_path):
    items = make_items(N_ITEMS)
    score_items(items, scorers, batch_size=3, cache=EmbeddingCache(tmp_path))
    for item in items:
        path = EmbeddingCache(tmp_path).path(scorers[0].fingerprint(), item.reference_sha256)
        path.write_bytes(_npy(np.ones(1, dtype=np.float32)))  # the 1-element rows
    _assert_same_scores(score_items(items, scorers, batch_size=3, cache=EmbeddingCache(tmp_path)), clean)
    notes: list[str] = []
    again = score_items(items, scorers, batch_size=3, cache=EmbeddingCache(tmp_path, notify=notes.append))
    _assert_same_scores(again, clean)
    assert notes == []  # the first rescoring repaired every entry


def test_a_cache_that_cannot_be_written_is_turned_off_with_one_warning(scorers, clean, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    notes: list[str] = []
    cache = EmbeddingCache(blocker / "embeddings", notify=notes.append)
    _assert_same_scores(score_items(make_items(N_ITEMS), scorers, batch_size=3, cache=cache), clean)
    assert not cache.enabled
    assert len(notes) == 1 and "going on without the cache" in notes[0]


def test_an_uncreatable_default_cache_is_turned_off_with_one_warning(monkeypatch, tmp_path):
    blocker = tmp_path / "cache-file"
    blocker.write_text("")
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(blocker))
    notes: list[str] = []
    cache = EmbeddingCache(notify=notes.append)
    assert not cache.enabled and len(notes) == 1
    cache.put("fp", "ab" * 32, _unit(4))
    assert cache.get("fp", "ab" * 32) is None and len(notes) == 1


@pytest.mark.parametrize(
    "row, problem",
    [
        (_unit(8), None),
        (_unit(8) * (1 + 5e-4), None),  # within the 1e-3 tolerance
        (_unit(8) * (1 + 5e-3), "norm"),
        (_unit(8).astype(np.float16), "dtype"),
        (_unit(7), "wide"),
        (np.zeros(0, dtype=np.float32), "shape"),
        (np.array([np.inf] + [0.0] * 7, dtype=np.float32), "finite"),
        (pickle, "not an array"),
    ],
)
def test_row_checks(row, problem):
    found = row_problem(row, dim=8)
    assert (found is None) if problem is None else (problem in found)
