"""``unified-bench merge``: join the shards of one run into a single run equal to the unsharded one.

Takes shard run folders, or the folders given as ``--output`` to the shards (each holding
``shard-*`` run folders, as job arrays that give every task its own output write them), in any mix.
Everything is read and checked before anything is written; the set is refused in one line when its
parts were made with different configurations, limits or scorers, when a shard is missing, given
twice or overlaps another, or when a shard is unfinished (its captions, images and results do not
cover exactly the samples its ``--shard``/``--limit`` select). The merged run is assembled in a
hidden staging folder inside ``--output`` and moved into place with ``results.json`` last, so the
output never holds a partial run.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unified_bench.errors import InputError, RunConfigMismatch, UserError
from unified_bench.io import atomic_write_json, write_error
from unified_bench.provenance import utc_now
from unified_bench.results import (
    Results,
    build_results,
    read_results,
    write_results,
    write_samples_table,
)
from unified_bench.results_paths import leads_outside
from unified_bench.sharding import Shard, parse_shard, select
from unified_bench.store import (
    ADAPTER_INFO_FILE,
    CAPTIONS_FILE,
    IMAGES_DIR,
    PROMPT_USAGE_FILE,
    RESULTS_FILE,
    RUN_FILE,
    SAMPLES_TABLE,
    CaptionRecord,
    RunSpec,
    RunStore,
    exclusive_writer,
)

STAGING_DIR = ".merge-staging"
_SHOWN = 5


@dataclass(frozen=True)
class _Part:
    """One shard (or whole run) as read from disk."""

    root: Path
    spec: RunSpec
    results: Results
    records: dict[str, CaptionRecord]
    prompt_usage: dict[str, dict[str, Any]]  # what the generator read of each caption, if recorded
    adapter_info: dict[str, Any] | None  # adapter.json: model ids and every generation setting

    @property
    def version(self) -> str | None:
        return self.results.provenance.get("unified_bench_version")

    @property
    def shard(self) -> Shard | None:
        text = self.results.dataset.get("shard")
        return parse_shard(text) if text else None


def find_run_folders(paths: Sequence[Path]) -> list[Path]:
    """The run folders among ``paths``: each is a run folder itself or holds ``shard-*`` run folders.

    Raises:
        InputError: a path is neither, or a run folder is named twice.
    """
    if not paths:
        raise UserError("merge: give at least one run folder.")
    found: list[Path] = []
    for path in paths:
        # Shards first: a shards' --output folder may also hold an earlier merge of them.
        shards = sorted(p for p in path.glob("shard-*") if (p / RUN_FILE).is_file()) if path.is_dir() else []
        if shards:
            found.extend(shards)
        elif (path / RUN_FILE).is_file():
            found.append(path)
        else:
            raise InputError(
                f"{path}: not a run folder (no run.json) and no shard-* run folders inside; pass the "
                "folders given as --output to the shards, or the shard folders themselves."
            )
    seen: dict[Path, Path] = {}
    for folder in found:
        key = folder.resolve()
        if key in seen:
            raise InputError(f"merge: {folder} is given twice (also as {seen[key]}); pass each shard once.")
        seen[key] = folder
    return found


def merge_runs(
    run_dirs: Sequence[Path], output: Path, *, overwrite: bool = False, allow_version_mix: bool = False
) -> Results:
    """Join shard run folders into one run equal to the unsharded one (captions, images, scores).

    Args:
        run_dirs: shard run folders and/or folders holding ``shard-*`` run folders.
        output: the merged run folder; a run of another configuration there is replaced only with
            ``overwrite`` (a previous merge of the same run is simply replaced).
        allow_version_mix: accept shards made by different unified-bench versions (recorded in the
            merged provenance); every other difference is refused.

    Raises:
        InputError: the parts do not form one complete, non-overlapping set of one run.
        RunFolderBusy: a part or ``output`` is being written by another process.
    """
    folders = find_run_folders(run_dirs)
    if any(folder.resolve() == output.resolve() for folder in folders):
        raise UserError(f"merge: --output {output} is one of the runs being merged; choose another folder.")
    with ExitStack() as locks:
        for folder in folders:  # no shard may change while it is read
            locks.enter_context(exclusive_writer(folder, create=False))
        parts = [_read_part(folder) for folder in folders]
        _check_one_run(parts)
        _check_same_generation(parts, allow_version_mix=allow_version_mix)
        _check_shard_set(parts)
        for part in parts:
            _check_part_complete(part)
        results = _merged_results(parts)
        locks.enter_context(exclusive_writer(output))
        _write_merged(output, parts, results, overwrite=overwrite)
    return results


# -- reading and checking --------------------------------------------------------------------------
def _read_part(folder: Path) -> _Part:
    store = RunStore(folder)
    spec = store.read_spec()
    if spec is None:
        raise InputError(f"{folder}: not a run folder (no run.json).")
    if not store.results_path.is_file():
        raise InputError(
            f"{folder}: unfinished (no results.json); rerun that shard's command to finish it, then merge."
        )
    return _Part(
        root=folder,
        spec=spec,
        results=read_results(store.results_path),
        records=store.captions(),
        prompt_usage=store.prompt_usage(),
        adapter_info=_read_adapter_info(folder),
    )


def _read_adapter_info(folder: Path) -> dict[str, Any] | None:
    """A shard's adapter.json; ``None`` if it has none; damage is refused, naming the file."""
    path = folder / ADAPTER_INFO_FILE
    if not path.exists():
        return None
    try:
        info = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(
            f"merge: {path}: unreadable ({getattr(error, 'strerror', None) or error}); rerun that shard's "
            "command to rewrite it, then merge."
        ) from None
    if not isinstance(info, dict):
        raise InputError(f"merge: {path}: not an adapter record (a JSON object); rerun that shard's command.")
    return info


