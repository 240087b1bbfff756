"""Errors a user can fix. The CLI prints each as one line (what, where, what to do) and exits non-zero.

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Base class: ``str(error)`` is the whole message shown to the user."""

    exit_code: int = 2


class InputError(UserError):
    """A dataset, manifest, image, archive or results file is missing or malformed."""


class UnknownNameError(UserError):
    """An adapter or scorer name that is not registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(f"Unknown {kind} {name!r}. Known {kind}s: {', '.join(self.known) or '(none)'}.")


class RunConfigMismatch(UserError):
    """The output folder holds a run made with a different configuration."""


class MissingWeightsError(UserError):
    """Model weights are not on disk and cannot be downloaded here (offline, gated or absent)."""


class MissingDependencyError(UserError):
    """An optional package is not installed."""


class SchemaVersionError(UserError):
    """A results file written by another schema version."""


class MissingSamplesError(UserError):
    """References without a matching reconstruction (score) or samples absent from a run."""

    exit_code = 1
