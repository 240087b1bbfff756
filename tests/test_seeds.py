"""Per-sample seeds depend on (run seed, sample id, stage) and nothing else, the same in every process.

The expected values are a fixed table: the formula is written out here (sha256 of
``unified-bench:{run_seed}:{stage}:{id}``, first 8 bytes little-endian, top bit cleared) and the
table holds what it gave, so a change of the formula, or a seed that drops the id or the stage, fails.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from unified_bench.seeds import sample_seed

# (run seed, sample id, stage) -> seed
TABLE = {
    (0, "astronaut", "caption"): 2567383332876588205,
    (0, "astronaut", "generate"): 3607569863796859748,
    (0, "coffee", "caption"): 485663935306049724,
    (0, "coffee", "generate"): 113715179551720858,
    (1, "astronaut", "caption"): 221905497596965689,
    (1, "astronaut", "generate"): 2889518097005797461,
    (1, "coffee", "caption"): 6965522269063002487,
    (1, "coffee", "generate"): 6885346684752088266,
}


def _formula(run_seed: int, sample_id: str, stage: str) -> int:
    digest = hashlib.sha256(f"unified-bench:{run_seed}:{stage}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % 2**63


def test_the_table_is_what_the_formula_gives():
    assert {key: _formula(*key) for key in TABLE} == TABLE


def test_sample_seeds_are_the_table():
    assert {key: sample_seed(*key) for key in TABLE} == TABLE


def test_seeds_differ_across_ids_across_stages_and_across_run_seeds():
    assert len(set(TABLE.values())) == len(TABLE)
    for run_seed in (0, 1):
        for stage in ("caption", "generate"):
            assert sample_seed(run_seed, "astronaut", stage) != sample_seed(run_seed, "coffee", stage)
        for sample_id in ("astronaut", "coffee"):
            assert sample_seed(run_seed, sample_id, "caption") != sample_seed(run_seed, sample_id, "generate")


def test_seeds_are_the_same_in_another_process():
    """No per-process salt (Python's str hash is salted per process; a seed built on it would drift)."""
    code = (
        "from unified_bench.seeds import sample_seed\n"
        f"for key in {list(TABLE)!r}:\n"
        "    print(sample_seed(*key))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    ).stdout
    assert [int(line) for line in output.split()] == list(TABLE.values())


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="stage must be one of"):
        sample_seed(0, "astronaut", "draw")
