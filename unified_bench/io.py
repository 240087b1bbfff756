"""File writes that others read: atomic (temp file + rename) or append-only JSONL flushed per batch;
and the one strict JSON reader for files others wrote (results, submissions, registries).

Written files get the usual mode of new files (0644 under the common umask 022), not the 0600 of a
temporary file. A write the file system refuses (disk full, read-only, no permission) is a
``WriteError``: one line naming the file, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from unified_bench.errors import InputError, UserError

TEMP_SUFFIX = ".tmp"
# mkstemp names: ".<final name>.<8 random chars>.tmp" (see atomic_write_bytes)
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


class WriteError(UserError):
    """The file system refused a write (disk full, read-only, permission)."""

    exit_code = 1


def write_error(path: str | os.PathLike[str], error: OSError) -> WriteError:
    reason = error.strerror or type(error).__name__
    return WriteError(f"{path}: cannot write ({reason}); free some space or choose another location.")


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` printable anywhere: bytes that are not UTF-8 shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_utf8_path(path: str | os.PathLike[str], flag: str) -> None:
    """Refuse a path that is not valid UTF-8: it is recorded in JSON files others read.

    Raises:
        UserError: naming the path with its odd bytes escaped.
    """
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(
            f"{flag} {display_path(path)}: the path is not valid UTF-8; choose a name in UTF-8."
        ) from None


@cache
def new_file_mode() -> int:
    """The mode ``open()`` would give a new file under the current umask (0644 under umask 022)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never a part.

    Raises:
        WriteError: the file system refused the write; ``path`` is left as it was.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), new_file_mode())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise write_error(path, error) from error
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def is_temp_file_name(name: str) -> bool:
    """Whether ``name`` is one of ``atomic_write_bytes``' temporary files."""
    return bool(_TEMP_NAME.match(name))


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> int:
    """Delete the temporary files a killed writer left in ``folder``; returns how many.

    Only call this while holding the folder's writer lock (``unified_bench.store``): another live
    writer's temporary file would otherwise vanish under it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if is_temp_file_name(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a path with non-UTF-8 bytes: keep it as a \udcNN escape
        data = (json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=True) + "\n").encode("ascii")
    atomic_write_bytes(path, data)


def append_jsonl(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> None:
    """Append records, one JSON object per line, and flush them to disk before returning."""
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    if not lines:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:  # a torn last line is dropped when the run resumes (RunStore.open)
        raise write_error(path, error) from error


class DuplicateKeyError(ValueError):
    """A JSON object names one key twice: a reviewer reads the first value, Python's json keeps the last."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r} in one object; keep one")
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKeyError(key)
        obj[key] = value
    return obj


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not a number JSON allows")


def loads_strict(text: str | bytes, *, allow_non_finite: bool = False) -> Any:
    """Parse JSON, refusing duplicate keys (``DuplicateKeyError``) and, unless ``allow_non_finite``,
    ``NaN``/``Infinity`` (a ``ValueError``); both are ``ValueError``s, like ``json.JSONDecodeError``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if allow_non_finite:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)


def read_json_strict(path: str | os.PathLike[str], *, allow_non_finite: bool = False) -> Any:
    """``loads_strict`` of a file; every failure is one ``InputError`` line naming the file.

    Raises:
        InputError: missing or unreadable, not UTF-8, not JSON, a duplicate key (named), a non-finite number.
    """
    try:
        return loads_strict(Path(path).read_bytes(), allow_non_finite=allow_non_finite)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error}).") from None
    except DuplicateKeyError as error:
        raise InputError(f"{path}: {error}.") from None
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        raise InputError(f"{path}: not valid JSON ({error}).") from None


def read_jsonl(path: str | os.PathLike[str], *, tolerate_torn_tail: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSONL file; a malformed line raises ``InputError`` naming file:line.

    With ``tolerate_torn_tail`` a last line without its newline (a write cut by a crash) is skipped.
    """
    path = Path(path)
    try:
        lines = path.read_bytes().splitlines(keepends=True)
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error}).") from None
    for number, raw in enumerate(lines, start=1):
        if tolerate_torn_tail and number == len(lines) and not raw.endswith(b"\n"):
            return
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(
                f"{path}:{number}: not UTF-8 text (byte {error.start + 1} of the line); "
                "save the file as UTF-8."
            ) from None
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(
                f"{path}:{number}: not valid JSON ({error.msg}); fix or remove that line."
            ) from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}.")
        yield obj
