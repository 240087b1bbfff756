"""The two round trips: ``i2t2i`` (image -> caption -> image) and ``t2i2t`` (prompt -> image -> caption).

One adapter serves both: ``caption`` and ``generate`` are the same calls, only their order and what
is scored change. Everything a run writes records its direction, and nothing compares across them.
"""

from __future__ import annotations

from unified_bench.errors import InputError

I2T2I = "i2t2i"  # Unified-Bench: caption a reference image, draw it back, score image vs image
T2I2T = "t2i2t"  # draw a prompt, caption the drawing, score caption vs prompt
DIRECTIONS: tuple[str, ...] = (I2T2I, T2I2T)
DEFAULT_DIRECTION = I2T2I


def check_direction(direction: str) -> str:
    """``direction`` if it is one of ``DIRECTIONS``, else one clear line."""
    if direction not in DIRECTIONS:
        raise InputError(
            f"--direction {direction}: use {I2T2I} (image -> caption -> image) or {T2I2T} "
            "(prompt -> image -> caption)."
        )
    return direction


def direction_of(recorded: str | None) -> str:
    """The direction a results file records; files written before directions existed are i2t2i."""
    return recorded or DEFAULT_DIRECTION


def default_dataset(direction: str) -> str:
    """The dataset a run of ``direction`` gets without ``--dataset``."""
    return "unified-prompts" if direction == T2I2T else "unibench"
