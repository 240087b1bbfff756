"""Check what a run needs before the first model loads, and report every problem at once.

A missing scorer checkpoint used to surface after the round trip (on UAE: GPU hours and a 26 GB
load), one scorer per rerun, and a checkpoint of the wrong model was scored without complaint. Here,
before anything is generated: every scorer spec is parsed, every scorer's weights are resolved (local
path, else the Hugging Face cache, else a download where the network allows), each transformers
checkpoint's ``config.json`` must name the model the scorer runs, the optional packages scorers and
the adapter need must be installed, and, offline, the adapter's default weights must be cached.
Nothing is loaded: only files are looked at (and, online, downloaded as the run would anyway).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unified_bench.adapter import (
    COMMAND_LINE,
    OUTPUT_PATH,
    AdapterManifest,
    adapter_arg_problems,
    manifest_config_class,
    settings_marked,
)
from unified_bench.errors import UserError
from unified_bench.loading import install_hint
from unified_bench.paths import local_path

# Optional packages and the pip extra that installs them, per scorer.
SCORER_EXTRAS: dict[str, tuple[str, str]] = {
    "lpips": ("lpips", "lpips"),
    "bleu4": ("pycocoevalcap", "captions"),
    "rougeL": ("pycocoevalcap", "captions"),
    "cider": ("pycocoevalcap", "captions"),
    "sbert": ("sentence-transformers", "sbert"),
}


class PreflightError(UserError):
    """Everything a run needs but lacks, found before any model was loaded."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = f"{self.problems[0]} Nothing was run."
        else:
            listed = "".join(f"\n  - {p}" for p in self.problems)
            count = len(self.problems)
            message = f"{count} problems found before loading any model; nothing was run:{listed}"
        super().__init__(message)


@dataclass(frozen=True)
class ScorerWeights:
    """How a scorer's weights are found: a transformers folder of given model types, or one file."""

    default: str
    model_types: tuple[str, ...] = ()  # accepted config.json model_type of a transformers checkpoint
    filename: str | None = None  # single-file weights: a file, a folder holding it, or a hub repo
    resolve_file: Callable[[str | None], Path] | None = None  # weights found by the scorer's own rule
    hint: str = ""


def _scorer_weights(name: str) -> ScorerWeights | None:
    """What ``name`` loads; ``None`` for scorers without weights. Imports the scorer's module."""
    if name in ("clip", "clipscore", "clip_t2t"):
        from unified_bench.scorers.clip import CLIP_MODEL_ID

        return ScorerWeights(CLIP_MODEL_ID, model_types=("clip",))
    if name == "dinov2":
        from unified_bench.scorers.dino import DINOV2_MODEL_ID

        return ScorerWeights(DINOV2_MODEL_ID, model_types=("dinov2",))
    if name == "dinov3":
        from unified_bench.scorers.dino import DINOV3_GATED_HINT, DINOV3_MODEL_ID

        return ScorerWeights(DINOV3_MODEL_ID, model_types=("dinov3_vit",), hint=DINOV3_GATED_HINT)
    if name in ("longclip", "longclipscore", "longclip_t2t"):
        from unified_bench.scorers.longclip import LONGCLIP_FILENAME, LONGCLIP_REPO_ID

        return ScorerWeights(LONGCLIP_REPO_ID, filename=LONGCLIP_FILENAME)
    if name == "lpips":
        from unified_bench.scorers.pixel import resolve_alexnet_path

        return ScorerWeights("torchvision AlexNet", resolve_file=resolve_alexnet_path)
    if name == "sbert":  # any sentence-transformers model: no model_type to check
        from unified_bench.scorers.sbert import SBERT_MODEL_ID
        from unified_bench.scorers.weights import resolve_pretrained_dir

        return ScorerWeights(
            SBERT_MODEL_ID,
            resolve_file=lambda model: resolve_pretrained_dir(model or SBERT_MODEL_ID, scorer="sbert").path,
        )
    return None


