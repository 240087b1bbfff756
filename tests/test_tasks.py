"""YAML tasks: include, checks, fingerprint, --task-file runs, resume under a changed task, groups."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import unified_bench.tasks as tasks_module
from tests._precomputed import outputs_folder
from unified_bench.errors import InputError
from unified_bench.results import read_results
from unified_bench.tasks import find_task, load_task_file, task_files

PROMPTS = {"a": 'a sign that says "hi"', "b": "two red cups", "c": "a dog under a table"}
TAGS = {"a": ["text"], "b": ["count", "colour"], "c": ["spatial"]}
TASK_DIR = None  # set by the entry-point test


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _prompt_set(root: Path) -> Path:
    lines = [json.dumps({"id": k, "prompt": v, "tags": TAGS[k]}) for k, v in PROMPTS.items()]
    return _write(root / "prompts.jsonl", "\n".join(lines) + "\n")


def _t2i2t_task(root: Path, *, scorers="[quoted_text, bleu4]", name="mine") -> Path:
    _write(
        root / "_base.yaml",
        "task: _base\nversion: 1\ndirection: t2i2t\nprompt: default\nscorers: [longclip_t2t]\n"
        "aggregation: {method: mean}\n",
    )
    return _write(
        root / f"{name}.yaml",
        f"task: {name}\nversion: 2\ninclude: _base.yaml\ndataset: {{name: {_prompt_set(root)}}}\n"
        f"scorers: {scorers}\nprimary: quoted_text\naggregation: {{by: tag}}\n",
    )


def test_include_merges_the_base_under_the_task_and_keeps_the_task_name(tmp_path):
    task = load_task_file(_t2i2t_task(tmp_path))
    assert (task.name, task.version, task.direction) == ("mine", "2", "t2i2t")
    assert task.scorers == ("quoted_text", "bleu4")  # the task's own list wins
    assert task.resolved["aggregation"] == {"method": "mean", "by": "tag"}  # mappings merge
    assert task.by_tag and task.caption_prompt is None


def test_the_fingerprint_follows_the_resolved_task_and_the_dataset(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = load_task_file(_t2i2t_task(tmp_path / "a"))
    again = load_task_file(_t2i2t_task(tmp_path / "a"))
    other = load_task_file(_t2i2t_task(tmp_path / "b", scorers="[quoted_text]"))
    assert first.fingerprint("sha256:x") == again.fingerprint("sha256:x")
    assert first.fingerprint("sha256:x") != first.fingerprint("sha256:y")
    assert first.fingerprint("sha256:x") != other.fingerprint("sha256:x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("task: t\nversion: 1\ndirection: t2i2t\ndataset: x\nmetrics: [a]\n", "unknown task keys"),
        ("task: t\nversion: 1\ndirection: sideways\ndataset: x\n", "'direction' must be"),
        (
            "task: t\nversion: 1\ndirection: t2i2t\ndataset: x\nscorers: [ssim]\n",
            "t2i2t starts from a prompt",
        ),
        ("task: t\nversion: 1\ndirection: i2t2i\ndataset: x\nscorers: [clip]\nprimary: ssim\n", "primary"),
        ("task: t\nversion: 1\ninclude: t.yaml\n", "include cycle"),
        ("task: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_task_file_is_one_clear_line(tmp_path, text, message):
    path = _write(tmp_path / "t.yaml", text)
    with pytest.raises(InputError, match=message):
        load_task_file(path)


def test_the_shipped_tasks_resolve(cli):
    names = set(task_files())
    assert {"unified-bench", "unified-prompts-t2i2t", "unified-both"} <= names
    assert find_task("unified-prompts-t2i2t").direction == "t2i2t"
    assert find_task("unified-both").group == ("unified-bench", "unified-prompts-t2i2t")
    listed = cli("tasks", "list")
    assert listed.code == 0 and "unified-prompts-t2i2t  v1  t2i2t on unified-prompts" in listed.out
    shown = cli("tasks", "show", "unified-prompts-t2i2t")
    assert shown.code == 0 and "primary: longclip_t2t" in shown.out and "by: tag" in shown.out
    assert cli("tasks", "show", "nope").code != 0


def test_tasks_from_the_entry_point_group(tmp_path, monkeypatch):
    folder = tmp_path / "plugin-tasks"
    folder.mkdir()
    _t2i2t_task(folder, name="plugin-task")
    monkeypatch.setattr(__import__(__name__), "TASK_DIR", str(folder), raising=False)
    monkeypatch.setattr(
        tasks_module,
        "entry_points",
        lambda group: (
            [EntryPoint("mine", f"{__name__}:TASK_DIR", group)]
            if group == tasks_module.ENTRY_POINT_GROUP
            else []
        ),
    )
    assert find_task("plugin-task").version == "2"


def test_a_task_file_run_records_the_task_and_refuses_to_resume_under_a_changed_task(tmp_path, cli):
    outputs = outputs_folder(tmp_path / "outputs", {i: f"a picture, {i}" for i in PROMPTS})
    task_file = _t2i2t_task(tmp_path)
    args = [
        "run",
        "--model",
        "precomputed",
        "-a",
        f"dir={outputs}",
        "--task-file",
        task_file,
        "-o",
        tmp_path / "run",
    ]
    result = cli(*args)
    assert result.code == 0, result.err
    results = read_results(tmp_path / "run")
    spec = json.loads((tmp_path / "run" / "run.json").read_text())
    assert results.direction == "t2i2t" and sorted(results.scorers) == ["bleu4", "quoted_text"]
    assert results.task["name"] == "mine" and spec["task_fingerprint"] == results.task["fingerprint"]
    assert results.task["by_tag"]["text"]["quoted_text"] == {"mean": 0.0, "n": 1}
    assert results.task["by_tag"]["count"]["bleu4"]["n"] == 1
    assert cli(*args).code == 0  # the same task resumes
    assert cli("report", tmp_path / "run").code == 0
    page = (tmp_path / "run" / "report.html").read_text()
    assert "<table id='by-tag'>" in page and "<strong>spatial</strong>" in page
    _write(task_file, task_file.read_text().replace("version: 2", "version: 3"))
    refused = cli(*args)
    assert refused.code != 0 and "task_fingerprint" in refused.err
    assert cli(*args[:-2], "--dataset", "x", "-o", tmp_path / "r2").code != 0  # the task sets the dataset


def test_a_group_task_runs_each_member_into_its_folder_and_writes_a_summary(tmp_path, cli):
    samples = ["astronaut", "chelsea"]
    outputs = outputs_folder(tmp_path / "outputs", {i: f"a picture, {i}" for i in [*PROMPTS, *samples]})
    _t2i2t_task(tmp_path, name="t2i2t-part")
    _write(
        tmp_path / "i2t2i-part.yaml",
        "task: i2t2i-part\nversion: 1\ndirection: i2t2i\ndataset: samples\nscorers: [ssim, psnr]\n",
    )
    group = _write(tmp_path / "both.yaml", "task: both\nversion: 1\ngroup: [i2t2i-part, t2i2t-part]\n")
    result = cli(
        "run",
        "--model",
        "precomputed",
        "-a",
        f"dir={outputs}",
        "--task-file",
        group,
        "--limit",
        "2",
        "-o",
        tmp_path / "run",
    )
    assert result.code == 0, result.err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [(m["task"], m["direction"], m["n"]) for m in summary["members"]] == [
        ("i2t2i-part", "i2t2i", 2),
        ("t2i2t-part", "t2i2t", 2),
    ]
    assert read_results(tmp_path / "run" / "t2i2t-part").direction == "t2i2t"
    assert read_results(tmp_path / "run" / "i2t2i-part").samples["ids"] == samples
    assert "t2i2t-part" in result.out and "i2t2i-part" in result.out
    report = cli("report", tmp_path / "run")
    assert report.code == 0, report.err
    page = (tmp_path / "run" / "report.html").read_text()
    assert "href='t2i2t-part/report.html'" in page and "href='i2t2i-part/report.html'" in page
    assert "drawn from it" in (tmp_path / "run" / "t2i2t-part" / "report.html").read_text()
