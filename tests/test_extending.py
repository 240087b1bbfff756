"""docs/extending.md: its worked examples are the files under docs/examples/, and they run.

The ``banded`` adapter, the ``channel_gap`` scorer and the ``stripes`` dataset are registered the
way the page says, and one round trip runs through ``unified_bench.run``. Expected numbers come from
the images' construction, not from our code.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tomllib

import unified_bench
from docs.examples.banded_adapter import MANIFEST
from docs.examples.stripes_dataset import COLOURS, load_stripes
from unified_bench.adapter import AdapterManifest, resolve_lazy
from unified_bench.datasets import _NAMED_LOADERS
from unified_bench.registry import ENTRY_POINT_GROUP, default_registry
from unified_bench.scorers.registry import SCORER_FACTORIES

REPO = Path(__file__).resolve().parents[1]
PAGE = (REPO / "docs" / "extending.md").read_text("utf-8")
EXAMPLES = sorted((REPO / "docs" / "examples").glob("*.py"))


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", PAGE, flags=re.S | re.M)


def test_every_python_block_is_an_example_file_verbatim():
    blocks = _blocks("python")
    assert len(blocks) == len(EXAMPLES) == 3
    for block, path in zip(blocks, (REPO / "docs/examples/banded_adapter.py",
                                    REPO / "docs/examples/channel_gap_scorer.py",
                                    REPO / "docs/examples/stripes_dataset.py"), strict=True):  # fmt: skip
        assert block == path.read_text("utf-8"), f"docs/extending.md shows an old copy of {path.name}"


def test_the_plugin_entry_point_names_the_manifest():
    (toml,) = _blocks("toml")
    group = tomllib.loads(toml)["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert isinstance(resolve_lazy(group["banded"]), AdapterManifest)


@pytest.fixture
def registered(monkeypatch):
    """The three examples registered as docs/extending.md says (and unregistered afterwards)."""
    default_registry.cache_clear()
    default_registry().register(MANIFEST)
    monkeypatch.setitem(
        SCORER_FACTORIES, "channel_gap", "docs.examples.channel_gap_scorer:build_channel_gap_scorer"
    )
    monkeypatch.setitem(_NAMED_LOADERS, "stripes", load_stripes)
    yield
    default_registry.cache_clear()


def _run(folder: Path, **adapter_args: str) -> unified_bench.Results:
    return unified_bench.run(
        "banded", "stripes", folder, scorers=["channel_gap", "psnr"], size=(32, 32),
        adapter_args=adapter_args, batch_size=4,
    )  # fmt: skip


def test_two_bands_reconstruct_every_stripe_image_exactly(registered, tmp_path):
    results = _run(tmp_path / "run")
    assert len(results.samples["ids"]) == 6
    assert set(results.scorers["channel_gap"].per_sample.values()) == {0.0}
    assert results.scorers["channel_gap"].higher_is_better is False
    assert all(v >= 99.0 for v in results.scorers["psnr"].per_sample.values())  # identical pixels: the cap
    assert not results.captions["truncated"]["n"]  # 8 words, 12 read


def test_a_generator_that_reads_four_words_draws_the_top_band_only(registered, tmp_path):
    results = _run(tmp_path / "run", max_words="4")
    # It draws the top colour everywhere; the reference's mean is halfway between top and bottom.
    for sample_id, gap in results.scorers["channel_gap"].per_sample.items():
        top, bottom = (np.array(COLOURS[c], dtype=float) for c in sample_id.split("-over-"))
        assert gap == pytest.approx(np.abs(top - bottom).max() / 2)
    assert results.captions["truncated"] == {"n": 6, "of": 6, "by_encoder": {"words": 6}}
