"""Loading model weights and packages with one-line errors, and the memory options big models need.

Every adapter loads through ``load_pretrained`` so a missing folder, an uncached hub id, a gated repo or
a missing package reads the same way everywhere: what was looked for, and how to get it. ``oom_guard``
turns an out-of-memory error into one line naming the batch size to try. Nothing here imports torch at
module level.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from unified_bench.errors import MissingDependencyError, MissingWeightsError, UserError
from unified_bench.paths import local_path

if TYPE_CHECKING:
    from unified_bench.adapter import AdapterManifest

T = TypeVar("T")

# Files that mark a complete checkpoint folder: transformers models/processors, diffusers pipelines.
CHECKPOINT_MARKERS = ("config.json", "model_index.json", "preprocessor_config.json", "processor_config.json")


class GatedRepoError(MissingWeightsError):
    """A Hub repository that needs its licence accepted (and a token) before download."""


class AdapterOutOfMemoryError(UserError):
    """A batch did not fit in device memory."""

    exit_code = 3


def _download_hint(source: str, arg: str | None) -> str:
    local = f" or pass a local folder with --adapter-arg {arg}=PATH" if arg else " or pass a local folder"
    return f"run `hf download {source}` on a machine with internet access{local}"


def _in_chain(error: BaseException, names: tuple[str, ...]) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ in names:
            return current
        current = current.__cause__ or current.__context__
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def explain_load_error(
    error: BaseException, source: str, *, what: str, arg: str | None = None
) -> UserError | None:
    """The one-line ``UserError`` for a failed ``from_pretrained(source)``, or ``None`` if it is a bug.

    Args:
        error: what ``from_pretrained`` raised.
        source: the hub id or local path that was asked for.
        what: a few words naming the component ("Janus-Pro model", "captioner processor").
        arg: the ``--adapter-arg`` key that sets ``source``, for the hint.
    """
    missing_module = _in_chain(error, ("ModuleNotFoundError",))
    if isinstance(missing_module, ModuleNotFoundError) and missing_module.name:
        package = missing_module.name.split(".")[0]
        return MissingDependencyError(
            f"{what} {source}: needs the Python package {package!r}, which is not installed; "
            f"pip install {package}"
        )
    if _in_chain(error, ("GatedRepoError",)) or "gated repo" in str(error).lower():
        return GatedRepoError(
            f"{what} {source}: gated repository on the Hugging Face Hub; accept its licence at "
            f"https://huggingface.co/{source}, log in (`hf auth login` or HF_TOKEN), then rerun; "
            f"{_download_hint(source, arg).replace('run ', 'or run ', 1)}"
        )
    path = local_path(source)
    if path is not None:
        if not path.exists():
            return MissingWeightsError(
                f"{what}: no folder at {path}; check the path or pass a Hub id instead."
            )
        if isinstance(error, (OSError, ValueError)):
            markers = [name for name in CHECKPOINT_MARKERS if (path / name).exists()]
            found = f"found {', '.join(markers)}" if markers else "no config.json or model_index.json"
            return MissingWeightsError(
                f"{what}: {path} is not a loadable checkpoint ({found}; {_first_line(error)}); "
                "point to a folder written by save_pretrained."
            )
        return None
    if _in_chain(error, ("RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError")) and not (
        _in_chain(error, ("LocalEntryNotFoundError", "OfflineModeIsEnabled"))
    ):
        return MissingWeightsError(
            f"{what} {source}: not found on the Hugging Face Hub ({_first_line(error)}); "
            "check the id and revision, or pass a local folder."
        )
    if isinstance(error, OSError) or _in_chain(error, ("LocalEntryNotFoundError", "OfflineModeIsEnabled")):
        return MissingWeightsError(
            f"{what} {source}: weights are not in the local Hugging Face cache and could not be "
            f"downloaded (offline or no access); {_download_hint(source, arg)}."
        )
    return None


def load_pretrained(
    loader: Callable[..., T], source: str, *, what: str, arg: str | None = None, **kwargs: Any
) -> T:
    """``loader(source, **kwargs)`` (any ``from_pretrained``), with user-fixable failures as one line.

    Raises:
        MissingWeightsError: no such folder, an uncached/unreachable hub id, or an incomplete checkpoint.
        GatedRepoError: the Hub repo needs its licence accepted.
        MissingDependencyError: loading needs a package that is not installed.

    Example:
        >>> from transformers import AutoConfig  # doctest: +SKIP
        >>> load_pretrained(AutoConfig.from_pretrained, "/no/such/dir", what="captioner")  # doctest: +SKIP
        Traceback (most recent call last):
        unified_bench.errors.MissingWeightsError: captioner: no folder at /no/such/dir; ...
    """
    path = local_path(source)
    if path is not None and not path.exists():
        raise MissingWeightsError(f"{what}: no folder at {path}; check the path.")
    if path is not None:
        source = str(path)
    try:
        return loader(source, **kwargs)
    except Exception as error:
        explained = explain_load_error(error, source, what=what, arg=arg)
        if explained is None:
            raise
        raise explained from error


def model_load_kwargs(
    *, revision: str | None, dtype: Any, attn_implementation: str | None, offload: bool
) -> dict[str, Any]:
    """``from_pretrained`` keywords shared by the transformers adapters (``device_map`` when offloading)."""
    kwargs: dict[str, Any] = {"revision": revision, "dtype": dtype}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if offload:
        kwargs["device_map"] = "auto"
    return kwargs


def install_hint(distribution: str, extra: str | None = None) -> str:
    """``pip install 'unified-bench[EXTRA]'`` where one of our extras has the package, else the package."""
    return f"pip install 'unified-bench[{extra}]'" if extra else f"pip install {distribution}"


def require_package(
    module: str, *, package: str | None = None, purpose: str, extra: str | None = None
) -> ModuleType:
    """Import ``module`` or raise ``MissingDependencyError`` saying which package to install and why.

    Args:
        package: the pip distribution, where it differs from the module name.
        extra: the unified-bench extra that installs it (``api``, ``captions``, ``train``, ...).
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] != module.split(".")[0]:
            raise
        distribution = package or module
        raise MissingDependencyError(
            f"{purpose} needs the Python package {distribution!r}; {install_hint(distribution, extra)}"
        ) from None


