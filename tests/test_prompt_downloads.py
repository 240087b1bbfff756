"""Named prompt sets downloaded on first use, through local files the tests write (file:// mirrors)."""

from __future__ import annotations

import json
import shutil

import pytest

from unified_bench.datasets.prompt_downloads import DOWNLOADED_SETS, prompts_cache
from unified_bench.datasets.prompts import load_prompt_set
from unified_bench.errors import InputError

# Tiny files in each set's own format (the texts are this test's, not the sets').
FILES = {
    "geneval": "\n".join(
        json.dumps(r)
        for r in [
            {"tag": "single_object", "include": [{"class": "cup", "count": 1}], "prompt": "a photo of a cup"},
            {"tag": "counting", "include": [{"class": "cat", "count": 2}], "prompt": "a photo of two cats"},
        ]
    ),
    "docci": "\n".join(
        json.dumps(r)
        for r in [
            {
                "example_id": "test_00001",
                "split": "test",
                "image_file": "test_00001.jpg",
                "description": "A cup.",
            },
            {"example_id": "train_00002", "split": "train", "image_file": "t.jpg", "description": "A dog."},
        ]
    ),
    "unieval": json.dumps(
        [
            {
                "prompt": "a red cup",
                "QAs": [
                    {"QA_id": 0, "tag": "Textual, Adjectives, Color Adjectives", "question": "What colour?"}
                ],
            },
            {"prompt": "three cats", "QAs": [{"QA_id": 1, "tag": "Textual, Numerals, Cardinal Numbers"}]},
        ]
    ),
    "dpg-bench": "item_id,text,category_broad,question_natural_language\n"
    "a1,a red cup on a table,attribute,Is the cup red?\n"
    "a1,a red cup on a table,relation,Is the cup on a table?\n"
    "b2,two cats,entity,Are there two cats?\n",
}
EXPECTED = {
    "geneval": {
        "00000": ("a photo of a cup", ("single_object",)),
        "00001": ("a photo of two cats", ("counting",)),
    },
    "docci": {"test_00001": ("A cup.", ("test",)), "train_00002": ("A dog.", ("train",))},
    "unieval": {"0000": ("a red cup", ("Adjectives",)), "0001": ("three cats", ("Numerals",))},
    "dpg-bench": {"a1": ("a red cup on a table", ("attribute", "relation")), "b2": ("two cats", ("entity",))},
}


def _mirror(tmp_path, monkeypatch, name, text):
    source = tmp_path / "mirror" / DOWNLOADED_SETS[name].filename
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(text)
    monkeypatch.setenv(DOWNLOADED_SETS[name].url_env, source.as_uri())
    return source


@pytest.mark.parametrize("name", sorted(DOWNLOADED_SETS))
def test_each_set_downloads_on_first_use_parses_and_carries_its_card(tmp_path, monkeypatch, name):
    _mirror(tmp_path, monkeypatch, name, FILES[name])
    prompts = load_prompt_set(name, cache_root=tmp_path / "cache")
    assert {s.id: (s.prompt, s.tags) for s in prompts.samples} == EXPECTED[name]
    assert prompts.card["license"] == DOWNLOADED_SETS[name].license and prompts.card["citation"]
    assert (prompts_cache(tmp_path / "cache") / name / "SOURCE.json").is_file()
    # later uses read the cache, never the mirror
    monkeypatch.setenv(DOWNLOADED_SETS[name].url_env, (tmp_path / "gone").as_uri())
    assert load_prompt_set(name, cache_root=tmp_path / "cache").fingerprint == prompts.fingerprint


def test_a_changed_file_is_refused_after_the_first_download(tmp_path, monkeypatch):
    source = _mirror(tmp_path, monkeypatch, "geneval", FILES["geneval"])
    cache = tmp_path / "cache"
    load_prompt_set("geneval", cache_root=cache)
    shutil.rmtree(prompts_cache(cache) / "geneval")
    source.write_text(FILES["geneval"].replace("cup", "mug"))
    with pytest.raises(InputError, match="first download recorded"):
        load_prompt_set("geneval", cache_root=cache)
    assert not (prompts_cache(cache) / "geneval").exists()  # nothing installed


def test_an_unreachable_mirror_is_one_line_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIFIED_BENCH_DOCCI_URL", (tmp_path / "missing.jsonlines").as_uri())
    with pytest.raises(InputError, match="UNIFIED_BENCH_DOCCI_URL"):
        load_prompt_set("docci", cache_root=tmp_path / "cache")


def test_a_file_of_the_wrong_shape_is_refused_before_it_is_installed(tmp_path, monkeypatch):
    _mirror(tmp_path, monkeypatch, "dpg-bench", "id,prompt\n1,x\n")
    with pytest.raises(InputError, match="item_id and text"):
        load_prompt_set("dpg-bench", cache_root=tmp_path / "cache")
    assert not (prompts_cache(tmp_path / "cache") / "dpg-bench").exists()
