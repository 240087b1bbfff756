"""``unified-bench submit``: turn a finished run into ``leaderboard/submissions/NAME.json``.

The file carries the run's complete results (every per-sample score, provenance; for a
``--repeats`` run also each seed's results) plus a little metadata, and is written only if it
passes every check ``leaderboard validate`` makes. With ``outputs`` it also packs the run's captions
and reconstructions into an archive and records its sha256, so ``leaderboard verify`` can re-score
them: entries are "verified" only then, "self-reported" otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from unified_bench.errors import InputError, UserError
from unified_bench.io import atomic_write_json
from unified_bench.leaderboard.layout import LeaderboardDir
from unified_bench.leaderboard.outputs import pack_outputs, part_prefixes
from unified_bench.leaderboard.plausibility import near_copy_problem, pixel_similarity
from unified_bench.leaderboard.registry import OfficialRegistry
from unified_bench.leaderboard.validate import (
    SUBMISSION_KIND,
    Problem,
    submission_schema,
    validate_paths,
    validate_submission,
)
from unified_bench.provenance import utc_now
from unified_bench.results import Results, read_results
from unified_bench.store import RunStore

_PARAMS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMbBtT]?)\s*$")
_SCALE = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


def parse_params(text: str | None) -> int | None:
    """``7B`` -> 7_000_000_000, ``350M``, ``1.5b`` or a plain integer; ``None`` stays ``None``.

    >>> parse_params("1.5B"), parse_params("350m"), parse_params("12")
    (1500000000, 350000000, 12)
    """
    if text is None:
        return None
    match = _PARAMS.match(text)
    if not match or float(match[1]) <= 0:
        raise UserError(f"--params {text!r}: give a parameter count such as 7000000000, 7B or 350M.")
    return round(float(match[1]) * _SCALE[match[2].lower()])


def leaderboard_results(results: Results, registry: OfficialRegistry) -> Results:
    """Keep only the scorers the leaderboard lists (the overall score depends on those alone)."""
    scorers = {name: s for name, s in results.scorers.items() if name in registry.scorers}
    repeats = results.repeats
    if repeats:
        repeats = {**repeats, "scorers": {n: v for n, v in repeats["scorers"].items() if n in scorers}}
    return replace(results, scorers=scorers, repeats=repeats)


def make_submission(
    results: Results,
    *,
    name: str,
    url: str,
    params: int | None = None,
    license: str | None = None,
    org: str | None = None,
    seed_results: Sequence[Results] = (),
) -> dict[str, Any]:
    """The submission object (see ``leaderboard/schema/submission.schema.json``)."""
    from unified_bench import __version__

    obj: dict[str, Any] = {
        "schema_version": 1,
        "kind": SUBMISSION_KIND,
        "name": name,
        "metadata": {
            "url": url,
            "params": params,
            "license": license,
            "org": org,
            "submitted_at": utc_now(),
            "unified_bench_version": __version__,
        },
        "results": results.to_json(),
    }
    if seed_results:
        obj["seed_results"] = [part.to_json() for part in seed_results]
    return obj


def _run_folder(run_dir: Path) -> Path:
    return run_dir.parent if run_dir.is_file() else run_dir


def read_seed_results(run_dir: Path, results: Results) -> list[Results]:
    """The per-seed results of a ``--repeats`` run (``RUN/repeat-K/results.json``); none for a plain run."""
    if not results.repeats:
        return []
    return [read_results(_run_folder(run_dir) / run) for run in results.repeats["runs"]]


def near_copies(run_dir: Path, results: Results, dataset: str) -> str | None:
    """The near-copy problem of the run's reconstructions (every seed's), against the images of ``dataset``.

    Raises:
        InputError: the images cannot be loaded here, or they are not the run's.
    """
    from PIL import Image

    from unified_bench.datasets import load_dataset

    images = load_dataset(dataset)
    if images.fingerprint != results.dataset.get("fingerprint"):
        raise InputError(
            f"--dataset {dataset}: not the images the run scored (fingerprint {images.fingerprint[:19]}…); "
            "pass --dataset with the official images, to check the outputs against them."
        )
    references = {sample.id: sample for sample in images.samples}
    similarities = {}
    for prefix in part_prefixes(results):
        store = RunStore(run_dir / prefix) if prefix else RunStore(run_dir)
        for sample_id in results.samples["ids"]:
            if sample_id in references and store.has_image(sample_id):
                with Image.open(store.image_path(sample_id)) as image:
                    similarity = pixel_similarity(references[sample_id].load_image(), image.convert("RGB"))
                similarities[f"{prefix}{sample_id}"] = similarity
    return near_copy_problem(similarities)


def submit_run(
    run_dir: str | Path,
    *,
    name: str,
    url: str,
    params: int | None = None,
    license: str | None = None,
    org: str | None = None,
    leaderboard: LeaderboardDir | None = None,
    registry: OfficialRegistry | None = None,
    overwrite: bool = False,
    outputs: Path | None = None,
    outputs_url: str | None = None,
    dataset: str | None = None,
) -> tuple[Path, list[Problem]]:
    """Validate the run as a submission and write it; nothing is written when there are problems.

    Args:
        outputs: where to write the archive of the run's captions and reconstructions (its sha256 is
            recorded in the submission).
        outputs_url: the https URL the archive will be uploaded to (recorded instead of the path).
        dataset: the official images (name, folder or manifest) the outputs are checked against for
            near-copies (``plausibility``); default: the registry's dataset.

    Returns:
        (the submission path, problems): the file exists only when ``problems`` is empty.

    Raises:
        UnrecordedRegistry: the registry lists no official fingerprints yet.
    """
    leaderboard = (leaderboard or LeaderboardDir()).check(registry is None)
    registry = registry or OfficialRegistry.read(leaderboard.registry)
    registry.require_recorded()
    if outputs_url is not None and (outputs is None or not outputs_url.startswith("https://")):
        raise UserError(
            "--outputs-url needs --outputs FILE (submit packs the archive there) and an https:// URL "
            "where you upload it."
        )
    run_dir = Path(run_dir)
    raw = read_results(run_dir)
    results = leaderboard_results(raw, registry)
    seed_results = [leaderboard_results(part, registry) for part in read_seed_results(run_dir, raw)]
    obj = make_submission(
        results, name=name, url=url, params=params, license=license, org=org, seed_results=seed_results
    )
    target = leaderboard.submission_path(name) if re.fullmatch(r"[A-Za-z0-9._-]+", name) else None
    where = str(target or leaderboard.submissions / "NAME.json")
    problems, _ = validate_submission(
        obj, where=where, registry=registry, schema=submission_schema(leaderboard)
    )
    if target is None or problems:
        return Path(where), problems
    if target.exists() and not overwrite:
        return target, [
            Problem(where, "already exists; choose another --name, or pass --overwrite to replace it")
        ]
    others = [p for p in leaderboard.submission_files() if p.resolve() != target.resolve()]
    duplicates = [p for p in others if p.stem.lower() == name.lower()]
    if duplicates:
        return target, [Problem(where, f"duplicate name {name!r}: {duplicates[0]} already uses it")]
    if outputs is not None:
        if Path(outputs).exists() and not overwrite:
            return target, [
                Problem(str(outputs), "already exists; choose another --outputs or pass --overwrite")
            ]
        copies = near_copies(_run_folder(run_dir), results, dataset or registry.dataset_name)
        if copies:
            return target, [Problem(str(_run_folder(run_dir)), copies)]
        info = pack_outputs(_run_folder(run_dir), results, Path(outputs), location=outputs_url)
        obj["outputs"] = info.to_json()
    atomic_write_json(target, obj)
    problems, _ = validate_paths([target], leaderboard=leaderboard, registry=registry)
    if problems:  # e.g. another file declares the same name inside: undo
        target.unlink()
    return target, problems
