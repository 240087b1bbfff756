"""Scale: images are decoded per batch (memory does not grow with the dataset), --limit decodes only
what it selects, the next batch loads while the current one is scored, and the numbers stay the same."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from tests._tiny_scorers import image_sha, random_images, tiny_specs
from tests.conftest import subprocess_env
from unified_bench.datasets.folder import load_folder
from unified_bench.prefetch import prefetched
from unified_bench.scorers import build_scorers
from unified_bench.scoring import ScoringItem, score_items

__all__ = ["tiny_specs"]  # pytest fixture, used by name

SIDE = 512


def smooth_png(index: int, side: int = SIDE) -> bytes:
    """A 512x512 RGB PNG that compresses well (small on disk, 768 KiB once decoded)."""
    ramp = Image.linear_gradient("L").resize((side, side))
    image = Image.merge("RGB", (ramp, ramp.rotate(90 * (index % 4)), Image.new("L", (side, side), 9 * index)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_pairs(root: Path, count: int) -> tuple[Path, Path]:
    """``root/refs/ID.png`` and ``root/gen/ID.png`` for ``count`` ids (eight distinct images, cycled)."""
    designs = [smooth_png(index) for index in range(8)]
    refs, gen = root / "refs", root / "gen"
    refs.mkdir(parents=True)
    gen.mkdir()
    for index in range(count):
        (refs / f"s{index:05d}.png").write_bytes(designs[index % 8])
        (gen / f"s{index:05d}.png").write_bytes(designs[(index + 1) % 8])
    return refs, gen


PEAK_RSS_CHILD = """
import resource, sys
from unified_bench.cli.app import main
try:
    main(["score", sys.argv[1], sys.argv[2], "--scorer", "psnr", "--score-batch-size", "8"])
except SystemExit as exit_:
    assert not exit_.code, exit_.code
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def peak_rss_mib_of_scoring(root: Path, count: int, cache: Path) -> int:
    refs, gen = write_pairs(root, count)
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_CHILD, str(gen), str(refs)],
        env=subprocess_env(cache),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((gen / "results.json").read_text())["scorers"]["psnr"]["n"] == count
    return int(done.stdout.split()[-1])


def test_peak_memory_of_scoring_does_not_grow_with_the_number_of_images(tmp_path, isolated_cache):
    # 140 more pairs of 512x512 images are 210 MiB decoded (the old loader held them all: +500 MiB
    # measured); decoding per batch of 8 keeps them out.
    small = peak_rss_mib_of_scoring(tmp_path / "small", 20, isolated_cache)
    large = peak_rss_mib_of_scoring(tmp_path / "large", 160, isolated_cache)
    assert large - small < 60, f"peak RSS {small} MiB for 20 pairs, {large} MiB for 160"


# ------------------------------------------------------------------ --limit decodes only what it selects


