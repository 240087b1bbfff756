"""Regenerate docs/img from demo runs (offline): report.png, report-390.png, report-compare.png,
leaderboard.png and leaderboard-mobile.png.

    python docs/img/make_screenshots.py [WORK_DIR]   # needs the dev extra and chromium + chromium-driver

WORK_DIR (default: a temporary folder, removed afterwards) keeps the runs, so a rerun resumes them.

Runs the demo configuration (uae-tiny, tiny random scorers, the 8 bundled photos) under three seeds
with ``--repeats``, builds a report of the first seed, a two-run report (seed 2 against seed 1) and
a demo leaderboard (its own registry of the demo fingerprints, labelled as a demo; every entry
submitted with its outputs, two of them verified by re-scoring), and screenshots them in headless
Chromium (the report and the leaderboard also at 390 px).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests._browser import full_page_screenshot, headless_chromium, open_page, phone_screenshot  # noqa: E402
from unified_bench.evaluate import RunRequest, ScoringOptions  # noqa: E402
from unified_bench.leaderboard import LeaderboardDir, OfficialRegistry  # noqa: E402
from unified_bench.leaderboard.site import build_site  # noqa: E402
from unified_bench.leaderboard.submit import submit_run  # noqa: E402
from unified_bench.leaderboard.verify import describe_failure, verify_submission  # noqa: E402
from unified_bench.quiet import third_party_silenced  # noqa: E402
from unified_bench.repeats import execute_repeats  # noqa: E402
from unified_bench.report import build_report  # noqa: E402
from unified_bench.report.compare_page import build_comparison_report  # noqa: E402
from unified_bench.results import read_results  # noqa: E402
from unified_bench.scorers.sets import tiny_scorer_specs  # noqa: E402
from unified_bench.scorers.tiny import ensure_tiny_scorer_weights  # noqa: E402

NOTICE = (
    "Demo leaderboard: uae-tiny and the scorers have random weights, on the 8 bundled sample photos. "
    "The numbers are meaningless; they only show what the site looks like."
)


def _shrink(path: Path, max_height: int) -> None:
    """Crop to ``max_height`` and store as an optimised 256-colour PNG (commit-sized)."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        image = image.crop((0, 0, image.width, min(image.height, max_height)))
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            path, optimize=True
        )


def main(work: Path | None = None, target: Path = REPO / "docs" / "img") -> None:
    keep = work is not None
    work = Path(work) if keep else Path(tempfile.mkdtemp(prefix="unified-bench-screens-"))
    shutil.rmtree(work / "leaderboard", ignore_errors=True)
    request = RunRequest(
        model="uae-tiny",
        dataset="samples",
        output=work / "runs" / "uae-tiny",
        scoring=ScoringOptions(scorers=tiny_scorer_specs()),
    )
    with third_party_silenced():
        combined = execute_repeats(request, 3)
    first = request.output / combined.repeats["runs"][0]

    report = build_report(first, work / "report.html")
    second = request.output / combined.repeats["runs"][1]
    two_runs = build_comparison_report(first, second, work / "report-compare.html")
    results = read_results(first)
    registry = OfficialRegistry.of_run(results, notice=NOTICE)
    board_root = work / "leaderboard"
    shutil.copytree(REPO / "leaderboard" / "schema", board_root / "schema")
    (board_root / "submissions").mkdir()
    (board_root / "official-fingerprints.json").write_text(json.dumps(registry.to_json()))
    board = LeaderboardDir(board_root)
    entries = [
        (f"uae-tiny-seed{s}", request.output / r)
        for s, r in zip(combined.repeats["seeds"], combined.repeats["runs"], strict=True)
    ]
    entries.append(("uae-tiny-3-seeds", request.output))
    for name, run_dir in entries:
        _, problems = submit_run(
            run_dir,
            name=name,
            url="https://example.org/uae-tiny",
            params=None,
            license="apache-2.0",
            org="demo",
            leaderboard=board,
            registry=registry,
            outputs=work / "outputs" / f"{name}.zip",
            overwrite=True,
        )
        if problems:
            raise SystemExit("\n".join(map(str, problems)))
    # Re-score two entries from their outputs (one of them the 3-seed one): they show as verified.
    tiny = ensure_tiny_scorer_weights()
    for name in ("uae-tiny-seed0", "uae-tiny-3-seeds"):
        verified = verify_submission(
            name,
            leaderboard=board,
            registry=registry,
            dataset="samples",
            scorers=[f"{scorer}={tiny[scorer]}" for scorer in registry.scorers],
        )
        if not verified.passed:
            raise SystemExit(describe_failure(verified))
    site = build_site(
        work / "site", leaderboard=board, registry=registry, title="Unified-Bench leaderboard (demo)"
    )

    target.mkdir(parents=True, exist_ok=True)
    with headless_chromium(width=1280, height=900) as driver:
        pages = (
            (report, "report.png", 2300),
            (two_runs, "report-compare.png", 1500),
            (site, "leaderboard.png", 1100),
        )
        for page, name, height in pages:
            errors = open_page(driver, page)
            if errors:
                raise SystemExit(f"{page}: console errors: {errors}")
            shot = full_page_screenshot(driver, target / name, max_height=height)
            _shrink(shot, height)
            print(f"{shot} ({shot.stat().st_size // 1024} KiB)")
        for page, name, height in ((site, "leaderboard-mobile.png", 1700), (report, "report-390.png", 2200)):
            open_page(driver, page)  # on a 390 px phone
            shot = phone_screenshot(driver, target / name, width=390, max_height=height)
            _shrink(shot, height)
            print(f"{shot} ({shot.stat().st_size // 1024} KiB)")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
