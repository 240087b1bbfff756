"""Sample selection (--limit, --shard, environment ranks) and the `score` file-matching rules."""

from pathlib import Path

import pytest
from PIL import Image

from unified_bench.errors import InputError, UserError
from unified_bench.matching import match_reconstructions
from unified_bench.sharding import Shard, parse_shard, select, shard_from_environment


def test_limit_takes_the_first_n_then_shard_takes_every_nth_of_those():
    items = list(range(10))
    assert select(items, limit=5, shard=None) == [0, 1, 2, 3, 4]
    assert select(items, limit=5, shard=Shard(1, 2)) == [1, 3]
    assert select(items, limit=None, shard=Shard(0, 3)) == [0, 3, 6, 9]


def test_shards_partition_the_selection():
    items = list(range(11))
    parts = [select(items, limit=None, shard=Shard(i, 3)) for i in range(3)]
    assert sorted(i for part in parts for i in part) == items


@pytest.mark.parametrize("text", ["2/2", "a/b", "1", "-1/2", "0/0"])
def test_bad_shard_text_is_a_user_error(text):
    with pytest.raises(UserError, match="--shard"):
        parse_shard(text)


def test_rank_and_world_size_come_from_the_environment():
    assert shard_from_environment({"RANK": "1", "WORLD_SIZE": "4"}) == Shard(1, 4)
    assert shard_from_environment({"WORLD_SIZE": "1"}) is None
    assert shard_from_environment({}) is None


def _touch_images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", (4, 4)).save(folder / name)


def test_matching_a_missing_folder_is_an_input_error(tmp_path):
    _touch_images(tmp_path / "ref", ["a.png"])
    with pytest.raises(InputError, match="generated folder"):
        match_reconstructions(tmp_path / "nope", tmp_path / "ref")


# -- matching details mutation testing found unchecked (docs/testing.md) --------------------------
def test_a_missing_reference_folder_is_named_as_the_reference_folder(tmp_path):
    _touch_images(tmp_path / "gen", ["a.png"])
    with pytest.raises(InputError, match=r"^reference folder .*nope: does not exist or is not a folder\.$"):
        match_reconstructions(tmp_path / "gen", tmp_path / "nope")


def test_a_reference_folder_without_images_lists_the_suffixes_it_looked_for(tmp_path):
    (tmp_path / "ref").mkdir()
    _touch_images(tmp_path / "gen", ["a.png"])
    expected = rf"^reference folder {tmp_path / 'ref'}: no images \(\.png, \.jpg, \.jpeg, \.webp, \.bmp, "
    with pytest.raises(InputError, match=expected + r"\.tif, \.tiff, \.gif\)\.$"):
        match_reconstructions(tmp_path / "gen", tmp_path / "ref")


def test_clashing_reference_stems_name_the_reference_folder(tmp_path):
    _touch_images(tmp_path / "ref", ["a.png", "a.jpg"])
    _touch_images(tmp_path / "gen", ["a.png"])
    with pytest.raises(InputError, match=rf"^reference folder {tmp_path / 'ref'}: a\.jpg and a\.png share"):
        match_reconstructions(tmp_path / "gen", tmp_path / "ref")


def test_references_are_the_images_directly_in_the_folder_not_in_subfolders(tmp_path):
    _touch_images(tmp_path / "ref", ["a.png"])
    _touch_images(tmp_path / "ref" / "extra", ["b.png"])
    _touch_images(tmp_path / "gen", ["a.png", "b.png"])
    matching = match_reconstructions(tmp_path / "gen", tmp_path / "ref")
    assert matching.references == [Path("a.png")]
    assert matching.unmatched == [Path("b.png")]


def test_a_macosx_folder_is_hidden_but_only_with_that_exact_name(tmp_path):
    _touch_images(tmp_path / "ref", ["a.png", "b.png"])
    _touch_images(tmp_path / "gen" / "__MACOSX", ["a.png"])
    _touch_images(tmp_path / "gen" / "__macosx", ["b.png"])  # an ordinary folder on Linux
    matching = match_reconstructions(tmp_path / "gen", tmp_path / "ref")
    assert [(p.id, p.reconstruction.as_posix()) for p in matching.pairs] == [("b", "__macosx/b.png")]


def test_images_are_sorted_as_path_strings_not_as_path_parts(tmp_path):
    """'-' sorts before '/' in a string, after the end of a part in ``Path`` order."""
    from unified_bench.matching import visible_images

    _touch_images(tmp_path / "gen", ["a-b.png"])
    _touch_images(tmp_path / "gen" / "a", ["b.png"])
    assert visible_images(tmp_path / "gen", recursive=True) == [Path("a-b.png"), Path("a/b.png")]


def test_a_reconstruction_with_a_reference_of_the_same_file_name_pairs_with_it_first(tmp_path):
    """``recon_a.png`` is ``a.png``'s reconstruction by prefix, but ``recon_a.png`` exists as a reference."""
    _touch_images(tmp_path / "ref", ["a.png", "recon_a.png"])
    _touch_images(tmp_path / "gen", ["recon_a.png"])
    matching = match_reconstructions(tmp_path / "gen", tmp_path / "ref")
    assert [(p.reference.name, p.reconstruction.name) for p in matching.pairs] == [
        ("recon_a.png", "recon_a.png")
    ]


@pytest.mark.parametrize(
    ("several", "others"), [(1, ""), (2, " (and 1 more references)"), (3, " (and 2 more references)")]
)
def test_several_reconstructions_of_a_reference_are_refused_naming_them_and_the_others(
    tmp_path, several, others
):
    names = [f"{stem}.png" for stem in "abc"]
    _touch_images(tmp_path / "ref", names)
    _touch_images(tmp_path / "gen", [f"{stem}.jpg" for stem in "abc"[:several]] + names)
    expected = (
        f"reference a.png has 2 reconstructions in {tmp_path / 'gen'}: a.jpg, a.png{others}; keep one, "
        "or pass --match all to score each as its own pair (as Score_i2i.py does)."
    )
    with pytest.raises(InputError) as refused:
        match_reconstructions(tmp_path / "gen", tmp_path / "ref")
    assert str(refused.value) == expected
