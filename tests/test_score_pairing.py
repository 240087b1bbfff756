"""`unified-bench score` pairs files as the official Score_i2i.py does.

Score_i2i.py walks the generated folder recursively, pairs each reconstruction with the reference of
the same name, else the same stem, else ``recon_<stem>``, and scores one pair per reconstruction.
Hidden files, AppleDouble ``._*`` companions and ``__MACOSX`` are ignored on both sides.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unified_bench.errors import InputError
from unified_bench.matching import match_reconstructions

SCORERS = ("--scorer", "psnr")


def _noise(seed: int, size: int = 24) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def _save(path: Path, image: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def _apple_double(path: Path) -> None:
    """What macOS writes next to a file on a non-HFS volume: a tiny binary, not an image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")


def _one_line_error(result, *fragments: str) -> None:
    assert result.code != 0
    assert "Traceback" not in result.err
    message = " ".join(result.err[result.err.index("Error:") :].split())
    assert result.err.count("Error:") == 1, result.err
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def test_appledouble_and_hidden_files_are_ignored_on_both_sides(cli, tmp_path):
    refs, gens = tmp_path / "refs", tmp_path / "gens"
    _save(refs / "astronaut.png", _noise(0))
    _apple_double(refs / "._astronaut.png")
    _apple_double(refs / ".DS_Store.png")
    _save(gens / "astronaut.png", _noise(1))
    _apple_double(gens / "._astronaut.png")
    _apple_double(gens / "__MACOSX" / "._astronaut.png")
    _save(gens / ".cache" / "astronaut.png", _noise(2))  # a hidden folder's copy is not a second one
    result = cli("score", gens, refs, *SCORERS)
    assert result.code == 0, result.err
    results = _results(gens)
    assert results["samples"]["missing"] == []
    assert results["provenance"]["pairs"] == [
        {"id": "astronaut", "reference": "astronaut.png", "reconstruction": "astronaut.png"}
    ]


def test_reconstructions_in_subfolders_are_found(cli, tmp_path):
    refs, gens = tmp_path / "refs", tmp_path / "gens"
    for index, name in enumerate(("a", "b")):
        _save(refs / f"{name}.png", _noise(index))
    _save(gens / "a.png", _noise(10))
    _save(gens / "batch-2" / "nested" / "recon_b.jpg", _noise(11))
    result = cli("score", gens, refs, *SCORERS)
    assert result.code == 0, result.err
    pairs = {p["id"]: p["reconstruction"] for p in _results(gens)["provenance"]["pairs"]}
    assert pairs == {"a": "a.png", "b": "batch-2/nested/recon_b.jpg"}


def test_any_file_name_is_a_sample_id_for_score(cli, tmp_path):
    refs, gens = tmp_path / "refs", tmp_path / "gens"
    _save(refs / "my photo (1).png", _noise(0))
    _save(refs / "été.png", _noise(1))
    _save(gens / "my photo (1).png", _noise(2))
    _save(gens / "été.webp", _noise(3))
    result = cli("score", gens, refs, *SCORERS)
    assert result.code == 0, result.err
    assert set(_results(gens)["scorers"]["psnr"]["per_sample"]) == {"my photo (1)", "été"}


def test_tif_and_gif_reconstructions_count_as_images(cli, tmp_path):
    refs, gens = tmp_path / "refs", tmp_path / "gens"
    _save(refs / "a.png", _noise(0))
    _save(refs / "b.png", _noise(1))
    _save(gens / "a.tif", _noise(2))
    _save(gens / "b.gif", _noise(3))
    result = cli("score", gens, refs, *SCORERS)
    assert result.code == 0, result.err


def test_two_reconstructions_of_one_reference_are_refused_naming_both(cli, tmp_path):
    refs, gens = tmp_path / "refs", tmp_path / "gens"
    _save(refs / "astronaut.png", _noise(0))
    _save(gens / "astronaut.png", _noise(1))
    _save(gens / "astronaut.jpg", _noise(2))
    result = cli("score", gens, refs, *SCORERS)
    _one_line_error(
        result, "astronaut.png has 2 reconstructions", "astronaut.jpg, astronaut.png", "--match all"
    )
    assert not (gens / "results.json").exists()


