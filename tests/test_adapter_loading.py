"""unified_bench.loading: one-line errors (weights, gated repos, packages, OOM) and `adapters list` needs."""

from __future__ import annotations

import httpx2
import pytest
import torch
from huggingface_hub.errors import GatedRepoError as HubGatedRepoError

from unified_bench.adapter import AdapterManifest, WeightsRequirement
from unified_bench.errors import MissingDependencyError, MissingWeightsError
from unified_bench.loading import (
    AdapterOutOfMemoryError,
    GatedRepoError,
    PipelineMemoryOptions,
    apply_pipeline_memory_options,
    describe_needs,
    load_pretrained,
    oom_guard,
    require_package,
    weights_present,
)


def _raises(error: BaseException):
    def loader(source, **kwargs):
        raise error

    return loader


def test_a_missing_local_folder_is_named_before_anything_loads(tmp_path):
    def loader(source, **kwargs):
        raise AssertionError("must not be called")

    with pytest.raises(MissingWeightsError, match=f"captioner: no folder at {tmp_path / 'nope'}"):
        load_pretrained(loader, str(tmp_path / "nope"), what="captioner")


def test_a_folder_that_is_not_a_checkpoint_says_what_it_holds(tmp_path):
    from transformers import AutoConfig

    with pytest.raises(MissingWeightsError, match=r"is not a loadable checkpoint \(no config.json"):
        load_pretrained(AutoConfig.from_pretrained, str(tmp_path), what="captioner")


def test_an_uncached_hub_id_names_the_download_command_and_the_arg():
    from huggingface_hub.errors import LocalEntryNotFoundError

    cause = LocalEntryNotFoundError("Cannot find the requested files in the disk cache")
    error = OSError("We couldn't connect to 'https://huggingface.co' to load the files")
    error.__cause__ = cause
    with pytest.raises(MissingWeightsError) as raised:
        load_pretrained(_raises(error), "org/model", what="generator pipeline", arg="generator")
    message = str(raised.value)
    assert "generator pipeline org/model" in message and "hf download org/model" in message
    assert "--adapter-arg generator=PATH" in message and "\n" not in message


def test_a_gated_repo_says_to_accept_the_licence():
    response = httpx2.Response(403, request=httpx2.Request("GET", "https://huggingface.co/org/gated"))
    error = OSError("You are trying to access a gated repo.\nMake sure to have access to it.")
    error.__cause__ = HubGatedRepoError("403 gated", response=response)
    with pytest.raises(GatedRepoError, match=r"gated repository .* https://huggingface.co/org/gated"):
        load_pretrained(_raises(error), "org/gated", what="generator pipeline")


def test_a_missing_package_during_loading_says_what_to_install():
    error = ModuleNotFoundError("No module named 'sentencepiece'", name="sentencepiece")
    with pytest.raises(MissingDependencyError, match="pip install sentencepiece"):
        load_pretrained(_raises(error), "org/model", what="captioner processor")


def test_other_errors_keep_their_traceback():
    with pytest.raises(ZeroDivisionError):
        load_pretrained(_raises(ZeroDivisionError()), "org/model", what="model")


def test_require_package_names_the_purpose():
    assert require_package("json", purpose="x").dumps([]) == "[]"
    with pytest.raises(MissingDependencyError, match="the thing needs the Python package 'no-such-pkg'"):
        require_package("no_such_module_xyz", package="no-such-pkg", purpose="the thing")


def test_out_of_memory_names_the_batch_size_to_try():
    with (
        pytest.raises(AdapterOutOfMemoryError) as raised,
        oom_guard("composite", "generating", 8, device="cuda:0"),
    ):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert (
        str(raised.value)
        == "composite: out of memory generating a batch of 8 on cuda:0; retry with --batch-size 4."
    )
    assert raised.value.exit_code == 3
    hint = "(or --adapter-arg cpu_offload=true)"
    with (
        pytest.raises(AdapterOutOfMemoryError, match=r"even at --batch-size 1 .*cpu_offload"),
        oom_guard("emu3", "captioning", 1, hint=hint),
    ):
        raise torch.OutOfMemoryError("CUDA out of memory")
    with pytest.raises(RuntimeError, match="shape mismatch"), oom_guard("emu3", "captioning", 2):
        raise RuntimeError("shape mismatch")


def test_weights_present_checks_folders_and_the_hub_cache_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert not weights_present(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert weights_present(str(tmp_path))
    assert not weights_present("nobody-here/no-such-model")


def test_describe_needs_reports_what_is_missing(tmp_path):
    manifest = AdapterManifest(
        name="x",
        factory="x:y",
        weights=(WeightsRequirement(str(tmp_path / "absent"), size_gb=2.5, gated=True, role="generator"),),
        gpu_memory_gb=12,
        packages=("openai", "no-such-distribution-xyz"),
    )
    needs = describe_needs(manifest)
    assert needs.weights == [f"generator: {tmp_path / 'absent'}, 2.5 GB, gated"]
    assert needs.gpu_memory == "~12 GB" and not needs.ready
    assert needs.missing == [
        f"{tmp_path / 'absent'} (not downloaded)",
        "pip install no-such-distribution-xyz",
    ]
    assert not describe_needs(AdapterManifest(name="y", factory="y:z")).declared


def test_memory_options_apply_to_a_real_pipeline(tmp_path):
    from diffusers import StableDiffusionPipeline

    from tests._tiny_adapters import build_tiny_stable_diffusion

    pipeline = StableDiffusionPipeline.from_pretrained(build_tiny_stable_diffusion(tmp_path / "sd"))
    options = PipelineMemoryOptions(
        cpu_offload="model", attention_slicing=True, vae_tiling=True, vae_slicing=True
    )
    applied = apply_pipeline_memory_options(pipeline, options, torch.device("cpu"))
    assert applied == ["attention_slicing", "vae_tiling", "vae_slicing"]  # no offloading without a GPU
    assert pipeline.vae.use_tiling and pipeline.vae.use_slicing


def test_adapters_list_shows_every_builtin_adapter_and_its_needs(cli, monkeypatch):
    from unified_bench.cli import output

    monkeypatch.setattr(output.stdout, "width", 250)
    result = cli("adapters", "list")
    assert result.code == 0
    for name in ("janus-pro", "emu3", "composite", "precomputed", "openai-api"):
        assert name in result.out
    assert "deepseek-community/Janus-Pro-7B" in result.out and "GPU memory: estimated" in result.out
