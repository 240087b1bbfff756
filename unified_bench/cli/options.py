"""Options shared by several commands, defined once (``Annotated`` aliases)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Only the results table and errors: no progress, no notes.")
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also show third-party progress bars, logging and warnings.")
]
LogFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--log-file",
        help="Also append every message, progress line and error to this file, as plain text.",
        show_default=False,
    ),
]