def cut_after_header(data: bytes) -> bytes:
    """A PNG whose header is intact (it loads as a dataset entry) but whose pixels cannot be decoded."""
    return data[: len(data) // 3]


@pytest.fixture
def half_broken_dataset(tmp_path) -> tuple[Path, Path]:
    """Four references, the last two truncated, plus a dangling link; outputs for all four ids."""
    refs = tmp_path / "refs"
    refs.mkdir()
    outputs = tmp_path / "outputs"
    (outputs / "images").mkdir(parents=True)
    for index in range(4):
        data = smooth_png(index, side=64)
        (refs / f"s{index}.png").write_bytes(data if index < 2 else cut_after_header(data))
        (outputs / "images" / f"s{index}.png").write_bytes(data)
    (refs / "zz-gone.png").symlink_to(tmp_path / "deleted.png")
    lines = [json.dumps({"id": f"s{index}", "caption": f"picture {index}"}) for index in range(4)]
    (outputs / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return refs, outputs


def run_precomputed(cli, refs: Path, outputs: Path, output: Path, *extra: str):
    return cli(
        "run",
        "--model",
        "precomputed",
        "--adapter-arg",
        f"dir={outputs}",
        "--dataset",
        refs,
        "--scorer",
        "psnr",
        "--output",
        output,
        *extra,
    )


def test_limit_decodes_only_the_selected_images(cli, half_broken_dataset, tmp_path):
    refs, outputs = half_broken_dataset
    limited = run_precomputed(cli, refs, outputs, tmp_path / "limited", "--limit", "2")
    assert limited.code == 0, limited.err
    assert sorted(p.name for p in (tmp_path / "limited" / "images").iterdir()) == ["s0.png", "s1.png"]
    # the whole dataset does reach the truncated files, and says which one in one line
    everything = run_precomputed(cli, refs, outputs, tmp_path / "all")
    assert everything.code != 0
    assert "s2.png" in everything.err and "not a readable image" in everything.err
    assert "Traceback" not in everything.err


def test_a_run_says_what_the_dataset_folder_skipped(cli, half_broken_dataset, tmp_path):
    refs, outputs = half_broken_dataset
    result = run_precomputed(cli, refs, outputs, tmp_path / "run", "--limit", "1")
    assert result.code == 0, result.err
    assert "skipped 1 entry" in " ".join((result.out + result.err).split())


def test_dataset_folders_name_what_they_skip_with_a_count(tmp_path):
    (tmp_path / "a.png").write_bytes(smooth_png(0, side=16))
    (tmp_path / "gone.png").symlink_to(tmp_path / "missing.png")
    (tmp_path / "also-gone").symlink_to(tmp_path / "nowhere")
    (tmp_path / "sub").mkdir()
    (tmp_path / "folder-link.jpg").symlink_to(tmp_path / "sub")
    (tmp_path / "x.png").mkdir()
    os.mkfifo(tmp_path / "pipe.webp")
    (tmp_path / "notes.txt").write_text("not an image, not reported")
    dataset = load_folder(tmp_path)
    assert [sample.id for sample in dataset.samples] == ["a"]
    [note] = dataset.notes
    assert "\n" not in note and "skipped 5 entries" in note
    assert "2 dangling symlinks" in note and "1 symlink to a non-file" in note
    assert "2 non-files named like images" in note


def test_a_clean_folder_has_no_note(tmp_path):
    (tmp_path / "a.png").write_bytes(smooth_png(0, side=16))
    assert load_folder(tmp_path).notes == ()


# ------------------------------------------------------------------ overlap


def test_the_next_batch_loads_while_the_current_one_is_used():
    second_batch_loading = threading.Event()

    def load(batch: int) -> int:
        if batch == 1:
            second_batch_loading.set()
        return batch

    seen_during_first = None
    for batch in prefetched(range(3), load, depth=1):
        if batch == 0:  # "the model" works on batch 0; batch 1 must be loading meanwhile
            seen_during_first = second_batch_loading.wait(timeout=10)
    assert seen_during_first is True


def test_prefetch_keeps_order_bounds_what_is_loaded_ahead_and_raises_where_loading_failed():
    loaded_ahead: list[int] = []
    consumed = 0
    lock = threading.Lock()

    def load(batch: int) -> int:
        with lock:
            loaded_ahead.append(batch + 1 - consumed)  # batches loaded but not yet consumed
        if batch == 7:
            raise ValueError("batch 7 is broken")
        return batch

    order = []
    with pytest.raises(ValueError, match="batch 7"):
        for batch in prefetched(range(10), load, depth=2):
            time.sleep(0.01)  # a slow consumer lets the loader run ahead as far as it may
            with lock:
                consumed += 1
            order.append(batch)
    assert order == list(range(7))
    assert max(loaded_ahead) <= 2 + 2  # queued (depth) + being loaded + being used


def test_stopping_early_stops_the_loader_thread():
    before = threading.active_count()
    for batch in prefetched(range(1000), lambda b: b, depth=2):
        if batch == 3:
            break
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


# ------------------------------------------------------------------ same numbers


class Decodes:
    """A lazy image that counts how often it is decoded."""

    def __init__(self, image: Image.Image) -> None:
        self.data = io.BytesIO()
        image.save(self.data, format="PNG")
        self.count = 0

    def __call__(self) -> Image.Image:
        self.count += 1
        return Image.open(io.BytesIO(self.data.getvalue())).convert("RGB")


def test_streamed_scores_equal_a_plain_per_scorer_loop_bit_for_bit(tiny_specs):
    specs = [
        f"clip={tiny_specs['clip']}",
        f"dinov2={tiny_specs['dinov2']}",
        "psnr",
        f"clipscore={tiny_specs['clip']}",
    ]
    scorers = build_scorers(specs, device="cpu")
    references = random_images(7, seed=5)
    reconstructions = random_images(7, size=(56, 56), seed=6)
    lazy = [(Decodes(ref), Decodes(rec)) for ref, rec in zip(references, reconstructions, strict=True)]
    items = [
        ScoringItem(f"s{i}", ref, image_sha(references[i]), rec, caption=f"caption {i}" if i != 2 else None)
        for i, (ref, rec) in enumerate(lazy)
    ]
    table = score_items(items, scorers, batch_size=3, prefetch=2)
    # each image decoded once for all four scorers
    assert all(ref.count == 1 and rec.count == 1 for ref, rec in lazy)

    # the reference: every scorer on its own, chunk by chunk, on images decoded up front
    clip, dinov2, psnr, clipscore = scorers
    for scorer in (clip, dinov2):
        for start in range(0, 7, 3):
            refs = scorer.embed(references[start : start + 3])
            recs = scorer.embed(reconstructions[start : start + 3])
            for offset, (a, b) in enumerate(zip(refs, recs, strict=True)):
                assert table[scorer.name][f"s{start + offset}"] == float((a.double() * b.double()).sum())
    expected_psnr = psnr.pairwise(reconstructions, references).tolist()
    assert [table["psnr"][f"s{i}"] for i in range(7)] == expected_psnr
    captioned = [i for i in range(7) if i != 2]
    image_rows = [clip.embed(references[k : k + 3]) for k in range(0, 7, 3)]
    rows = {i: image_rows[i // 3][i % 3] for i in range(7)}
    for start in range(0, len(captioned), 3):  # captioned items, three per forward
        chunk = captioned[start : start + 3]
        texts = clipscore.embed_texts([f"caption {i}" for i in chunk])
        for row, i in enumerate(chunk):
            assert table["clipscore"][f"s{i}"] == float((texts[row].double() * rows[i].double()).sum())
    assert table["clipscore"]["s2"] is None
