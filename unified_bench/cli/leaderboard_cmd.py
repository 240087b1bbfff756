"""``unified-bench submit`` and ``unified-bench leaderboard validate|build|verify|record-official``.

Thin wrappers over ``unified_bench.leaderboard``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from unified_bench.cli import output as out

if TYPE_CHECKING:
    from unified_bench.leaderboard import LeaderboardDir, OfficialRegistry, Problem

leaderboard_app = typer.Typer(
    help="Validate leaderboard submissions, verify their outputs, build the static site.",
    no_args_is_help=True,
)

LeaderboardDirOpt = Annotated[
    Path,
    typer.Option("--leaderboard-dir", help="The leaderboard data folder (schema/, submissions/, registry)."),
]


RegistryOpt = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        help="Official-fingerprints file to check against (a private leaderboard). "
        "Default: LEADERBOARD_DIR/official-fingerprints.json.",
        show_default=False,
    ),
]


def _board(leaderboard_dir: Path, registry: Path | None) -> tuple[LeaderboardDir, OfficialRegistry]:
    from unified_bench.leaderboard import LeaderboardDir, OfficialRegistry

    board = LeaderboardDir(leaderboard_dir).check(registry is None)
    return board, OfficialRegistry.read(registry or board.registry)


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
    outputs: Annotated[
        Path | None,
        typer.Option(
            help="Also pack the run's captions and reconstructions into this zip and record its sha256, "
            "so the entry can be verified (re-scored).",
            show_default=False,
        ),
    ] = None,
    outputs_url: Annotated[
        str | None,
        typer.Option(
            help="https URL where you upload the --outputs zip (e.g. a Hugging Face dataset repo).",
            show_default=False,
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="With --outputs: the official images the outputs are checked against (near-copies are "
            "refused). Default: the registry's dataset.",
            show_default=False,
        ),
    ] = None,
    leaderboard_dir: LeaderboardDirOpt = Path("leaderboard"),
    registry: RegistryOpt = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an existing submission (and --outputs file).")
    ] = False,
) -> None:
    """Check a run against every leaderboard rule and write leaderboard/submissions/NAME.json.

    Needs the official fingerprints recorded in the registry (see leaderboard/README.md).
    """
    from unified_bench.leaderboard.submit import parse_params, submit_run

    board, official = _board(leaderboard_dir, registry)
    path, problems = submit_run(
        run_dir,
        name=name,
        url=url,
        params=parse_params(params),
        license=license,
        org=org,
        leaderboard=board,
        registry=official,
        overwrite=overwrite,
        outputs=outputs,
        outputs_url=outputs_url,
        dataset=dataset,
    )
    if problems:
        _print_problems(problems)
        out.hint(f"{len(problems)} problem(s); nothing was written.")
        raise typer.Exit(1)
    out.note(f"Submission: {path} (open a pull request with this file).")
    if outputs is not None:
        where = f"upload it to {outputs_url}" if outputs_url else "attach it to the pull request"
        out.note(f"Outputs: {outputs}; {where}. A maintainer verifies the entry by re-scoring it.")
    else:
        out.hint("Self-reported: pass --outputs FILE to let the entry be verified.")


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
    registry: RegistryOpt = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Validate the change BASE...HEAD (a pull request): only its new submissions, against "
            "BASE's registry; refused if it also edits the registry, verified/ or other submissions.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check submissions against the benchmark's rules (see leaderboard/README.md); one line per problem."""
    from unified_bench.leaderboard import validate_paths

    if base is not None:
        from unified_bench.errors import UserError
        from unified_bench.leaderboard import LeaderboardDir, OfficialRegistry
        from unified_bench.leaderboard.git_change import validate_change

        if paths:
            raise UserError(
                "--base validates what the change adds: give submission files or --base, not both."
            )
        board = LeaderboardDir(leaderboard_dir).check(needs_registry=False)
        given = OfficialRegistry.read(registry) if registry else None
        problems, accepted, official = validate_change(board, base, registry=given)
    else:
        board, official = _board(leaderboard_dir, registry)
        problems, accepted = validate_paths(paths or None, leaderboard=board, registry=official)
    if problems:
        _print_problems(problems)
        raise typer.Exit(1)
    verified = sum(1 for s in accepted if s.verified)
    out.note(f"{len(accepted)} submission(s) valid ({verified} verified).")
    if official.unrecorded():
        out.hint(
            f"{official.source}: no official fingerprints for {', '.join(official.unrecorded())} yet, so no "
            "submission can be accepted; see leaderboard/README.md."
        )