def _where_it_ran(info: Any) -> Any:
    """``info`` without its ``device`` entries: ranks run on their own GPUs, outputs do not depend on it."""
    if isinstance(info, dict):
        return {key: _where_it_ran(value) for key, value in info.items() if key != "device"}
    if isinstance(info, list):
        return [_where_it_ran(value) for value in info]
    return info


def _differing_keys(first: Any, other: Any, prefix: str = "") -> list[str]:
    if isinstance(first, dict) and isinstance(other, dict):
        keys = sorted(set(first) | set(other))
        return [k for key in keys for k in _differing_keys(first.get(key), other.get(key), f"{prefix}{key}.")]
    return [] if first == other else [prefix.rstrip(".") or "the whole file"]


def _check_same_generation(parts: Sequence[_Part], *, allow_version_mix: bool) -> None:
    """Every shard drew its images with the same settings (adapter.json) and the same code version."""
    first = parts[0]
    for part in parts[1:]:
        if (first.adapter_info is None) != (part.adapter_info is None):
            lacking = first if first.adapter_info is None else part
            raise InputError(
                f"merge: {lacking.root / ADAPTER_INFO_FILE} is missing, so its generation settings cannot be "
                "checked against the other shards'; rerun that shard's command, then merge."
            )
        differing = _differing_keys(_where_it_ran(first.adapter_info), _where_it_ran(part.adapter_info))
        if differing:
            shown = ", ".join(differing[:_SHOWN]) + (" ..." if len(differing) > _SHOWN else "")
            raise InputError(
                f"merge: {part.root} and {first.root} were generated with different adapter settings "
                f"({ADAPTER_INFO_FILE}: {shown} differ); merge only the shards of one run."
            )
        if part.version != first.version and not allow_version_mix:
            raise InputError(
                f"merge: the shards were made by different unified-bench versions ({first.root}: "
                f"{first.version}, {part.root}: {part.version}); rerun the odd shard with one version, or "
                "pass --allow-version-mix (recorded in the merged results)."
            )


def _check_one_run(parts: Sequence[_Part]) -> None:
    first = parts[0]
    scorers = _scorer_fingerprints(first)
    for part in parts[1:]:
        if part.spec != first.spec:
            differing = sorted(
                key for key, value in part.spec.to_json().items() if first.spec.to_json().get(key) != value
            )
            raise InputError(
                f"merge: {part.root} and {first.root} were made with different configurations "
                f"({', '.join(differing)} differ); merge only the shards of one run."
            )
        if _scorer_fingerprints(part) != scorers:
            raise InputError(
                f"merge: {part.root} and {first.root} were scored with different scorers or scorer "
                "weights; rescore them with the same --scorer flags."
            )
        for key in ("limit", "n_total"):
            if part.results.dataset.get(key) != first.results.dataset.get(key):
                shown = "--limit" if key == "limit" else "dataset size"
                raise InputError(
                    f"merge: {part.root} and {first.root} differ in {shown} "
                    f"({part.results.dataset.get(key)} vs {first.results.dataset.get(key)}); "
                    "rerun the odd shard with the same command as the others."
                )
        if part.results.bootstrap != first.results.bootstrap:
            raise InputError(f"merge: {part.root} and {first.root} differ in their bootstrap settings.")