def test_match_all_scores_one_pair_per_reconstruction_and_averages_over_pairs(cli, tmp_path):
    refs = tmp_path / "refs"
    _save(refs / "astronaut.png", _noise(0))
    _save(refs / "coffee.png", _noise(5))
    reconstructions = {"astronaut.png": _noise(1), "astronaut.jpg": _noise(2), "coffee.png": _noise(6)}
    # Each pair scored alone, in a folder of its own: what Score_i2i.py's per-file loop computes.
    alone = {}
    for name, image in reconstructions.items():
        folder = tmp_path / f"alone-{name}"
        _save(folder / name, image)
        assert cli("score", folder, refs, *SCORERS, "--allow-missing").code == 0
        [value] = _results(folder)["scorers"]["psnr"]["per_sample"].values()
        alone[name] = value
    gens = tmp_path / "gens"
    for name, image in reconstructions.items():
        _save(gens / name, image)
    result = cli("score", gens, refs, *SCORERS, "--match", "all")
    assert result.code == 0, result.err
    results = _results(gens)
    psnr = results["scorers"]["psnr"]
    assert psnr["per_sample"] == pytest.approx(alone)  # ids are the reconstructions' paths
    assert psnr["mean"] == pytest.approx(sum(alone.values()) / 3)  # a mean over pairs, not references
    assert [(p["reference"], p["reconstruction"]) for p in results["provenance"]["pairs"]] == [
        ("astronaut.png", "astronaut.jpg"),
        ("astronaut.png", "astronaut.png"),
        ("coffee.png", "coffee.png"),
    ]


def test_an_unknown_match_mode_is_a_one_line_error(cli, tmp_path):
    refs, gens = tmp_path / "refs", tmp_path / "gens"
    _save(refs / "a.png", _noise(0))
    _save(gens / "a.png", _noise(1))
    _one_line_error(cli("score", gens, refs, *SCORERS, "--match", "first"), "--match first", "unique, all")


def test_matching_follows_score_i2i_name_then_stem_then_recon_prefix(tmp_path):
    refs, gens = tmp_path / "ref", tmp_path / "gen"
    for name in ("a.png", "b.jpg", "c.png", "d.png"):
        _save(refs / name, _noise(0, 4))
    for name in ("a.png", "b.png", "recon_c.png", "unrelated.png"):
        _save(gens / name, _noise(0, 4))
    matching = match_reconstructions(gens, refs)
    assert {p.reference.name: p.reconstruction.name for p in matching.pairs} == {
        "a.png": "a.png",
        "b.jpg": "b.png",
        "c.png": "recon_c.png",
    }
    assert [m.name for m in matching.missing] == ["d.png"]
    assert [u.name for u in matching.unmatched] == ["unrelated.png"]


def test_references_sharing_a_stem_are_refused(tmp_path):
    refs, gens = tmp_path / "ref", tmp_path / "gen"
    _save(refs / "a.png", _noise(0, 4))
    _save(refs / "a.jpg", _noise(0, 4))
    _save(gens / "a.png", _noise(0, 4))
    with pytest.raises(InputError, match=r"a\.jpg and a\.png share the name 'a'"):
        match_reconstructions(gens, refs)


def test_a_reference_folder_inside_the_generated_folder_is_not_scored_against_itself(tmp_path):
    gens = tmp_path / "gens"
    refs = gens / "refs"
    _save(refs / "a.png", _noise(0, 4))
    _save(gens / "a.png", _noise(1, 4))
    matching = match_reconstructions(gens, refs)
    assert [(p.reference.as_posix(), p.reconstruction.as_posix()) for p in matching.pairs] == [
        ("a.png", "a.png")
    ]
