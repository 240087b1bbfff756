"""Named scorer sets for ``--scorer-set``: ``tiny`` (offline, random weights), ``paper``, ``all``.

``tiny`` is what the demo scores with: the tiny random-weight checkpoints of the real scorer classes
(``unified_bench.scorers.tiny``) plus the scorers that need no weights, so any ``run`` or ``score``
can be compared with the demo offline. ``--scorer`` entries are added to a set, and one naming a
scorer of the set replaces that scorer's entry.
"""

from __future__ import annotations

from collections.abc import Sequence

SCORER_SETS: tuple[str, ...] = ("tiny", "paper", "all")
# Scorers that need no weights, computed on the tiny set as in a real run.
WEIGHTLESS_SCORERS = ("ssim", "psnr", "caption_words", "bleu4", "rougeL", "cider")
T2I2T_WEIGHTLESS = ("quoted_text", "quoted_text_edit")


def tiny_scorer_specs(direction: str = "i2t2i") -> tuple[str, ...]:
    """``NAME=PATH`` for every scorer of ``direction`` with tiny local weights, plus the weightless
    ones; scorers whose optional package (``unified-bench[scorers]``) is not installed are left out."""
    from unified_bench.loading import package_installed
    from unified_bench.preflight import SCORER_EXTRAS
    from unified_bench.scorers.registry import default_scorers
    from unified_bench.scorers.tiny import ensure_tiny_scorer_weights

    wanted = default_scorers(direction)
    local = {name: path for name, path in ensure_tiny_scorer_weights().items() if name in wanted}
    weightless = [name for name in WEIGHTLESS_SCORERS + T2I2T_WEIGHTLESS if name in wanted]
    specs = [f"{name}={path}" for name, path in local.items()] + weightless
    return tuple(
        spec
        for spec in specs
        if (package := SCORER_EXTRAS.get(spec.split("=")[0], (None, None))[0]) is None
        or package_installed(package)
    )


def check_scorer_set(scorer_set: str | None) -> None:
    from unified_bench.errors import UserError

    if scorer_set is not None and scorer_set not in SCORER_SETS:
        raise UserError(f"--scorer-set {scorer_set!r}: unknown; use one of {', '.join(SCORER_SETS)}.")


def resolve_scorers(
    scorers: Sequence[str] | None, scorer_set: str | None, direction: str = "i2t2i"
) -> tuple[str, ...] | None:
    """The scorer specs a run uses: the set's, with ``scorers`` added (same name: theirs wins).
    ``None`` means every scorer of ``direction`` with its official weights."""
    from unified_bench.scorers.registry import PAPER_SCORERS

    check_scorer_set(scorer_set)
    if scorer_set is None or (scorer_set == "all" and not scorers):
        return tuple(scorers) if scorers else None
    if scorer_set == "all":
        from unified_bench.scorers.registry import default_scorers

        base: tuple[str, ...] = tuple(default_scorers(direction))
    else:
        base = tiny_scorer_specs(direction) if scorer_set == "tiny" else PAPER_SCORERS
    chosen = {spec.split("=")[0].strip(): spec for spec in base}
    chosen.update({spec.split("=")[0].strip(): spec for spec in scorers or ()})
    return tuple(chosen.values())
