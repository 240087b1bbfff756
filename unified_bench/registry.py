"""Adapter registry, fed by the ``unified_bench.adapters`` entry-point group.

A third party adds a model by shipping a package that declares an entry point pointing at an
``AdapterManifest``; nothing here imports the adapter's code until it is resolved.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from unified_bench.adapter import Adapter, AdapterManifest, AdapterOptions, resolve_lazy
from unified_bench.errors import UnknownNameError

ENTRY_POINT_GROUP = "unified_bench.adapters"


class AdapterRegistry:
    """Names and aliases to manifests; an alias clash is an error, never a silent override."""

    def __init__(self) -> None:
        self._manifests: dict[str, AdapterManifest] = {}
        self._names: dict[str, str] = {}

    def register(self, manifest: AdapterManifest) -> None:
        for key in (manifest.name, *manifest.aliases):
            owner = self._names.get(key)
            if owner is not None and owner != manifest.name:
                raise ValueError(f"adapter name {key!r} is claimed by both {owner!r} and {manifest.name!r}")
            self._names[key] = manifest.name
        self._manifests[manifest.name] = manifest

    def manifests(self) -> list[AdapterManifest]:
        return [self._manifests[name] for name in sorted(self._manifests)]

    def manifest(self, name: str) -> AdapterManifest:
        try:
            return self._manifests[self._names[name]]
        except KeyError:
            raise UnknownNameError("adapter", name, list(self._names)) from None

    def build(self, name: str, options: AdapterOptions) -> Adapter:
        """Import the adapter's factory and build it."""
        manifest = self.manifest(name)
        return resolve_lazy(manifest.factory)(options)

    def source_fingerprint(self, name: str, options: AdapterOptions) -> str | None:
        """The fingerprint of the stored outputs an adapter serves, or ``None`` if it computes them."""
        manifest = self.manifest(name)
        if not manifest.source_fingerprint:
            return None
        return resolve_lazy(manifest.source_fingerprint)(options)


@lru_cache(maxsize=1)
def default_registry() -> AdapterRegistry:
    """The registry of every installed adapter (entry points are read once per process)."""
    registry = AdapterRegistry()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        manifest = entry_point.load()
        if not isinstance(manifest, AdapterManifest):
            raise TypeError(f"entry point {entry_point.name!r} must point at an AdapterManifest")
        registry.register(manifest)
    return registry
