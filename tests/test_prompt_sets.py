"""Prompt sets, the t2i2t datasets: JSONL, a folder of .txt, hf:, the bundled unified-prompts; fingerprint."""

from __future__ import annotations

import json

import pytest

from unified_bench.datasets.prompts import load_prompt_set
from unified_bench.errors import InputError


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_a_jsonl_with_tags_and_questions(tmp_path):
    path = _jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "x", "prompt": "two cats", "tags": ["count"], "questions": ["How many cats?"]},
            {"id": "y", "prompt": "a dog"},
        ],
    )
    prompts = load_prompt_set(str(path))
    assert [(s.id, s.prompt, s.tags, s.questions) for s in prompts.samples] == [
        ("x", "two cats", ("count",), ("How many cats?",)),
        ("y", "a dog", (), ()),
    ]


def test_the_fingerprint_follows_the_prompt_texts(tmp_path):
    a = load_prompt_set(str(_jsonl(tmp_path / "a.jsonl", [{"id": "x", "prompt": "two cats"}])))
    b = load_prompt_set(str(_jsonl(tmp_path / "b.jsonl", [{"id": "x", "prompt": "two cats."}])))
    c = load_prompt_set(str(_jsonl(tmp_path / "c.jsonl", [{"id": "x", "prompt": "two cats"}])))
    assert a.fingerprint != b.fingerprint and a.fingerprint == c.fingerprint


def test_a_folder_of_text_files(tmp_path):
    (tmp_path / "b.txt").write_text("a blue cup\n")
    (tmp_path / "a.txt").write_text("a red cup")
    prompts = load_prompt_set(str(tmp_path))
    assert prompts.prompts() == {"a": "a red cup", "b": "a blue cup"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x"}', "expected"),
        ('{"id": "../x", "prompt": "p"}', "not allowed"),
        ('{"id": "x", "prompt": "p", "extra": 1}', "unknown keys"),
        ('{"id": "x", "prompt": "p", "tags": "count"}', "list of strings"),
        ("not json", "not valid JSON"),
    ],
)
def test_a_malformed_line_is_one_clear_error_with_its_line(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "ok", "prompt": "fine"}\n' + line + "\n")
    with pytest.raises(InputError, match=message) as error:
        load_prompt_set(str(path))
    assert f"{path}:2" in str(error.value)


def test_an_image_set_name_is_refused_with_the_prompt_sources(tmp_path):
    with pytest.raises(InputError, match=r"not a prompt set.*unified-prompts"):
        load_prompt_set("unibench")


def test_the_bundled_set_covers_every_category():
    prompts = load_prompt_set("unified-prompts")
    assert len(prompts) == 100
    tags = {tag for sample in prompts.samples for tag in sample.tags}
    assert {"object", "count", "colour", "spatial", "long", "text"} <= tags
    quoted = [s for s in prompts.samples if '"' in s.prompt]
    assert len(quoted) >= 15
    assert max(len(s.prompt.split()) for s in prompts.samples) > 40  # long descriptions


def test_a_hf_dataset_with_a_prompt_column(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "hf"
    datasets.Dataset.from_dict({"id": ["a", "b"], "text": ["one", "two"], "label": [1, 2]}).save_to_disk(
        str(folder)
    )
    from unified_bench.datasets.base import DatasetOptions

    prompts = load_prompt_set(f"hf:{folder}", options=DatasetOptions(prompt_column="text"))
    assert prompts.prompts() == {"a": "one", "b": "two"}
    assert load_prompt_set(f"hf:{folder}").prompts() == {"a": "one", "b": "two"}  # guessed: text
    with pytest.raises(InputError, match="--prompt-column nope: not in"):
        load_prompt_set(f"hf:{folder}", options=DatasetOptions(prompt_column="nope"))
