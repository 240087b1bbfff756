"""The offline demo run (uae-tiny on the bundled photos, tiny scorers), made once per test session.

Report, leaderboard and browser tests read the same run; it lives in the session cache, so a
second call only finds it there.
"""

from __future__ import annotations

from pathlib import Path


def demo_run(session_cache: Path) -> Path:
    target = Path(session_cache) / "demo-run-for-reports"
    if not (target / "results.json").is_file():
        from unified_bench.demo import run_demo

        run_demo(target)
    return target
