"""Where results go and what tables say: score -o, the printed path, empty folders, overall label and std."""

from __future__ import annotations

import re
import statistics

from PIL import Image
from rich.console import Console

from tests._demo import demo_run
from unified_bench.cli.output import results_table
from unified_bench.results import build_results, read_results


def _images(folder, names, colour=(200, 30, 30)):
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        Image.new("RGB", (16, 16), (colour[0], colour[1] + 20 * index, colour[2])).save(
            folder / f"{name}.png"
        )
    return folder


def _text(table) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def test_score_writes_to_dash_o_and_prints_where(cli, tmp_path):
    refs = _images(tmp_path / "refs", ["a", "b"])
    gens = _images(tmp_path / "gens", ["a", "b"], colour=(190, 40, 30))
    target = tmp_path / "out" / "scores.json"
    result = cli("score", gens, refs, "-s", "psnr", "-o", target)
    assert result.code == 0, result.err
    assert f"Results: {target}" in result.err
    assert read_results(target).scorers["psnr"].n == 2 and not (gens / "results.json").exists()
    default = cli("score", gens, refs, "-s", "psnr")
    assert f"Results: {gens / 'results.json'}" in default.err and (gens / "results.json").is_file()


def test_an_empty_folder_on_either_side_is_the_same_message_and_exit_code(cli, tmp_path):
    full = _images(tmp_path / "full", ["a"])
    (tmp_path / "empty").mkdir()
    no_generated = cli("score", tmp_path / "empty", full, "-s", "psnr")
    no_references = cli("score", full, tmp_path / "empty", "-s", "psnr")
    assert no_generated.code == no_references.code == 2
    assert f"generated folder {tmp_path / 'empty'}: no images" in no_generated.err
    assert f"reference folder {tmp_path / 'empty'}: no images" in no_references.err
    assert not (tmp_path / "empty" / "results.json").exists()


def test_overall_is_labelled_by_what_it_averages_and_shows_its_std():
    ids = ["a", "b", "c"]
    clip, dino = {"a": 0.5, "b": 0.7, "c": 0.9}, {"a": 0.1, "b": 0.4, "c": 0.4}
    results = build_results(
        ids=ids,
        scores={"clip": clip, "dinov2": dino},
        scorer_meta={"clip": ("f1", True), "dinov2": ("f2", True)},
        dataset={"name": "x"},
        protocol="text",
        model=None,
        n_resamples=200,
    )
    text = _text(results_table(results))
    row = next(line for line in text.splitlines() if "overall" in line)
    assert "mean of clip+dinov2" in row and "paper" not in row
    expected_std = statistics.stdev([(clip[i] + dino[i]) / 2 for i in ids])  # ddof=1, by hand
    assert f"{expected_std:.4f}" in row


def test_overall_std_is_the_same_number_in_the_cli_and_the_report(cli, session_cache, tmp_path):
    run_dir = demo_run(session_cache)
    results = read_results(run_dir)
    row = next(line for line in _text(results_table(results)).splitlines() if "overall" in line)
    cli_std = re.findall(r"\d+\.\d{4}", row)[3]  # mean, CI low, CI high, std
    assert cli_std != "-" and float(cli_std) > 0
    report = tmp_path / "r.html"
    assert cli("report", run_dir, "-o", report).code == 0
    summary = report.read_text().split("id='summary'")[1].split("</table>")[0]
    overall_row = next(r for r in summary.split("<tr>") if ">overall<" in r)
    assert re.findall(r"<td class='num opt'>([^<]+)</td>", overall_row)[0] == cli_std
