"""The isolation every test gets (docs/testing.md), and the check that fails a test without it."""

from __future__ import annotations

import os

import pytest

from tests.conftest import isolation_problem


def test_a_test_body_runs_offline_without_ranks_and_with_a_temp_cache(tmp_path_factory):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert "RANK" not in os.environ and "WORLD_SIZE" not in os.environ
    assert isolation_problem(os.environ, tmp_path_factory.getbasetemp()) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"HF_HUB_OFFLINE": None}, "HF_HUB_OFFLINE=None, not '1'"),
        ({"HF_HUB_OFFLINE": "0"}, "HF_HUB_OFFLINE='0', not '1'"),
        ({"RANK": "1"}, "RANK set"),
        ({"RANK": "0", "WORLD_SIZE": "2"}, "RANK, WORLD_SIZE set"),
        ({"UNIFIED_BENCH_CACHE": None}, "UNIFIED_BENCH_CACHE=None is not under pytest's temp folder"),
        ({"UNIFIED_BENCH_CACHE": "/home/user/.cache/unified-bench"}, "is not under pytest's temp folder"),
    ],
)
def test_the_check_names_what_is_missing(tmp_path, change, problem):
    isolated = {"UNIFIED_BENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    environment = {k: v for k, v in {**isolated, **change}.items() if v is not None}
    found = isolation_problem(environment, tmp_path)
    assert found is not None and problem in found
    assert isolation_problem(isolated, tmp_path) is None
