"""Where things are inside a leaderboard folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from unified_bench.errors import InputError

DEFAULT_LEADERBOARD_DIR = Path("leaderboard")


@dataclass(frozen=True)
class LeaderboardDir:
    """``root/schema/submission.schema.json``, ``root/official-fingerprints.json``,
    ``root/submissions/NAME.json``, ``root/verified/NAME.json`` (written by ``leaderboard verify``)
    and ``root/reported.json``."""

    root: Path = DEFAULT_LEADERBOARD_DIR

    @property
    def submission_schema(self) -> Path:
        return self.root / "schema" / "submission.schema.json"

    @property
    def reported_schema(self) -> Path:
        return self.root / "schema" / "reported.schema.json"

    @property
    def registry(self) -> Path:
        return self.root / "official-fingerprints.json"

    @property
    def submissions(self) -> Path:
        return self.root / "submissions"

    @property
    def verified(self) -> Path:
        return self.root / "verified"

    def verification_path(self, name: str) -> Path:
        return self.verified / f"{name}.json"

    @property
    def reported(self) -> Path:
        return self.root / "reported.json"

    def submission_path(self, name: str) -> Path:
        return self.submissions / f"{name}.json"

    def submission_files(self) -> list[Path]:
        return sorted(self.submissions.glob("*.json")) if self.submissions.is_dir() else []

    def check(self, needs_registry: bool = True) -> LeaderboardDir:
        """Raise one line when this is not a leaderboard folder (``needs_registry``: with its own
        official-fingerprints file, unless ``--registry`` names another)."""
        for path in (self.submission_schema, self.registry)[: 2 if needs_registry else 1]:
            if not path.is_file():
                raise InputError(
                    f"{self.root}: not a leaderboard folder ({path.name} missing); run from a clone of "
                    "unified-bench or pass --leaderboard-dir PATH/leaderboard."
                )
        return self
