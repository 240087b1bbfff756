"""The bugs issue 14 found surviving, re-applied one at a time to a scratch copy: each must fail a test.

``python tests/hand_mutants.py [NAME ...]`` copies the tracked files to ``.mutation/hand/`` (as
``tests/mutation.py`` does), applies one mutant's edit there, runs the tests named to kill it, and
reports ``killed`` (a test failed) or ``SURVIVED``; the copy is restored after each. The chosen
tests first run once on the unmutated copy and must pass there. Exit status 1 if any mutant
survives, or if a mutant's original text is no longer in the code (update the table).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mutation import SCRATCH, scratch_path, sync_copy


@dataclass(frozen=True)
class HandMutant:
    name: str
    path: str
    original: str
    mutated: str
    tests: tuple[str, ...]


TRAIN_REWARDS = "tests/test_train_rewards.py"
STAGES = "tests/test_train_stages.py"
COMPARE_MUTANTS = "tests/test_compare_mutants.py"
MUTANTS = (
    HandMutant(
        "lpips-counted-positively",
        "adapters/uae/train/rewards.py",
        "sign = 1.0 if scorer.higher_is_better else -1.0",
        "sign = 1.0",
        (f"{TRAIN_REWARDS}::test_a_lower_is_better_scorer_counts_against_the_reward",),
    ),
    HandMutant(
        "sampler-ignores-temperature",
        "unified_bench/sampling.py",
        "if self.temperature != 1.0:",
        "if False:",
        ("tests/test_adapter_sampling.py::test_warped_draws_follow_the_warped_softmax",),
    ),
    HandMutant(
        "reply-mask-one-token-early",
        "adapters/uae/encoder.py",
        'reply_mask[:, prompt["input_ids"].shape[1] :] = True',
        'reply_mask[:, prompt["input_ids"].shape[1] - 1 :] = True',
        ("tests/test_uae_native.py::test_positive_rows_are_exactly_the_reply_tokens_counted_by_hand",),
    ),
    HandMutant(
        "reward-preprocessing-bilinear",
        "unified_bench/scorers/embedding.py",
        "mode=mode, align_corners=False, antialias=True",
        'mode="bilinear", align_corners=False, antialias=True',
        (f"{TRAIN_REWARDS}::test_tensor_preprocessing_is_the_official_resize_crop_and_normalisation",),
    ),
    HandMutant(
        "reward-preprocessing-no-antialias",
        "unified_bench/scorers/embedding.py",
        "mode=mode, align_corners=False, antialias=True",
        "mode=mode, align_corners=False, antialias=False",
        (f"{TRAIN_REWARDS}::test_tensor_preprocessing_is_the_official_resize_crop_and_normalisation",),
    ),
    HandMutant(
        "store-atomic-write-without-fsync",
        "unified_bench/io.py",
        "            os.fsync(handle.fileno())\n        os.replace(tmp, path)",
        "            pass\n        os.replace(tmp, path)",
        ("tests/test_store.py::test_every_write_reaches_the_disk_before_the_run_goes_on",),
    ),
    HandMutant(
        "store-append-without-fsync",
        "unified_bench/io.py",
        "handle.write(lines)\n            handle.flush()\n            os.fsync(handle.fileno())\n",
        "handle.write(lines)\n            handle.flush()\n",
        ("tests/test_store.py::test_every_write_reaches_the_disk_before_the_run_goes_on",),
    ),
    # The RL-stage mutants, killed by the grpo helper's stage tests.
    HandMutant(
        "u4g-advantage-sign-flipped",
        "adapters/uae/train/stages/u4g.py",
        "group.advantages = Advantages(clamped, advantages.zero_std)",
        "group.advantages = Advantages(-clamped, advantages.zero_std)",
        (f"{STAGES}::test_u4g_update_makes_the_image_that_is_the_reference_more_likely",),
    ),
    HandMutant(
        "g4u-rewards-negated",
        "adapters/uae/train/stages/g4u.py",
        "group.rewards = context.reward.score([group.item.sample] * len(images), images)",
        "group.rewards = (lambda r: RewardBatch(-r.total, r.per_scorer))("
        "context.reward.score([group.item.sample] * len(images), images))",
        (f"{STAGES}::test_g4u_update_makes_the_caption_that_reconstructs_the_reference_more_likely",),
    ),
    HandMutant(
        "u4g-kl-sign-flipped",
        "adapters/uae/train/stages/u4g.py",
        "loss = loss + config.kl_beta * kl",
        "loss = loss - config.kl_beta * kl",
        (f"{STAGES}::test_u4g_kl_penalty_pulls_the_policy_back_to_the_reference",),
    ),
    HandMutant(
        "u4g-ppo-clip-disabled",
        "adapters/uae/train/stages/u4g.py",
        "clip_low=config.clip_range,",
        "clip_low=1e9,",
        (f"{STAGES}::test_u4g_ppo_clip_zeroes_the_gradient_of_samples_whose_ratio_left_the_trust_region",),
    ),
    # The two tautologies the issue names: the tests that replaced them must see these.
    HandMutant(
        "embedding-without-l2-normalisation",
        "unified_bench/scorers/embedding.py",
        "        return F.normalize(features.float(), dim=-1).cpu()",
        "        return features.float().cpu()",
        (
            f"{TRAIN_REWARDS}::test_reward_is_the_weighted_sum_of_the_official_cosines",
            f"{TRAIN_REWARDS}::test_both_embeddings_are_the_official_global_feature_l2_normalised",
        ),
    ),
    HandMutant(
        "dino-token-1-instead-of-cls",
        "unified_bench/scorers/dino.py",
        "return self.model(pixel_values=pixel_values).last_hidden_state[:, 0]",
        "return self.model(pixel_values=pixel_values).last_hidden_state[:, 1]",
        (f"{TRAIN_REWARDS}::test_both_embeddings_are_the_official_global_feature_l2_normalised",),
    ),
    # Issue 19: compare mutants that survived its tests.
    HandMutant(
        "compare-baseline-table-unchecked",
        "unified_bench/compare/checks.py",
        "    base = _check_per_sample_table(baseline, scorer, labels[0])",
        "    base = _per_sample(baseline, scorer) or {}",
        (f"{COMPARE_MUTANTS}::test_a_nan_in_an_in_memory_baseline_is_refused_naming_the_baseline",),
    ),
    HandMutant(
        "compare-baseline-ids-unchecked",
        "unified_bench/compare/gate.py",
        "for results, label in zip((baseline, candidate), labels, strict=True):\n        _check_sample_ids(",
        "for results, label in zip((candidate,), labels[1:], strict=True):\n        _check_sample_ids(",
        (f"{COMPARE_MUTANTS}::test_an_empty_in_memory_baseline_is_refused_naming_the_baseline",),
    ),
    HandMutant(
        "compare-candidate-lacking-ids-allowed",
        "unified_bench/compare/checks.py",
        "if (only_base or only_cand) and not allow_partial:",
        "if only_cand and not allow_partial:",
        (f"{COMPARE_MUTANTS}::test_a_candidate_that_only_lacks_ids_is_refused_without_allow_partial",),
    ),
    HandMutant(
        "compare-candidate-lacking-scores-allowed",
        "unified_bench/compare/checks.py",
        "one_sided = [i for i in paired_ids if (i in base) != (i in cand)]",
        "one_sided = [i for i in paired_ids if i in cand and i not in base]",
        (f"{COMPARE_MUTANTS}::test_a_candidate_that_only_lacks_one_score_is_refused_without_allow_partial",),
    ),
    HandMutant(
        "compare-gated-mde-at-alpha",
        "unified_bench/compare/gate.py",
        "mde=minimum_detectable_effect(sd, differences.size, alpha=settings.row_alpha)",
        "mde=minimum_detectable_effect(sd, differences.size, alpha=settings.alpha)",
        (f"{COMPARE_MUTANTS}::test_each_of_several_gated_rows_gets_the_mde_at_the_first_holm_step",),
    ),
)


def run_tests(copy: Path, tests: list[str]) -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider"]
    return subprocess.run([*command, *tests], cwd=copy, capture_output=True, text=True).returncode


def run_mutant(copy: Path, mutant: HandMutant) -> str:
    target = copy / scratch_path(mutant.path)
    original = target.read_text("utf-8")
    if original.count(mutant.original) != 1:
        return "STALE (the original text is not in the code exactly once)"
    target.write_text(original.replace(mutant.original, mutant.mutated), "utf-8")
    try:
        code = run_tests(copy, list(mutant.tests))
    finally:
        target.write_text(original, "utf-8")
    return "killed" if code == 1 else f"SURVIVED (pytest exit {code})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    arguments = parser.parse_args()
    chosen = [m for m in MUTANTS if not arguments.names or m.name in arguments.names]
    copy = SCRATCH / "hand"
    copy.mkdir(parents=True, exist_ok=True)
    sync_copy(copy)
    control = sorted({test for mutant in chosen for test in mutant.tests})
    if run_tests(copy, control) != 0:
        raise SystemExit("the killing tests fail without any mutant: fix them first")
    failed = False
    for mutant in chosen:
        outcome = run_mutant(copy, mutant)
        failed |= outcome != "killed"
        print(f"{mutant.name}: {outcome}  [{', '.join(test.rpartition('::')[2] for test in mutant.tests)}]")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
