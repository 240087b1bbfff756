"""The adapter interface: how the harness talks to a model.

An adapter is two halves of one model: ``caption`` (I2T, the encoder) and ``generate`` (T2I, the
decoder). Only the caption text crosses from one to the other (``protocol = "text"``). Each sample
carries its own seed, so outputs never depend on batch size, batch composition or sharding.

Every adapter implements ``Adapter`` (``caption``, ``generate``, ``info``). Beyond that, an adapter
may declare optional capabilities, each a small protocol below (``TakesSampleIds``,
``NeedsReferences``, ``ReportsPromptUsage``). The harness reads them once per run through
``capabilities(adapter)`` and nowhere else; an adapter that declares none gets the defaults, so a
minimal adapter is the three methods. docs/extending.md walks through writing one.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from unified_bench.errors import UserError
from unified_bench.typed_values import SettingError, parse_typed


@runtime_checkable
class Adapter(Protocol):
    """What every model adapter provides (the optional capabilities are below)."""

    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        """One caption per image; ``seeds[i]`` drives every random draw for ``images[i]``."""
        ...

    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        """One image per prompt at ``size`` (width, height; ``None`` = the model's default)."""
        ...

    def info(self) -> dict[str, Any]:
        """Model ids, revisions, dtype and every generation setting: goes into provenance (adapter.json).

        Read when the adapter is built and again after the round trip, so what an adapter learns while
        running (e.g. ``openai-api``'s determinism probe) is recorded too."""
        ...


# -- optional capabilities -----------------------------------------------------------------------
# Each is declared by the adapter as a class attribute, property or method of the name below; the
# harness never calls a capability an adapter does not declare. ``capabilities`` is the one place
# that looks them up.


@runtime_checkable
class TakesSampleIds(Protocol):
    """The adapter needs to know *which* sample it is working on (e.g. ``precomputed``, which serves
    stored outputs by id).

    With ``takes_sample_ids = True`` the harness passes ``ids=[...]`` (the sample ids, in the order of
    the images or prompts) as one more keyword to every ``caption`` and ``generate`` call, so the
    signatures become ``caption(images, *, seeds, ids)`` and ``generate(prompts, *, seeds, size, ids)``.
    Absent (the default): no ``ids`` keyword; outputs must depend only on the inputs and seeds.
    """

    takes_sample_ids: bool


@runtime_checkable
class NeedsReferences(Protocol):
    """The generator also looks at the reference image (a ``native`` protocol round trip, where the
    understanding half hands the generator more than text).

    When ``generate_needs_references`` is true (a class attribute or a property, e.g. true only when
    the adapter was built with ``protocol="native"``), the harness passes ``references=[...]`` (the
    reference images, one per prompt) as one more keyword of ``generate``. Absent or false (the
    default): ``generate`` sees only the captions. Declare ``"native"`` in the manifest's
    ``protocols`` too, or the CLI refuses ``--protocol native``.
    """

    generate_needs_references: bool


@runtime_checkable
class ReportsPromptUsage(Protocol):
    """The generator can say how much of each caption its text encoders actually read.

    After every ``generate`` call the harness calls ``prompt_usage(prompts)`` with the same prompts;
    it returns one mapping per prompt (e.g. ``{"t5": {"tokens": 301, "kept": 256, "truncated": true}}``)
    or ``None`` when it cannot tell. The mappings are stored in ``prompt_usage.jsonl`` and summarised
    in the results (``captions.prompt_usage``), so a truncated caption is reported, not silently cut.
    Absent (the default): nothing is recorded.
    """

    def prompt_usage(self, prompts: list[str]) -> list[dict[str, Any]] | None: ...


@dataclass(frozen=True)
class Capabilities:
    """The optional capabilities one adapter declares, each at its default when absent."""

    takes_sample_ids: bool = False
    generate_needs_references: bool = False
    prompt_usage: Callable[[list[str]], list[dict[str, Any]] | None] | None = None


def capabilities(adapter: object) -> Capabilities:
    """What ``adapter`` declares beyond the ``Adapter`` protocol (see the protocols above)."""
    usage = adapter.prompt_usage if isinstance(adapter, ReportsPromptUsage) else None
    return Capabilities(
        takes_sample_ids=isinstance(adapter, TakesSampleIds) and bool(adapter.takes_sample_ids),
        generate_needs_references=isinstance(adapter, NeedsReferences)
        and bool(adapter.generate_needs_references),
        prompt_usage=usage if callable(usage) else None,
    )


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
    # How to get it running, printed in full under `adapters list`: the commands that start its
    # servers or create its environment, then notes (where defaults come from, what is unverified).
    setup: tuple[str, ...] = ()


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


class AdapterArgError(UserError):
    """An ``--adapter-arg`` that the adapter's config does not have or cannot parse."""


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
    try:
        return name, parse_typed(raw, typing.get_type_hints(config_cls)[name])
    except SettingError as error:
        raise AdapterArgError(f"--adapter-arg {key}={raw}: {error}.") from None


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
