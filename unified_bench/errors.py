"""Errors a user can fix. The CLI prints each as one line (what, where, what to do) and exits non-zero.

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Base class: ``str(error)`` is the whole message shown to the user."""

    exit_code: int = 2


class InputError(UserError):
    """A dataset, manifest, image, archive or results file is missing or malformed."""


def did_you_mean(name: str, known: list[str] | tuple[str, ...]) -> str:
    """`` Did you mean 'x'?`` for the closest known name (``_``/``-`` and case ignored), else ``""``.

    Example:
        >>> did_you_mean("janus_pro", ["janus-pro", "uae"])
        " Did you mean 'janus-pro'?"
    """
    import difflib

    def canonical(text: str) -> str:
        return text.lower().replace("_", "-")

    by_canonical = {canonical(k): k for k in known}
    close = difflib.get_close_matches(canonical(name), list(by_canonical), n=1, cutoff=0.6)
    return f" Did you mean {by_canonical[close[0]]!r}?" if close else ""


class UnknownNameError(UserError):
    """An adapter or scorer name that is not registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(
            f"Unknown {kind} {name!r}.{did_you_mean(name, self.known)} "
            f"Known {kind}s: {', '.join(self.known) or '(none)'}."
        )


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