@leaderboard_app.command("build")
def build(
    output: Annotated[Path, typer.Option("--output", "-o", help="Site folder (index.html, JSON, CSV).")],
    leaderboard_dir: LeaderboardDirOpt = Path("leaderboard"),
    registry: RegistryOpt = None,
    title: Annotated[str, typer.Option(help="Page title.")] = "Unified-Bench leaderboard",
) -> None:
    """Build the static leaderboard site from the validated submissions."""
    from unified_bench.leaderboard.site import build_site

    board, official = _board(leaderboard_dir, registry)
    index = build_site(output, leaderboard=board, registry=official, title=title)
    out.note(f"Site: {index}")


@leaderboard_app.command("verify")
def verify(
    name: Annotated[str, typer.Argument(help="The submission to verify (submissions/NAME.json).")],
    outputs: Annotated[
        str | None,
        typer.Option(
            help="Its outputs archive: a file or an https URL. Default: the location the submission records.",
            show_default=False,
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="The official images (name, folder or manifest). Default: the registry's dataset."),
    ] = None,
    scorer: Annotated[
        list[str] | None,
        typer.Option(
            "--scorer",
            "-s",
            help="NAME=PATH for official scorer weights not at their default location; repeat.",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str | None, typer.Option(help="torch device; default: cuda if present.")] = None,
    dtype: Annotated[
        str | None, typer.Option(help="float32, bfloat16 or float16 (as the submission).")
    ] = None,
    leaderboard_dir: LeaderboardDirOpt = Path("leaderboard"),
    registry: RegistryOpt = None,
) -> None:
    """Re-score a submission's outputs with the official scorers; every per-sample score must match (1e-4).

    On success writes LEADERBOARD_DIR/verified/NAME.json and the site marks the entry verified.
    """
    from unified_bench.leaderboard.verify import VerificationFailed, describe_failure, verify_submission

    board, official = _board(leaderboard_dir, registry)
    report = verify_submission(
        name,
        outputs=outputs,
        leaderboard=board,
        registry=official,
        dataset=dataset,
        scorers=tuple(scorer or ()),
        device=device,
        dtype=dtype,
    )
    if not report.passed:
        raise VerificationFailed(describe_failure(report))
    out.note(
        f"{name}: verified; {report.compared} per-sample scores reproduced (max |diff| "
        f"{report.max_difference:.1e}). Record: {report.record}"
    )


@leaderboard_app.command("record-official")
def record_official(
    run_dir: Annotated[
        Path, typer.Argument(help="A complete reference run on the official images and weights.")
    ],
    leaderboard_dir: LeaderboardDirOpt = Path("leaderboard"),
    registry: RegistryOpt = None,
) -> None:
    """Record a reference run's dataset and scorer fingerprints (and ids) as official (maintainers)."""
    from unified_bench.results import read_results

    board, official = _board(leaderboard_dir, registry)
    extended, added = official.recorded_from(read_results(run_dir))
    if not added:
        out.note(f"{official.source}: already lists every fingerprint of {run_dir}.")
        return
    extended.write(registry or board.registry)
    for line in added:
        out.note(f"recorded {line}")
    out.hint(f"{registry or board.registry}: commit it with the command and weights that made {run_dir}.")
