"""Scorers: frozen vision encoders, pixel metrics and caption metrics, built by name.

The registry maps each name to a lazy ``module:factory`` path, so listing scorers or parsing
``--scorers`` never imports torch; a scorer's module loads only when it is built.

>>> parse_scorer_spec("clip=/models/my-clip")
('clip', '/models/my-clip')
>>> "clip" in scorer_names()
True
"""

from __future__ import annotations

from unified_bench.scorers.registry import (
    CAPTION_SCORERS,
    DEFAULT_SCORERS,
    INFORMATIONAL_SCORERS,
    PAPER_SCORERS,
    PIXEL_SCORERS,
    SCORER_FACTORIES,
    BuildContext,
    build_scorers,
    parse_scorer_spec,
    scorer_names,
)

__all__ = [
    "CAPTION_SCORERS",
    "DEFAULT_SCORERS",
    "INFORMATIONAL_SCORERS",
    "PAPER_SCORERS",
    "PIXEL_SCORERS",
    "SCORER_FACTORIES",
    "BuildContext",
    "build_scorers",
    "parse_scorer_spec",
    "scorer_names",
]
