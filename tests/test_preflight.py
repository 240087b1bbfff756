"""Preflight: a run that cannot finish is refused before any model loads, with every problem at once.

The scorer checkpoints are the tiny random ones of the real classes; a "wrong model" is one of them
passed to another scorer (a CLIP folder given to dinov2), exactly the mistake users make.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._tiny_scorers import tiny_specs  # noqa: F401 - fixture
from unified_bench.adapter import AdapterManifest, WeightsRequirement
from unified_bench.preflight import PreflightError, adapter_problems, preflight


def _error_text(result) -> str:
    assert result.code != 0 and "Traceback" not in result.err, result.err
    return " ".join(result.err.split())


def test_run_refuses_missing_and_wrong_type_scorers_before_any_image(cli, tmp_path, tiny_specs):  # noqa: F811
    output = tmp_path / "run"
    result = cli(
        "run", "--model", "uae-tiny", "--dataset", "samples", "--limit", "2", "--output", output,
        "--scorer", f"clip={tmp_path / 'no-clip-here'}",
        "--scorer", f"longclip={tmp_path / 'no-longclip-here'}",
        "--scorer", f"dinov2={tiny_specs['clip']}",  # a CLIP checkpoint where DINOv2 is expected
        "--scorer", f"dinov3={tiny_specs['dinov3']}",  # fine
        "--scorer", "ssim",
    )  # fmt: skip
    text = _error_text(result)
    assert result.err.count("Error:") == 1
    assert "3 problems" in text and "nothing was run" in text
    assert f"clip: {tmp_path / 'no-clip-here'} does not exist" in text
    assert "longclip:" in text and "no-longclip-here" in text
    assert "dinov2:" in text and "'clip' checkpoint" in text and "'dinov2'" in text
    assert "--scorer dinov2=PATH" in text
    assert "dinov3" not in text.replace("dinov3=", "")  # the right checkpoint is not a problem
    images = output / "images"
    assert not images.exists() or not any(images.iterdir()), "no image may be generated"
    assert not (output / "captions.jsonl").exists() or (output / "captions.jsonl").read_text() == ""


def test_score_refuses_a_wrong_checkpoint_and_writes_nothing(cli, tmp_path, tiny_specs):  # noqa: F811
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("RGB", (16, 16), "white").save(folder / "a.png")
    result = cli("score", folder, folder, "--scorer", f"clip={tiny_specs['dinov2']}")
    text = _error_text(result)
    assert "clip:" in text and "'dinov2' checkpoint" in text and "Dinov2Model" in text
    assert not (folder / "results.json").exists()


def test_an_uncached_hub_id_offline_names_the_hf_download_command(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PreflightError) as caught:
        preflight(["clip=openai/clip-vit-large-patch14", "longclip=BeichenZhang/LongCLIP-L", "psnr"])
    problems = caught.value.problems
    assert len(problems) == 2, problems
    assert (
        "`hf download openai/clip-vit-large-patch14`" in problems[0] and "--scorer clip=PATH" in problems[0]
    )
    assert "`hf download BeichenZhang/LongCLIP-L longclip-L.pt`" in problems[1]
    assert "huggingface-cli" not in str(caught.value)


def test_scorers_sharing_weights_are_reported_once(tmp_path):
    with pytest.raises(PreflightError) as caught:
        preflight([f"clip={tmp_path / 'x'}", f"clipscore={tmp_path / 'x'}"])
    (problem,) = caught.value.problems
    assert problem.startswith("clip, clipscore: ") and "--scorer clip=PATH" in problem
    assert problem.endswith("(and --scorer clipscore=PATH)")


def test_unknown_and_duplicate_specs_are_listed_together(tmp_path):
    with pytest.raises(PreflightError) as caught:
        preflight(["ssim", "ssim", "nope", f"dinov2={tmp_path / 'missing'}"])
    text = str(caught.value)
    assert "given twice" in text and "Unknown scorer 'nope'" in text and "dinov2:" in text


def test_adapter_packages_and_uncached_offline_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    manifest = AdapterManifest(
        name="demo-adapter",
        factory="nowhere:build",
        weights=(WeightsRequirement("someone/not-downloaded"),),
        packages=("openai", "no-such-distribution-ub"),
    )
    problems = adapter_problems(manifest, {})
    assert any(
        "no-such-distribution-ub" in p and "pip install no-such-distribution-ub" in p for p in problems
    )
    assert any("hf download someone/not-downloaded" in p for p in problems)
    local = tmp_path / "weights"
    local.mkdir()
    overridden = adapter_problems(manifest, {"model": str(local)})
    assert not any("not-downloaded" in p for p in overridden)
    missing_path = adapter_problems(manifest, {"model": str(tmp_path / "nope")})
    assert any("--adapter-arg model=" in p and "no such file" in p for p in missing_path)


def test_the_demo_configuration_passes(tiny_specs):  # noqa: F811
    preflight([f"{name}={path}" for name, path in tiny_specs.items()] + ["ssim", "psnr", "bleu4"])
    assert Path(tiny_specs["clip"]).is_dir()


def test_unknown_and_unparsable_adapter_args_are_refused_before_the_model_loads(cli, tmp_path, monkeypatch):
    from unified_bench_adapters.uae.tiny import TINY_NAME

    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path / "cache"))
    result = cli(
        "run", "--model", "uae-tiny", "--dataset", "samples", "--limit", "2", "--output", tmp_path / "run",
        "--scorer", "ssim", "--adapter-arg", "guidance=7", "--adapter-arg", "num_inference_steps=many",
    )  # fmt: skip
    text = _error_text(result)
    assert result.err.count("Error:") == 1 and "2 problems" in text
    assert "--adapter-arg guidance: unknown setting for UAEConfig" in text and "guidance_scale" in text
    assert "--adapter-arg num_inference_steps=many: expected an integer" in text
    assert not (tmp_path / "cache" / "models" / TINY_NAME).exists()  # refused before uae-tiny was built


def test_every_shipped_adapter_names_the_config_its_arguments_go_to():
    import dataclasses

    from unified_bench.adapter import resolve_lazy
    from unified_bench.registry import default_registry

    for manifest in default_registry().manifests():
        if not manifest.factory.startswith("unified_bench_adapters."):
            continue  # third-party plugins may leave it out
        assert manifest.config.startswith("unified_bench_adapters."), manifest.name
        try:
            config_cls = resolve_lazy(manifest.config)
        except ImportError:  # an optional package of this adapter is not installed here
            continue
        assert dataclasses.is_dataclass(config_cls), manifest.name
