"""``leaderboard validate --base GIT_REF``: judge a pull request by what it changes, not by its checkout.

A contributor's change may only add submissions. Everything else under the leaderboard folder (the
official registry, ``verified/``, the schemas, other submissions) is maintainers' data, changed in
their own commits: a change that adds a submission and also touches any of it is refused. The
registry the new submissions are checked against is the base's (``git show BASE:...``), never the
one in the checkout, and the submissions already in the base count as the earlier ones when two are
the same run.

Git runs in the repository that holds the leaderboard folder; the change is ``BASE...HEAD`` (from
their merge base to the checked-out commit), as a pull request shows it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from unified_bench.errors import InputError
from unified_bench.io import loads_strict
from unified_bench.leaderboard.layout import LeaderboardDir
from unified_bench.leaderboard.registry import OfficialRegistry
from unified_bench.leaderboard.validate import Problem, Submission, validate_paths

_GIT_TIMEOUT_S = 60


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise InputError("--base needs git on PATH.") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(f"--base: git {' '.join(args[:2])} in {root}: {reason}")
    return done.stdout


@dataclass(frozen=True)
class Change:
    """What ``BASE...HEAD`` does to one leaderboard folder (paths relative to the repository root)."""

    repository: Path
    base: str
    folder: PurePosixPath  # the leaderboard folder inside the repository
    added_submissions: tuple[PurePosixPath, ...]
    maintainer_edits: tuple[tuple[str, PurePosixPath], ...]  # (git status letter, path)

    @classmethod
    def read(cls, leaderboard: LeaderboardDir, base: str) -> Change:
        """Raises ``InputError`` (one line) when the folder is not in a git repository or ``base``
        is not a revision there."""
        root = leaderboard.root.resolve()
        repository = Path(_git(root, "rev-parse", "--show-toplevel").strip())
        _git(repository, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
        folder = PurePosixPath(root.relative_to(repository).as_posix())
        listing = _git(repository, "diff", "--name-status", "--no-renames", "-z", f"{base}...HEAD", "--")
        fields = listing.split("\0")
        added, edits = [], []
        for status, name in zip(fields[0::2], fields[1::2], strict=False):
            path = PurePosixPath(name)
            if folder != PurePosixPath(".") and folder not in path.parents:
                continue
            inside = path.relative_to(folder) if folder != PurePosixPath(".") else path
            if status == "A" and inside.parent == PurePosixPath("submissions") and inside.suffix == ".json":
                added.append(path)
            else:
                edits.append((status, path))
        return cls(repository, base, folder, tuple(added), tuple(edits))

    def added_paths(self) -> list[Path]:
        return [self.repository / p for p in self.added_submissions]

    def problems(self) -> list[tuple[str, str]]:
        """(where, message) for each maintainer file a change that adds submissions also edits."""
        if not self.added_submissions:
            return []
        added = ", ".join(p.name for p in self.added_submissions)
        verbs = {"A": "adds", "D": "deletes", "M": "edits"}
        return [
            (
                str(self.repository / path),
                f"this change {verbs.get(status, 'changes')} it and adds submissions ({added}): the "
                "registry, verified/, the schemas and other submissions change only in maintainers' own "
                f"commits; submit the new file alone (checked against {self.base})",
            )
            for status, path in self.maintainer_edits
        ]

    def base_registry(self, leaderboard: LeaderboardDir) -> OfficialRegistry | None:
        """The official registry as it is in the base (None: the base has none)."""
        path = self.folder / leaderboard.registry.name
        spec = f"{self.base}:{path.as_posix()}"
        try:
            text = _git(self.repository, "show", spec)
        except InputError:
            return None
        source = f"{spec} (git)"
        try:
            obj = loads_strict(text)
        except ValueError as error:
            raise InputError(f"{source}: not valid JSON ({error}).") from None
        if not isinstance(obj, dict):
            raise InputError(f"{source}: expected a JSON object.")
        return OfficialRegistry.from_json(obj, source=source)


def validate_change(
    leaderboard: LeaderboardDir, base: str, *, registry: OfficialRegistry | None = None
) -> tuple[list[Problem], list[Submission], OfficialRegistry]:
    """Validate what ``BASE...HEAD`` adds (every submission, when it adds none) against the base's
    registry (or ``registry``), refusing edits of maintainers' files next to new submissions.

    Returns:
        (problems, accepted submissions, the registry they were checked against).
    """
    change = Change.read(leaderboard, base)
    official = registry or change.base_registry(leaderboard) or OfficialRegistry.read(leaderboard.registry)
    problems = [Problem(where, message) for where, message in change.problems()]
    found, accepted = validate_paths(change.added_paths() or None, leaderboard=leaderboard, registry=official)
    refused = {p.where for p in problems}
    return problems + found, [s for s in accepted if str(s.path) not in refused], official