def _scorer_fingerprints(part: _Part) -> dict[str, str]:
    """The scorers a part ran: recorded in provenance (a scorer may score none of a shard's samples),
    else (older files) those with values."""
    recorded = part.results.provenance.get("scorer_fingerprints")
    if isinstance(recorded, dict):
        return dict(recorded)
    return {name: s.fingerprint for name, s in part.results.scorers.items()}


def _check_shard_set(parts: Sequence[_Part]) -> None:
    """Exactly one whole run, or shards 0..N-1 of one N, each once."""
    shards = [part.shard for part in parts]
    if all(shard is None for shard in shards):
        if len(parts) > 1:
            raise InputError(
                f"merge: {parts[0].root} and {parts[1].root} are both whole runs of the same samples "
                "(they overlap); merge the shards of one run."
            )
        return
    if any(shard is None for shard in shards):
        whole = next(part for part in parts if part.shard is None)
        raise InputError(f"merge: {whole.root} is a whole run, the others are shards; they overlap.")
    counts = sorted({shard.count for shard in shards if shard is not None})
    if len(counts) != 1:
        raise InputError(
            f"merge: the shards split the run {' and '.join(map(str, counts))} ways; merge one split."
        )
    by_index: dict[int, Path] = {}
    for part in parts:
        assert part.shard is not None
        if part.shard.index in by_index:
            raise InputError(
                f"merge: shard {part.shard} is given twice ({by_index[part.shard.index]} and {part.root}); "
                "they overlap: pass each shard once."
            )
        by_index[part.shard.index] = part.root
    absent = [f"{i}/{counts[0]}" for i in range(counts[0]) if i not in by_index]
    if absent:
        raise InputError(
            f"merge: incomplete set: shard {', '.join(absent[:_SHOWN])} missing; pass every "
            "shard (or the --output folders that hold them)."
        )


def _check_part_complete(part: _Part) -> None:
    """Captions, images and scored ids of ``part`` are exactly the samples its shard selects."""
    dataset = part.results.dataset
    expected = select(range(int(dataset["n_total"])), limit=dataset.get("limit"), shard=part.shard)
    captioned = {record.index: record.id for record in part.records.values()}
    images = {path.stem for path in (part.root / IMAGES_DIR).glob("*.png")}
    scored = set(part.results.samples["ids"])
    ids = set(captioned.values())
    outside = sorted(set(captioned) - set(expected))
    problems = [f"sample #{index} has no caption" for index in expected if index not in captioned]
    problems += [f"{captioned[index]} (#{index}) is not in this shard" for index in outside]
    problems += [f"{sample_id} has no image" for sample_id in sorted(ids - images)]
    problems += [f"{sample_id} is not scored in results.json" for sample_id in sorted(ids - scored)]
    problems += [f"{sample_id} is scored but has no caption" for sample_id in sorted(scored - ids)]
    scored_captions = part.results.samples.get("captions") or {}
    problems += [
        f"the caption of {record.id} in {CAPTIONS_FILE} is not the one scored in {RESULTS_FILE} "
        "(edited after scoring?)"
        for record in sorted(part.records.values(), key=lambda r: r.index)
        if record.id in scored_captions and scored_captions[record.id] != record.caption
    ]
    problems += [
        f"{IMAGES_DIR}/{sample_id}.png is not a file of this folder (a folder, or a link leading out)"
        for sample_id in sorted(ids & images)
        if not _own_file(part.root / IMAGES_DIR / f"{sample_id}.png", part.root)
    ]
    if problems:
        shown = "; ".join(problems[:_SHOWN]) + (
            f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        )
        raise InputError(
            f"merge: {part.root} is inconsistent or unfinished ({shown}); rerun that shard's command "
            "to finish it, then merge again."
        )


def _own_file(path: Path, folder: Path) -> bool:
    return path.is_file() and not leads_outside(path, folder)


