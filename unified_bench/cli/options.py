"""Options shared by several commands, defined once (``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

import typer

QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Only the results table and errors: no progress, no notes.")
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also show third-party progress bars, logging and warnings.")
]
