"""Known-answer learning (the DDPO way): each shipped tiny config, run as a user runs it, moves its
objective the way the objective asks, on the harness's own scorers.

For every stage, ``unified-bench train uae --stage S --config tiny-S`` writes at least 16 step
records to ``metrics.jsonl``; the last quarter of the per-step ``loss`` (sft, cold-start) is below
the first quarter's, or the last quarter of the per-step ``reward_mean`` (g4u, u4g) above it, by a
one-sided Welch t-test at p < 0.01; the RL stages log a finite, bounded KL to the reference.
Each config runs with its shipped seed; g4u, whose signal is the subtlest, with two more seeds.
Marked ``learning`` (minutes of CPU): CI runs them as a separate step (``pytest -m learning``).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

from tests._tiny_training import single_torch_thread, welch_p_value  # noqa: F401 (fixture)
from unified_bench_adapters.uae.train.metrics_log import read_metrics

pytestmark = [pytest.mark.learning, pytest.mark.usefixtures("single_torch_thread")]

# What the CLI run skips to stay short: held-out evaluation and checkpoints (neither changes training).
QUIET = ("--set", "eval_every=0", "--set", "save_every=0", "--set", "report_to=none")
OBJECTIVE = {
    "sft": ("loss", "less"),
    "cold-start": ("loss", "less"),
    "g4u": ("reward_mean", "greater"),
    "u4g": ("reward_mean", "greater"),
}
KL_BOUND = 1.0  # nats per token (g4u) / per step mean (u4g); a policy running away shows up far above
# The shipped seed of each config, and two more for g4u, whose signal is the subtlest. On uae-tiny-v1
# (caption-blind decoder, near-uniform captioner) tiny-g4u fails seeds 0 and 1 (p = 1) and passes
# seed 2 by a 4e-5 effect (p = 0.0015); on v3 it passes seeds 0 to 5 (the weakest, 5: p = 0.004).
CASES = [("sft", 0), ("cold-start", 0), ("g4u", 0), ("g4u", 1), ("g4u", 2), ("u4g", 0)]


@pytest.mark.parametrize(("stage", "seed"), CASES)
def test_tiny_config_learns_its_objective(stage, seed, cli, tmp_path):
    output = tmp_path / f"{stage}-seed{seed}"
    command = ("train", "uae", "--stage", stage, "--config", f"tiny-{stage}", "-o", output, *QUIET)
    result = cli(*command, "--set", f"seed={seed}")
    assert result.code == 0, result.err[-2000:]
    if os.environ.get("UNIFIED_BENCH_TEST_ARTIFACTS"):  # keep the curve (CI uploads the folder)
        artifacts = Path(os.environ["UNIFIED_BENCH_TEST_ARTIFACTS"]) / "learning"
        artifacts.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(output / "metrics.jsonl", artifacts / f"tiny-{stage}-seed{seed}.metrics.jsonl")
    records = [r for r in read_metrics(output) if r["kind"] == "train"]
    assert len(records) >= 16 and [r["step"] for r in records] == list(range(1, len(records) + 1))
    key, alternative = OBJECTIVE[stage]
    values = [r[key] for r in records]
    quarter = len(values) // 4
    first, last = values[:quarter], values[-quarter:]
    p_value = welch_p_value(first, last, alternative=alternative)
    assert p_value < 0.01, (key, first, last, p_value)
    if stage in ("g4u", "u4g"):
        kl = [r["kl"] for r in records]
        assert all(math.isfinite(value) and 0 <= value < KL_BOUND for value in kl), kl
        assert max(kl) > 0  # the policy did move away from the reference