# -- building --------------------------------------------------------------------------------------
def _merged_results(parts: Sequence[_Part]) -> Results:
    ordered = sorted((r for part in parts for r in part.records.values()), key=lambda r: r.index)
    ids = [r.id for r in ordered]
    scores: dict[str, dict[str, float | None]] = {}
    meta: dict[str, tuple[str, bool]] = {}
    for part in parts:
        for name, summary in part.results.scorers.items():
            meta[name] = (summary.fingerprint, summary.higher_is_better)
            scores.setdefault(name, {}).update(summary.per_sample)
    usage = {sample_id: u for part in parts for sample_id, u in part.prompt_usage.items()}
    first = parts[0].results
    missing = sorted({i for part in parts for i in part.results.samples.get("missing", [])})
    provenance = {
        **first.provenance,
        "merged_from": [str(part.root) for part in parts],
        "shard_provenance": [part.results.provenance for part in parts],
        "finished_at": utc_now(),
    }
    versions = {str(part.root): part.version for part in parts}
    if len(set(versions.values())) > 1:  # only with --allow-version-mix
        provenance["version_mix"] = versions
    return build_results(
        ids=ids,
        scores=scores,
        scorer_meta=meta,
        dataset={**first.dataset, "n_selected": len(ids), "shard": None},
        protocol=first.protocol,
        model=first.model,
        captions={r.id: r.caption for r in ordered},
        prompt_usage=usage or None,
        missing=missing,
        provenance=provenance,
        bootstrap_seed=first.bootstrap["seed"],
        n_resamples=first.bootstrap["n_resamples"],
        confidence=first.bootstrap["confidence"],
        direction=first.direction,
        prompts={k: v for part in parts for k, v in part.results.samples.get("prompts", {}).items()} or None,
        task=first.task,
    )


def _write_merged(output: Path, parts: Sequence[_Part], results: Results, *, overwrite: bool) -> None:
    """Assemble the run in ``output/.merge-staging``, then move it into place, results.json last."""
    spec = parts[0].spec
    existing = RunStore(output).read_spec()
    if existing is not None and existing != spec and not overwrite:
        raise RunConfigMismatch(
            f"--output {output}: holds a run with a different configuration; choose another --output or "
            "pass --overwrite to replace it."
        )
    staging = output / STAGING_DIR
    try:
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed merge; we hold the lock
        (staging / IMAGES_DIR).mkdir(parents=True)
        atomic_write_json(staging / RUN_FILE, spec.to_json())
        records = sorted((r for part in parts for r in part.records.values()), key=lambda r: r.index)
        RunStore(staging).append_captions(records)
        usage = {
            r.id: u for part in parts for r in part.records.values() if (u := part.prompt_usage.get(r.id))
        }
        if usage:
            RunStore(staging).append_prompt_usage(usage)
        for part in parts:
            for record in part.records.values():
                name = f"{record.id}.png"
                _copy_image(part.root / IMAGES_DIR / name, staging / IMAGES_DIR / name)
        if parts[0].adapter_info is not None:
            atomic_write_json(staging / ADAPTER_INFO_FILE, parts[0].adapter_info)
        write_results(staging / RESULTS_FILE, results)
        write_samples_table(staging / SAMPLES_TABLE, results)
        _move_into_place(staging, output)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise write_error(getattr(error, "filename", None) or output, error) from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _copy_image(source: Path, target: Path) -> None:
    """Copy one shard image; a shard that cannot be read is named as such, not as a full disk."""
    try:
        data = source.read_bytes()
    except OSError as error:
        raise InputError(
            f"merge: {source}: cannot read ({error.strerror or error}); rerun that shard's command to "
            "redo the image, then merge."
        ) from None
    target.write_bytes(data)


def _move_into_place(staging: Path, output: Path) -> None:
    """Replace ``output``'s run with ``staging``'s: a reader sees the old results, none, or the new."""
    (output / RESULTS_FILE).unlink(missing_ok=True)
    (output / SAMPLES_TABLE).unlink(missing_ok=True)
    for name in (RUN_FILE, CAPTIONS_FILE, PROMPT_USAGE_FILE, ADAPTER_INFO_FILE):
        if (staging / name).exists():
            os.replace(staging / name, output / name)
        else:
            (output / name).unlink(missing_ok=True)
    old_images = staging / "images.old"
    if (output / IMAGES_DIR).is_dir():
        os.replace(output / IMAGES_DIR, old_images)
    os.replace(staging / IMAGES_DIR, output / IMAGES_DIR)
    os.replace(staging / SAMPLES_TABLE, output / SAMPLES_TABLE)
    os.replace(staging / RESULTS_FILE, output / RESULTS_FILE)
    shutil.rmtree(staging)
