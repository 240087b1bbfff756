"""Mutation testing, one load-bearing module at a time: ``python tests/mutation.py MODULE``.

mutmut mutates every function of the module and runs, for each mutant, only the tests of the
module's selection that called the mutated function. A module's selection is the few test files
that exercise it (MODULES below), which keeps a run to minutes on two cores.

Each module runs from scratch in its own copy (``.mutation/<name>/``, git-ignored): the tracked
files, with ``adapters/`` copied to ``unified_bench_adapters/`` (the name it imports as: mutmut
names mutants after file paths, and the editable install would otherwise import the unmutated
folder), and a pyproject whose ``[tool.mutmut]`` table gets this module's ``only_mutate`` and test
selection. It prints the count per outcome and each survivor's diff; docs/testing.md records the
scores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
SCRATCH = REPO / ".mutation"

# module file -> the tests that exercise it (pytest node ids or files)
MODULES: dict[str, list[str]] = {
    "unified_bench/stats.py": ["tests/test_stats.py", "tests/test_compare_mutants.py"],
    "unified_bench/compare/types.py": ["tests/test_compare.py", "tests/test_compare_mutants.py"],
    "unified_bench/compare/checks.py": ["tests/test_compare.py", "tests/test_compare_mutants.py"],
    "unified_bench/compare/gate.py": ["tests/test_compare.py", "tests/test_compare_mutants.py"],
    "unified_bench/compare/sizing.py": ["tests/test_compare.py", "tests/test_compare_mutants.py"],
    "unified_bench/compare/render.py": ["tests/test_compare.py", "tests/test_compare_mutants.py"],
    "unified_bench/store.py": ["tests/test_store.py"],
    "unified_bench/sampling.py": ["tests/test_adapter_sampling.py", "tests/test_sampling_warpers.py"],
    "unified_bench/scoring.py": ["tests/test_scoring.py"],
    "unified_bench/scorers/functional.py": ["tests/test_scorers.py", "tests/test_scorer_functional.py"],
    "unified_bench/scorers/embedding.py": ["tests/test_train_rewards.py"],
    "unified_bench/scorers/pixel.py": ["tests/test_scorers.py"],
    "adapters/uae/train/grpo.py": ["tests/test_train_maths.py", "tests/test_train_maths_edges.py"],
    "adapters/uae/train/sde.py": ["tests/test_train_maths.py", "tests/test_train_maths_edges.py"],
    "adapters/uae/train/rewards.py": ["tests/test_train_rewards.py"],
    "adapters/uae/train/policy.py": ["tests/test_train_stages.py"],
    "adapters/uae/encoder.py": ["tests/test_uae_native.py", "tests/test_uae_parts.py"],
    "unified_bench/seeds.py": ["tests/test_seeds.py"],
    "unified_bench/matching.py": ["tests/test_sharding_and_matching.py", "tests/test_score_pairing.py"],
    "unified_bench/merge.py": ["tests/test_merge.py"],
    # a package: every module in it (mutmut's glob)
    "unified_bench/leaderboard/*": ["tests/test_leaderboard.py", "tests/test_leaderboard_verify.py"],
}


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0") if name]


def scratch_path(name: str) -> str:
    """Where a tracked file goes in the scratch copy: ``adapters/`` under its import name."""
    if name.startswith("adapters/"):
        return "unified_bench_adapters/" + name.removeprefix("adapters/")
    return name


def sync_copy(target: Path) -> None:
    """Copy the tracked files that differ into ``target`` (mutmut re-tests only what changed)."""
    for name in tracked_files():
        source, destination = REPO / name, target / scratch_path(name)
        if not source.is_file():
            continue
        if destination.is_file() and destination.read_bytes() == source.read_bytes():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def write_config(target: Path, module: str, tests: list[str]) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    base = pyproject.get("tool", {}).get("mutmut", {})
    settings = {
        **base,
        "source_paths": ["unified_bench", "unified_bench_adapters"],
        "only_mutate": [scratch_path(module)],
        "pytest_add_cli_args_test_selection": tests,
    }
    table = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    text = (REPO / "pyproject.toml").read_text("utf-8")
    start = text.find("[tool.mutmut]")
    if start != -1:
        end = text.find("\n[", start + 1)
        text = text[:start] + text[end + 1 :] if end != -1 else text[:start]
    (target / "pyproject.toml").write_text(text.rstrip() + "\n\n[tool.mutmut]\n" + table + "\n", "utf-8")


def run(module: str, max_children: int, *, survivors_only: bool = False, diffs: bool = False) -> int:
    target = SCRATCH / Path(module.removesuffix("/*")).with_suffix("").as_posix().replace("/", ".")
    target.mkdir(parents=True, exist_ok=True)
    sync_copy(target)
    write_config(target, module, MODULES[module])
    if not survivors_only:
        # mutmut keeps verdicts across runs and re-tests only changed functions, not changed tests.
        shutil.rmtree(target / "mutants", ignore_errors=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def mutmut(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mutmut", *args]
        return subprocess.run(command, cwd=target, env=env, capture_output=capture, text=True)

    def outcomes() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for line in mutmut("results", "--all", "true", capture=True).stdout.splitlines():
            name, _, outcome = line.strip().rpartition(": ")
            if name:
                found.setdefault(outcome, []).append(name)
        return found

    # --survivors: re-test only the last run's survivors and unchecked mutants (after adding tests),
    # keeping the other verdicts.
    previous = outcomes() if survivors_only else {}
    names = [name for key in ("survived", "no tests", "not checked") for name in previous.get(key, [])]
    code = mutmut("run", "--max-children", str(max_children), *names).returncode
    final = outcomes()
    for name in final.get("survived", []):
        changed = []
        if diffs:
            diff = mutmut("show", name, capture=True).stdout.splitlines()
            changed = [f"    {row}" for row in diff if row[:1] in "+-" and row[:3] not in ("+++", "---")]
        print(name, *changed, sep="\n")
    total = sum(len(names) for names in final.values())
    # A mutant that makes the tests hang (timeout) is caught too.
    killed = len(final.get("killed", [])) + len(final.get("timeout", []))
    counts = ", ".join(f"{len(names)} {outcome}" for outcome, names in sorted(final.items()))
    print(f"{module}: {killed}/{total} killed ({100 * killed / max(total, 1):.1f}%): {counts}")
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", choices=sorted(MODULES), help="the module file to mutate")
    parser.add_argument("--max-children", type=int, default=1, help="parallel test processes (default 1)")
    parser.add_argument("--survivors", action="store_true", help="re-test only the last run's survivors")
    parser.add_argument("--diffs", action="store_true", help="print each survivor's diff (slow)")
    arguments = parser.parse_args()
    options = {"survivors_only": arguments.survivors, "diffs": arguments.diffs}
    raise SystemExit(run(arguments.module, arguments.max_children, **options))


if __name__ == "__main__":
    main()