def _checkpoint_type(folder: Path) -> tuple[str | None, list[str]]:
    """``model_type`` and ``architectures`` from a transformers checkpoint's ``config.json``."""
    try:
        config = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None, []
    if not isinstance(config, dict):
        return None, []
    model_type = config.get("model_type")
    return (model_type if isinstance(model_type, str) else None), list(config.get("architectures") or [])


def _check_weights(names: list[str], model: str | None, weights: ScorerWeights) -> str | None:
    """The problem with one scorer's weights (shared by ``names``, e.g. clip and clipscore), or None."""
    from unified_bench.errors import MissingWeightsError
    from unified_bench.scorers.weights import resolve_pretrained_dir, resolve_weights_file

    label, first = ", ".join(names), names[0]
    try:
        if weights.resolve_file is not None:
            weights.resolve_file(model)
            return None
        if weights.filename is not None:
            resolve_weights_file(model or weights.default, weights.filename, scorer=first, hint=weights.hint)
            return None
        resolved = resolve_pretrained_dir(model or weights.default, scorer=first, hint=weights.hint)
    except MissingWeightsError as error:
        if len(names) == 1:
            return str(error)
        others = ", ".join(f"{name}=PATH" for name in names[1:])
        return f"{label}: {str(error).removeprefix(f'{first}: ')} (and --scorer {others})"
    model_type, architectures = _checkpoint_type(resolved.path)
    if model_type in weights.model_types:
        return None
    found = f"a {model_type!r} checkpoint" if model_type else "a checkpoint without a model_type"
    if architectures:
        found += f" ({', '.join(architectures)})"
    wanted = " or ".join(repr(t) for t in weights.model_types)
    return (
        f"{label}: {resolved.path} holds {found}, but {first} runs a {wanted} model; "
        f"pass --scorer {first}=PATH to a {wanted} checkpoint (default: {weights.default})."
    )


def scorer_problems(specs: Sequence[str] | None) -> list[str]:
    """Every problem with these scorer specs (``None``: the default set), without loading a model."""
    from unified_bench.loading import package_installed
    from unified_bench.scorers import DEFAULT_SCORERS
    from unified_bench.scorers.registry import parse_scorer_spec

    problems: list[str] = []
    parsed: list[tuple[str, str | None]] = []
    for spec in specs or DEFAULT_SCORERS:
        try:
            name, model = parse_scorer_spec(spec)
        except UserError as error:
            problems.append(str(error))
            continue
        if any(name == seen for seen, _ in parsed):
            problems.append(f"scorer {name!r} is given twice; each scorer name may appear once.")
            continue
        parsed.append((name, model))

    missing_packages: dict[tuple[str, str], list[str]] = {}
    by_weights: dict[tuple[Any, ...], tuple[list[str], str | None, ScorerWeights]] = {}
    for name, model in parsed:
        package, extra = SCORER_EXTRAS.get(name, (None, None))
        if package and not package_installed(package):
            missing_packages.setdefault((package, extra), []).append(name)
            continue
        weights = _scorer_weights(name)
        if weights is None:
            continue
        key = (weights.default, weights.filename, weights.model_types, model)
        by_weights.setdefault(key, ([], model, weights))[0].append(name)
    for (package, extra), names in missing_packages.items():
        one = len(names) == 1
        problems.append(
            f"{', '.join(names)}: need{'s' if one else ''} the Python package {package!r}; "
            f"{install_hint(package, extra)}, or leave {'it' if one else 'them'} out with --scorer."
        )
    for names, model, weights in by_weights.values():
        problem = _check_weights(names, model, weights)
        if problem:
            problems.append(problem)
    return problems


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def adapter_problems(manifest: AdapterManifest, adapter_args: Mapping[str, str]) -> list[str]:
    """Missing packages of an adapter, and (offline) its default weights absent from the cache.

    Cheap: a cache lookup per declared weight, no load. Weights are only checked when no
    ``--adapter-arg`` points somewhere else (a value with a ``/``: a local path or another hub id).
    """
    from unified_bench.loading import ADAPTER_EXTRAS, package_installed, weights_present

    problems = []
    config_cls = manifest_config_class(manifest)
    command_lines = settings_marked(config_cls, COMMAND_LINE) if config_cls is not None else set()
    outputs = settings_marked(config_cls, OUTPUT_PATH) if config_cls is not None else set()
    for key, value in adapter_args.items():
        name = key.replace("-", "_")
        if name in command_lines:
            problem = _command_problem(key, value)
            if problem:
                problems.append(problem)
        elif name in outputs:
            if value and not Path(value).expanduser().parent.is_dir():
                problems.append(f"--adapter-arg {key}={value}: its folder does not exist; create it first.")
        elif _names_a_missing_path(value):
            problems.append(f"--adapter-arg {key}={value}: no such file or folder; check the path.")
    for distribution in manifest.packages:
        if not package_installed(distribution):
            problems.append(
                f"adapter {manifest.name}: needs the Python package {distribution!r}; "
                f"{install_hint(distribution, ADAPTER_EXTRAS.get(distribution))}."
            )
    if config_cls is not None:
        problems += adapter_arg_problems(config_cls, adapter_args)
    overridden = any("/" in value for value in adapter_args.values())
    if _offline() and not overridden:
        for requirement in manifest.weights:
            if not weights_present(requirement.source):
                problems.append(
                    f"adapter {manifest.name}: {requirement.source} is not in the local Hugging Face cache "
                    f"and HF_HUB_OFFLINE is set; run `hf download {requirement.source}` on a machine with "
                    "network, or pass the adapter's local folder with --adapter-arg."
                )
    return problems


