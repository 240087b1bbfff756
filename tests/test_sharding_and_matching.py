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
