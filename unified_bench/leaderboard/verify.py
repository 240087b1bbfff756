"""``unified-bench leaderboard verify NAME``: re-score a submission's outputs and compare every score.

The submission's archive (``submit --outputs``) is fetched, its sha256 checked against the one the
submission records, its captions compared with the submitted ones, and its reconstructions scored
against the official images by the official scorers (the same weights: every scorer fingerprint
must equal the submitted one). Every per-sample score must agree within ``TOLERANCE``; then a
verification record ``verified/NAME.json`` is written, and the site marks the entry "verified".
Editing the submission or its archive afterwards voids the record (``validate`` refuses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from unified_bench.errors import InputError, UserError
from unified_bench.images import sha256_bytes
from unified_bench.io import atomic_write_json, read_json_strict
from unified_bench.leaderboard.layout import LeaderboardDir
from unified_bench.leaderboard.outputs import fetched_archive, read_part
from unified_bench.leaderboard.plausibility import near_copy_problem, pixel_similarity
from unified_bench.leaderboard.registry import OfficialRegistry
from unified_bench.leaderboard.validate import (
    VERIFICATION_KIND,
    VERIFICATION_SCHEMA_VERSION,
    VERIFICATION_TOLERANCE,
    Submission,
    rescored_digest,
    submission_schema,
    validate_submission,
)
from unified_bench.paths import file_sha256
from unified_bench.provenance import utc_now

TOLERANCE = VERIFICATION_TOLERANCE
MAX_SHOWN = 5


class VerificationFailed(UserError):
    """The outputs do not reproduce the submitted scores (or are not the submitted outputs)."""

    exit_code = 1


@dataclass(frozen=True)
class Mismatch:
    """One per-sample score the outputs do not reproduce (``recomputed`` None: no output for the id)."""

    part: str
    scorer: str
    sample_id: str
    claimed: float
    recomputed: float | None

    def __str__(self) -> str:
        where = f"{self.part.rstrip('/')}: " if self.part else ""
        if self.recomputed is None:
            return f"{where}{self.scorer} {self.sample_id}: no reconstruction or caption in the archive"
        return (
            f"{where}{self.scorer} {self.sample_id}: submitted {self.claimed:.6f}, "
            f"re-scored {self.recomputed:.6f} (off by {abs(self.claimed - self.recomputed):.1e})"
        )


@dataclass(frozen=True)
class VerificationReport:
    name: str
    compared: int
    max_difference: float
    mismatches: list[Mismatch]
    record: Path | None  # written only when nothing mismatched

    @property
    def passed(self) -> bool:
        return not self.mismatches


def _load_submission(leaderboard: LeaderboardDir, registry: OfficialRegistry, name: str) -> Submission:
    path = leaderboard.submission_path(name)
    if not path.is_file():
        raise InputError(f"{path}: no submission named {name!r}; see `ls {leaderboard.submissions}`.")
    data = path.read_bytes()
    obj = read_json_strict(path)
    problems, submission = validate_submission(
        obj, where=str(path), registry=registry, schema=submission_schema(leaderboard), file_stem=path.stem
    )
    if submission is None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise VerificationFailed(f"not verifying an invalid submission: {problems[0]}{more}")
    return replace(submission, file_sha256=sha256_bytes(data))


def _scorer_specs(registry: OfficialRegistry, given: Sequence[str]) -> list[str]:
    """The official scorers, each with its ``NAME=PATH`` from ``given`` or its default weights."""
    from unified_bench.scorers import parse_scorer_spec

    chosen: dict[str, str] = {}
    for spec in given:
        name, _ = parse_scorer_spec(spec)
        if name not in registry.scorers:
            raise InputError(
                f"--scorer {spec}: {name} is not a leaderboard scorer ({', '.join(registry.scorers)})."
            )
        chosen[name] = spec
    return [chosen.get(name, name) for name in registry.scorers]


def verify_submission(
    name: str,
    *,
    outputs: str | None = None,
    leaderboard: LeaderboardDir | None = None,
    registry: OfficialRegistry | None = None,
    dataset: str | None = None,
    scorers: Sequence[str] = (),
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int = 16,
) -> VerificationReport:
    """Re-score submission ``name``'s outputs and compare every per-sample score.

    Args:
        outputs: the archive (path or https URL); default: the location the submission records.
        dataset: the official images (name, folder or manifest); default: the registry's dataset.
        scorers: ``NAME=PATH`` for official scorers whose weights are not at their default location.

    Raises:
        VerificationFailed: invalid submission, no outputs recorded, a wrong archive (sha256), other
            images or scorer weights than the submission's.
    """
    from unified_bench.datasets import load_dataset
    from unified_bench.scorers import build_scorers
    from unified_bench.scoring import ScoringItem, score_items

    leaderboard = (leaderboard or LeaderboardDir()).check(registry is None)
    registry = registry or OfficialRegistry.read(leaderboard.registry)
    submission = _load_submission(leaderboard, registry, name)
    recorded = submission.outputs
    if recorded is None:
        raise VerificationFailed(
            f"{submission.path}: records no outputs archive; resubmit with `unified-bench submit RUN ... "
            "--outputs FILE` (and --outputs-url where you upload it)."
        )
    specs = _scorer_specs(registry, scorers)
    images = load_dataset(dataset or registry.dataset_name)
    if images.fingerprint not in registry.dataset_fingerprints:
        raise VerificationFailed(
            f"dataset {dataset or registry.dataset_name}: fingerprint {images.fingerprint[:19]}… is not the "
            f"official {registry.dataset_name} one; pass --dataset with the official images."
        )
    references = {sample.id: sample for sample in images.samples}
    location = outputs or recorded["location"]
    mismatches: list[Mismatch] = []
    compared, max_difference = 0, 0.0
    rescored: dict[str, dict[str, dict[str, float]]] = {}  # part -> scorer -> id -> re-scored value
    with fetched_archive(location) as archive:
        actual_sha = file_sha256(archive)
        if actual_sha != recorded["sha256"]:
            raise VerificationFailed(
                f"{location}: sha256 {actual_sha[:16]}… is not the submitted outputs' "
                f"{recorded['sha256'][:16]}…; "
                "pass the archive `submit --outputs` wrote for this submission."
            )
        built = build_scorers(specs, device=device, dtype=dtype)
        for prefix, part in submission.parts():
            for scorer in built:
                claimed_fingerprint = part.scorers[scorer.name].fingerprint
                if scorer.fingerprint() != claimed_fingerprint:
                    raise VerificationFailed(
                        f"scorer {scorer.name}: loaded {scorer.fingerprint()}, the submission used "
                        f"{claimed_fingerprint}; pass --scorer {scorer.name}=PATH (and --dtype) for those."
                    )
            ids = part.samples["ids"]
            found = read_part(archive, prefix, ids)
            wrong_captions = [
                i for i in ids if i in found.captions and found.captions[i] != part.samples["captions"].get(i)
            ]
            if wrong_captions:
                raise VerificationFailed(
                    f"{location}: {prefix}captions differ from the submitted ({len(wrong_captions)} ids, "
                    f"first: {wrong_captions[0]})."
                )
            present = [i for i in ids if i not in found.absent]
            copies = near_copy_problem(
                {i: pixel_similarity(references[i].load_image(), found.images[i][0]) for i in present}
            )
            if copies:
                raise VerificationFailed(f"{location}: {prefix}{copies}.")
            items = [
                ScoringItem(
                    id=i,
                    reference=references[i].load_image,
                    reference_sha256=references[i].image_sha256,
                    reconstruction=found.images[i][0],
                    reconstruction_sha256=found.images[i][1],
                    caption=found.captions[i],
                    reference_captions=references[i].captions,
                )
                for i in present
            ]
            # cache=None: every embedding computed here, none read from a local cache (trusted input
            # for ordinary runs, but a maintainer's cache must not decide what "verified" means)
            table = score_items(items, built, batch_size=batch_size, cache=None) if items else {}
            rescored[prefix] = {
                name: {i: float(v) for i, v in values.items()} for name, values in table.items()
            }
            for scorer_name, summary in part.scorers.items():
                for sample_id in ids:
                    claimed = summary.per_sample[sample_id]
                    value = table.get(scorer_name, {}).get(sample_id)
                    compared += 1
                    if value is None:
                        mismatches.append(Mismatch(prefix, scorer_name, sample_id, claimed, None))
                        continue
                    difference = abs(value - claimed)
                    max_difference = max(max_difference, difference)
                    if difference > TOLERANCE:
                        mismatches.append(Mismatch(prefix, scorer_name, sample_id, claimed, value))
    record_path = None
    if not mismatches:
        record_path = leaderboard.verification_path(submission.name)
        atomic_write_json(
            record_path, _record(submission, location, images.fingerprint, compared, max_difference, rescored)
        )
    return VerificationReport(submission.name, compared, max_difference, mismatches, record_path)


def _record(
    submission: Submission,
    location: str,
    dataset_fingerprint: str,
    compared: int,
    max_difference: float,
    rescored: dict[str, dict[str, dict[str, float]]],
) -> dict[str, Any]:
    from unified_bench import __version__

    return {
        "schema_version": VERIFICATION_SCHEMA_VERSION,
        "kind": VERIFICATION_KIND,
        "name": submission.name,
        "submission_sha256": submission.file_sha256,
        "outputs_sha256": (submission.outputs or {}).get("sha256"),
        "outputs_location": location,
        "dataset_fingerprint": dataset_fingerprint,
        "scorers": {name: s.fingerprint for name, s in submission.results.scorers.items()},
        "compared": compared,
        "max_difference": max_difference,
        "tolerance": TOLERANCE,
        "rescored": rescored,
        "rescored_sha256": rescored_digest(rescored),
        "verified_at": utc_now(),
        "unified_bench_version": __version__,
    }


def describe_failure(report: VerificationReport) -> str:
    """One line: how many scores failed and the first few."""
    shown = "; ".join(str(m) for m in report.mismatches[:MAX_SHOWN])
    more = f"; and {len(report.mismatches) - MAX_SHOWN} more" if len(report.mismatches) > MAX_SHOWN else ""
    return (
        f"{report.name}: {len(report.mismatches)} of {report.compared} per-sample scores are not reproduced "
        f"by its outputs: {shown}{more}"
    )
