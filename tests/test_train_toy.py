"""The toy world: scenes with known answers, their images, captions and the attribute score."""

from __future__ import annotations

import numpy as np
import pytest

from unified_bench.datasets import load_dataset
from unified_bench_adapters.uae.train.toy import (
    Scene,
    all_scenes,
    attribute_accuracy,
    split_scenes,
    write_scenes,
)


def test_the_image_shows_the_scene_its_caption_names():
    scene = Scene("red", "square", 3, "bottom")
    assert scene.caption() == "three red squares at the bottom"
    pixels = np.asarray(scene.render(64)).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red[48, 16] and red[48, 32] and red[48, 48]  # three squares in the lower half
    assert not red[:32].any()  # nothing in the upper half
    # Connected red blobs along the row through their centres: three of them.
    row = red[48].astype(int)
    assert int((np.diff(row) == 1).sum() + row[0]) == 3
    assert Scene.from_id(scene.id) == scene


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("two blue circles on the left", 1.0),
        ("Two blue circles, on the left of the picture", 1.0),
        ("two red circles on the left", 0.75),  # wrong colour
        ("blue and red circles on the left", 0.5),  # colour ambiguous, count missing
        ("a circle", 0.25),
        ("three green triangles at the top", 0.0),
        ("", 0.0),
    ],
)
def test_attribute_accuracy_is_the_share_of_attributes_named_correctly(caption, expected):
    assert attribute_accuracy(caption, Scene("blue", "circle", 2, "left")) == expected


def test_training_and_held_out_scenes_are_disjoint_and_reproducible(tmp_path):
    assert len(set(all_scenes())) == 144
    train, held_out = split_scenes(3, 40, 20)
    assert not set(train) & set(held_out) and len(train) == 40 and len(held_out) == 20
    assert split_scenes(3, 40, 20) == (train, held_out) != split_scenes(4, 40, 20)
    manifest = write_scenes(tmp_path / "heldout", held_out)
    as_manifest, as_folder = load_dataset(str(manifest)), load_dataset(str(tmp_path / "heldout"))
    assert sorted(s.id for s in as_folder.samples) == sorted(s.id for s in as_manifest.samples)
    captions = {s.id: s.captions[0] for s in as_manifest.samples}
    assert all(attribute_accuracy(captions[s.id], s) == 1.0 for s in held_out)
