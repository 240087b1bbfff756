"""The leaderboard: submissions (``submit``), their validation and the static site (``build``).

The data lives in a ``leaderboard/`` folder (``schema/``, ``submissions/``, the official
fingerprints, the reported-not-reproduced table); the code that checks and renders it lives here.
"""

from unified_bench.leaderboard.layout import LeaderboardDir
from unified_bench.leaderboard.registry import OfficialRegistry
from unified_bench.leaderboard.validate import Problem, validate_paths, validate_submission

__all__ = ["LeaderboardDir", "OfficialRegistry", "Problem", "validate_paths", "validate_submission"]