def _names_a_missing_path(value: str) -> bool:
    """An ``--adapter-arg`` value spelt like a path (a ``/`` or ``\\``, or a leading ``~`` or ``.``; no
    spaces, no ``://``) that the model-source rule makes a local path, and nothing is there.

    Values of other shapes (``true``, ``-1``, a prompt) are not sources and are not checked.
    """
    shaped = ("/" in value or "\\" in value or value.startswith(("~", "."))) and "://" not in value
    if not shaped or any(character.isspace() for character in value):
        return False
    path = local_path(value)
    return path is not None and not path.exists()


def _command_problem(key: str, value: str) -> str | None:
    """What is wrong with a command line's program (its first word), or None: a command is not a path."""
    import shlex
    import shutil

    try:
        words = shlex.split(value)
    except ValueError as error:
        return f"--adapter-arg {key}: cannot split {value!r} like a shell would ({error}); check the quotes."
    if not words:
        return f"--adapter-arg {key}: empty; give the command that starts the worker."
    program = words[0]
    if "/" in program:
        path = Path(program).expanduser()
        if not path.exists():
            return f"--adapter-arg {key}: {program}: no such file; check the path of the program to run."
        if not os.access(path, os.X_OK) or path.is_dir():
            return f"--adapter-arg {key}: {program}: not an executable file."
        return None
    if shutil.which(program) is None:
        return f"--adapter-arg {key}: {program}: no such program on PATH; give its full path."
    return None


def preflight(
    scorer_specs: Sequence[str] | None,
    *,
    manifest: AdapterManifest | None = None,
    adapter_args: Mapping[str, str] | None = None,
) -> None:
    """Raise ``PreflightError`` listing every problem of a run's scorers (and adapter, if given).

    Example:
        >>> preflight(["ssim", "psnr"])  # weightless scorers: nothing to check
        >>> preflight(["ssim", "clipp"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        unified_bench.preflight.PreflightError: Unknown scorer 'clipp'. Did you mean 'clip'? ...
    """
    problems = adapter_problems(manifest, adapter_args or {}) if manifest is not None else []
    problems += scorer_problems(scorer_specs)
    if problems:
        raise PreflightError(problems)
