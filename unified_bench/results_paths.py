"""Ids and paths in a results file are data, never directions: check them before the file system.

A results.json may come from anyone (a colleague, a CI artifact, a leaderboard submission), and its
readers build file names from it: ``images/ID.png``, the matched files of a scored folder, the
``repeat-K`` folders of a ``--repeats`` run. So before any of them is opened:

* in a run's results, every sample id (listed, scored, missing, captioned) is a safe file stem, as
  dataset ids are (they name ``images/ID.png``); a scored folder's ids are only labels (any file
  name, ``unified-bench score``), its files are named by ``provenance.matched``;
* repeat folder names are plain names; matched files are relative paths without ``..``;
* a scored folder's reconstructions are read only from the folder holding the results file.

Nothing outside the run folder (and the dataset folder, which is used only when its fingerprint is
the run's) is ever read: a link inside the run folder that leads out of it (``images/ID.png`` ->
``~/secret.png``, as a shared tar or git checkout can carry) is refused by ``check_inside_folder``,
which every reader of a run folder's files calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from unified_bench.datasets.base import check_sample_id
from unified_bench.errors import InputError


def is_scored_folder(obj: Mapping[str, Any]) -> bool:
    """Results of ``unified-bench score``: files named by ``provenance.matched``, not by their ids."""
    provenance = obj.get("provenance") or {}
    return (
        isinstance(provenance, Mapping)
        and isinstance(provenance.get("matched"), Mapping)
        and isinstance(provenance.get("generated_dir"), str)
    )


def check_results_ids(obj: Mapping[str, Any], source: str) -> None:
    """Every sample id in a parsed results object is a string, and a safe file stem in a run's results.

    Raises:
        InputError: naming ``source`` and the first unsafe id.
    """
    scored_folder = is_scored_folder(obj)
    for sample_id in _all_ids(obj):
        if not scored_folder:
            check_sample_id(sample_id, source)
        elif not isinstance(sample_id, str) or not sample_id or "\0" in sample_id:
            raise InputError(f"{source}: sample id {sample_id!r} is not a non-empty string.")


def check_report_paths(obj: Mapping[str, Any], folder: Path, source: str) -> None:
    """The files a report of these results would read all lie inside ``folder`` (the run folder).

    Raises:
        InputError: an unsafe id or name, or reconstructions recorded outside ``folder``.
    """
    check_results_ids(obj, source)
    repeats = obj.get("repeats") or {}
    for name in repeats.get("runs", []) if isinstance(repeats, Mapping) else []:
        _check_plain_name(name, "repeat folder", source)
    if not is_scored_folder(obj):
        return
    provenance = obj["provenance"]
    for name in provenance["matched"].values():
        _check_relative_path(name, "matched file", source)
    if not _is_this_folder(provenance.get("generated_dir"), folder):
        raise InputError(
            f"{source}: the reconstructions are recorded in {provenance.get('generated_dir')!r}, not in "
            f"the folder of the results file ({folder}); a report reads only the run's own folder: put "
            "results.json in the scored folder (the default of `unified-bench score`) and report it there."
        )


def check_inside_folder(path: Path, folder: Path) -> Path:
    """``path``, refused if it (following every link, its folders' included) leads outside ``folder``.

    Raises:
        InputError: naming the path and where it leads.
    """
    if leads_outside(path, folder):
        raise InputError(
            f"{path}: a link to {path.resolve()}, outside the run folder {folder}; readers of a run folder "
            "read only its own files: replace the link by a copy of the file."
        )
    return path


def leads_outside(path: Path, folder: Path) -> bool:
    """Whether ``path``, its links followed, lies outside ``folder``."""
    target, root = path.resolve(), folder.resolve()
    return target != root and root not in target.parents


def _is_this_folder(recorded: Any, folder: Path) -> bool:
    """``recorded`` names ``folder``: the same absolute path, or a relative path (as given to
    ``unified-bench score`` in another working directory) that ``folder`` ends with."""
    if not isinstance(recorded, str) or not recorded:
        return False
    path, here = Path(recorded), folder.resolve()
    if path.is_absolute():
        return path.resolve() == here
    parts = [part for part in path.parts if part != "."]
    if ".." in parts:
        return path.resolve() == here
    return not parts or list(here.parts[-len(parts) :]) == parts


def _all_ids(obj: Mapping[str, Any]) -> Iterable[Any]:
    samples = obj.get("samples") or {}
    if isinstance(samples, Mapping):
        yield from samples.get("ids") or []
        yield from samples.get("missing") or []
        yield from samples.get("captions") or {}
    for summary in (obj.get("scorers") or {}).values():
        if isinstance(summary, Mapping):
            yield from summary.get("per_sample") or {}
    overall = obj.get("overall")
    if isinstance(overall, Mapping):
        yield from overall.get("per_sample") or {}


def _check_plain_name(name: Any, what: str, source: str) -> None:
    if not isinstance(name, str) or "/" in name or "\\" in name:
        raise InputError(f"{source}: {what} {name!r} is not a plain folder name.")
    _check_relative_path(name, what, source)


def _check_relative_path(name: Any, what: str, source: str) -> None:
    """A relative path below the run folder: no ``..``, not absolute, no drive, no NUL."""
    if (
        not isinstance(name, str)
        or not name
        or "\0" in name
        or "\\" in name
        or Path(name).is_absolute()
        or os.path.isabs(name)
        or ".." in Path(name).parts
        or name.strip("/.") == ""
    ):
        raise InputError(
            f"{source}: {what} {name!r} is not a relative path inside the run folder; a results file "
            "may only name files inside its own folder."
        )
