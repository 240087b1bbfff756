"""``unified-bench submit`` and ``unified-bench leaderboard validate|build``: thin wrappers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from unified_bench.cli import output as out

if TYPE_CHECKING:
    from unified_bench.leaderboard import Problem

leaderboard_app = typer.Typer(
    help="Validate leaderboard submissions and build the static site.", no_args_is_help=True
)

LeaderboardDirOpt = Annotated[
    Path,
    typer.Option("--leaderboard-dir", help="The leaderboard data folder (schema/, submissions/, registry)."),
]


def _print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        out.error(str(problem))


def submit(
    run_dir: Annotated[Path, typer.Argument(help="A finished run folder (or its results.json).")],
    name: Annotated[str, typer.Option(help="Entry name, unique; the file is submissions/NAME.json.")],
    url: Annotated[str, typer.Option(help="Model card, paper or code (https://...).")],
    params: Annotated[str | None, typer.Option(help="Parameter count: 7000000000, 7B or 350M.")] = None,
    license: Annotated[str | None, typer.Option("--license", help="The model's licence.")] = None,
    org: Annotated[str | None, typer.Option(help="Organisation.")] = None,
    leaderboard_dir: LeaderboardDirOpt = Path("leaderboard"),
    overwrite: Annotated[bool, typer.Option(help="Replace an existing submission of this name.")] = False,
) -> None:
    """Check a run against every leaderboard rule and write leaderboard/submissions/NAME.json."""
    from unified_bench.leaderboard import LeaderboardDir
    from unified_bench.leaderboard.submit import parse_params, submit_run

    path, problems = submit_run(
        run_dir,
        name=name,
        url=url,
        params=parse_params(params),
        license=license,
        org=org,
        leaderboard=LeaderboardDir(leaderboard_dir),
        overwrite=overwrite,
    )
    if problems:
        _print_problems(problems)
        out.hint(f"{len(problems)} problem(s); nothing was written.")
        raise typer.Exit(1)
    out.note(f"Submission: {path} (open a pull request with this file).")


@leaderboard_app.command("validate")
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Submission files or folders. Default: every file in LEADERBOARD_DIR/submissions.",
            show_default=False,
        ),
    ] = None,
    leaderboard_dir: LeaderboardDirOpt = Path("leaderboard"),
) -> None:
    """Check submissions: schema, official fingerprints, recomputed aggregates, unique names."""
    from unified_bench.leaderboard import LeaderboardDir, validate_paths

    problems, accepted = validate_paths(paths or None, leaderboard=LeaderboardDir(leaderboard_dir))
    if problems:
        _print_problems(problems)
        raise typer.Exit(1)
    out.note(f"{len(accepted)} submission(s) valid.")


@leaderboard_app.command("build")
def build(
    output: Annotated[Path, typer.Option("--output", "-o", help="Site folder (index.html, JSON, CSV).")],
    leaderboard_dir: LeaderboardDirOpt = Path("leaderboard"),
    title: Annotated[str, typer.Option(help="Page title.")] = "Unified-Bench leaderboard",
) -> None:
    """Build the static leaderboard site from the validated submissions."""
    from unified_bench.leaderboard import LeaderboardDir
    from unified_bench.leaderboard.site import build_site

    index = build_site(output, leaderboard=LeaderboardDir(leaderboard_dir), title=title)
    out.note(f"Site: {index}")