def package_installed(distribution: str) -> bool:
    """Whether a distribution (pip name) is installed, without importing it."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def weights_present(source: str) -> bool:
    """Whether ``source`` (local folder or hub id) is on disk now, without any network access."""
    path = local_path(source)
    if path is not None:
        return path.is_file() or any((path / marker).exists() for marker in CHECKPOINT_MARKERS)
    from huggingface_hub import try_to_load_from_cache

    for marker in CHECKPOINT_MARKERS:
        cached = try_to_load_from_cache(source, marker)
        if isinstance(cached, str) and os.path.exists(cached):
            return True
    return False


# -- memory ----------------------------------------------------------------------------------------
OffloadMode = Literal["none", "model", "sequential"]


@dataclass(frozen=True)
class PipelineMemoryOptions:
    """Diffusers memory savers; each is a no-op where the pipeline does not offer it."""

    cpu_offload: OffloadMode = "none"
    attention_slicing: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False


def apply_pipeline_memory_options(pipeline: Any, options: PipelineMemoryOptions, device: Any) -> list[str]:
    """Place a diffusers pipeline on ``device`` with the requested savers; returns the ones applied.

    ``model`` offload keeps one component at a time on the GPU (fast, ~half the memory); ``sequential``
    streams layer by layer (slow, least memory). Offloading only means something on an accelerator.
    """
    applied: list[str] = []
    accelerator = getattr(device, "type", str(device)) != "cpu"
    if options.cpu_offload != "none" and accelerator:
        require_package("accelerate", purpose="--adapter-arg cpu_offload")
        if options.cpu_offload == "model":
            pipeline.enable_model_cpu_offload(device=device)
        else:
            pipeline.enable_sequential_cpu_offload(device=device)
        applied.append(f"cpu_offload={options.cpu_offload}")
    else:
        pipeline.to(device)
    if options.attention_slicing and hasattr(pipeline, "enable_attention_slicing"):
        pipeline.enable_attention_slicing()
        applied.append("attention_slicing")
    vae = getattr(pipeline, "vae", None)
    if options.vae_tiling and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
        applied.append("vae_tiling")
    if options.vae_slicing and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
        applied.append("vae_slicing")
    return applied


def _is_out_of_memory(error: BaseException) -> bool:
    return type(error).__name__ == "OutOfMemoryError" or "out of memory" in str(error).lower()


@contextmanager
def oom_guard(
    adapter: str, stage: str, batch_size: int, *, device: Any = None, hint: str = ""
) -> Iterator[None]:
    """Turn an out-of-memory error inside the block into one line with the batch size to try.

    Args:
        adapter: adapter name for the message.
        stage: "captioning" or "generating".
        batch_size: how many samples the failing call held.
        hint: an extra remedy, e.g. "or --adapter-arg cpu_offload=model".
    """
    try:
        yield
    except (RuntimeError, MemoryError) as error:
        if not _is_out_of_memory(error):
            raise
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
        where = f" on {device}" if device is not None else ""
        remedy = (
            f"retry with --batch-size {max(1, batch_size // 2)}"
            if batch_size > 1
            else "it fails even at --batch-size 1"
        )
        extra = f" {hint}" if hint else ""
        raise AdapterOutOfMemoryError(
            f"{adapter}: out of memory {stage} a batch of {batch_size}{where}; {remedy}{extra}."
        ) from None


# -- what an adapter needs, for `unified-bench adapters list` ---------------------------------------
# Adapter packages that one of unified-bench's extras installs.
ADAPTER_EXTRAS: dict[str, str] = {"openai": "api"}


@dataclass(frozen=True)
class AdapterNeeds:
    """A manifest's requirements in words, and which of them are missing on this machine."""

    weights: list[str]
    gpu_memory: str
    packages: list[str]
    missing: list[str]
    declared: bool  # False: the manifest states no needs at all, so readiness is unknown

    @property
    def ready(self) -> bool:
        return self.declared and not self.missing


def describe_needs(manifest: AdapterManifest) -> AdapterNeeds:
    """Read an ``AdapterManifest``'s optional needs and check them offline (no download, no import)."""
    weights, packages, missing = [], [], []
    for requirement in manifest.weights:
        size = f", {requirement.size_gb:g} GB" if requirement.size_gb is not None else ""
        role = f"{requirement.role}: " if requirement.role else ""
        gated = ", gated" if requirement.gated else ""
        weights.append(f"{role}{requirement.source}{size}{gated}")
        if not weights_present(requirement.source):
            missing.append(f"{requirement.source} (not downloaded)")
    for distribution in manifest.packages:
        packages.append(distribution)
        if not package_installed(distribution):
            missing.append(install_hint(distribution, ADAPTER_EXTRAS.get(distribution)))
    gpu = manifest.gpu_memory_gb
    gpu_memory = "unknown" if gpu is None else ("none" if gpu == 0 else f"~{gpu:g} GB")
    declared = bool(weights or packages or gpu is not None)
    return AdapterNeeds(weights, gpu_memory, packages, missing, declared)
