"""The adapter interface: how the harness talks to a model.

An adapter is two halves of one model: ``caption`` (I2T, the encoder) and ``generate`` (T2I, the
decoder). Only the caption text crosses from one to the other (``protocol = "text"``). Each sample
carries its own seed, so outputs never depend on batch size, batch composition or sharding.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from unified_bench.errors import UserError


@runtime_checkable
class Adapter(Protocol):
    """What every model adapter provides."""

    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        """One caption per image; ``seeds[i]`` drives every random draw for ``images[i]``."""
        ...

    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        """One image per prompt at ``size`` (width, height; ``None`` = the model's default)."""
        ...

    def info(self) -> dict[str, Any]:
        """Model ids, revisions, dtype and every generation setting: goes into provenance."""
        ...


@dataclass(frozen=True)
class AdapterOptions:
    """What the CLI hands an adapter factory: free-form ``--adapter-arg`` strings plus placement."""

    args: Mapping[str, str] = field(default_factory=dict)
    device: str | None = None
    dtype: str | None = None
    protocol: str = "text"  # one of the manifest's protocols; "native" only where the adapter offers it


@dataclass(frozen=True)
class WeightsRequirement:
    """Weights an adapter downloads by default: a hub id (or local path) and its download size."""

    source: str
    size_gb: float | None = None
    gated: bool = False  # the Hub repo needs its licence accepted and a token
    role: str = ""  # e.g. "captioner", "generator"


@dataclass(frozen=True)
class AdapterManifest:
    """Registers an adapter without importing it: ``factory`` is a lazy ``module:callable`` path.

    The callable takes an ``AdapterOptions`` and returns an ``Adapter``. The optional needs
    (``weights``, ``gpu_memory_gb``, ``packages``) are what ``unified-bench adapters list`` shows.
    """

    name: str
    factory: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    protocols: tuple[str, ...] = ("text",)
    weights: tuple[WeightsRequirement, ...] = ()
    gpu_memory_gb: float | None = None  # peak at batch size 1 with the default settings (estimate)
    packages: tuple[str, ...] = ()  # pip distributions needed beyond unified-bench's own dependencies
    # For adapters that serve outputs stored elsewhere (``precomputed``): a lazy ``module:callable``
    # taking the ``AdapterOptions`` and returning a fingerprint of those outputs. It is part of the
    # run spec, so changed outputs make a different run instead of being silently ignored.
    source_fingerprint: str = ""
    # A lazy ``module:Class`` path of the adapter's config dataclass (the one its factory builds
    # with ``config_from_args``): preflight checks every ``--adapter-arg`` against it before loading.
    config: str = ""


def resolve_lazy(path: str) -> Any:
    """The object a lazy ``module:attribute`` path of a manifest names (its module is imported now)."""
    import importlib

    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def manifest_config_class(manifest: Any) -> type | None:
    """The manifest's config dataclass, or None when it names none or its module cannot be imported
    (a missing package is reported on its own)."""
    path = getattr(manifest, "config", "")
    if not path:
        return None
    try:
        return resolve_lazy(path)
    except ImportError:
        return None


def takes_sample_ids(adapter: object) -> bool:
    """Adapters that set ``takes_sample_ids = True`` (e.g. ``precomputed``) also get ``ids=[...]``,
    the sample ids in the same order, as a keyword of ``caption`` and ``generate``."""
    return bool(getattr(adapter, "takes_sample_ids", False))


class AdapterArgError(UserError):
    """An ``--adapter-arg`` that the adapter's config does not have or cannot parse."""


def _parse_value(raw: str, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if raw.lower() in ("none", "null", ""):
            return None
        return _parse_value(raw, options[0], key)
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        if raw not in choices:
            raise AdapterArgError(
                f"--adapter-arg {key}={raw}: expected one of {', '.join(map(str, choices))}."
            )
        return raw
    try:
        if annotation is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if annotation in (int, float, str):
            return annotation(raw)
    except ValueError:
        raise AdapterArgError(f"--adapter-arg {key}={raw}: expected a {annotation.__name__}.") from None
    raise AdapterArgError(f"--adapter-arg {key}: this setting cannot be given on the command line.")


def parse_adapter_arg(config_cls: type, key: str, raw: str) -> tuple[str, Any]:
    """``(field name, typed value)`` of one ``--adapter-arg KEY=VALUE`` for ``config_cls``.

    Raises:
        AdapterArgError: the config has no such field (the message lists the valid ones), or the
            value does not parse as the field's type.
    """
    fields = {f.name for f in dataclasses.fields(config_cls) if f.init}
    name = key.replace("-", "_")
    if name not in fields:
        valid = ", ".join(sorted(fields))
        raise AdapterArgError(
            f"--adapter-arg {key}: unknown setting for {config_cls.__name__}. Valid: {valid}."
        )
    return name, _parse_value(raw, typing.get_type_hints(config_cls)[name], key)


def adapter_arg_problems(config_cls: type, args: Mapping[str, str]) -> list[str]:
    """One message per ``--adapter-arg`` that ``config_from_args`` would refuse (nothing is built)."""
    problems = []
    for key, raw in args.items():
        try:
            parse_adapter_arg(config_cls, key, raw)
        except AdapterArgError as error:
            problems.append(str(error))
    return problems


def config_from_args(config_cls: type, args: Mapping[str, str], **overrides: Any) -> Any:
    """Build a config dataclass from ``--adapter-arg KEY=VALUE`` strings, typed by its fields.

    Unknown keys raise ``AdapterArgError`` listing the valid ones.
    """
    values = dict(parse_adapter_arg(config_cls, key, raw) for key, raw in args.items())
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return config_cls(**values)
    except (ValueError, TypeError) as error:
        raise AdapterArgError(f"{config_cls.__name__}: {error}") from None


# Field metadata a config dataclass may carry (``field(metadata={...: True})``):
COMMAND_LINE = "command_line"  # a command line to run: preflight checks its first word, not the whole value
OUTPUT_PATH = "output_path"  # a file the adapter writes: preflight checks its folder, not the file
NOT_IN_RUN_SPEC = "not_in_run_spec"  # cannot change outputs (timeouts, retries, logs): resuming may change it


def settings_marked(config_cls: type, marker: str) -> set[str]:
    """Names of the config fields whose metadata sets ``marker``."""
    return {f.name for f in dataclasses.fields(config_cls) if f.metadata.get(marker)}


def run_spec_adapter_args(config_cls: type | None, args: Mapping[str, str]) -> dict[str, str]:
    """The ``--adapter-arg`` settings that belong to the run spec: all but those ``NOT_IN_RUN_SPEC``."""
    if config_cls is None:
        return dict(args)
    dropped = settings_marked(config_cls, NOT_IN_RUN_SPEC)
    return {key: value for key, value in args.items() if key.replace("-", "_") not in dropped}
