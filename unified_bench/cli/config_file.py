"""``run --config FILE``: the same options as the command line, from YAML or JSON; flags win.

The file's keys are the option names (``batch_size`` or ``batch-size``); its values become the
command's defaults (click's ``default_map``), so anything given on the command line overrides them.
A repeatable option takes a list (``scorer: [clip, ssim]``); ``adapter_arg`` also takes a mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unified_bench.errors import UserError


def load_option_file(path: Path, command: Any) -> dict[str, Any]:
    """The file's options, checked against ``command``'s parameters, as a click ``default_map``."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"--config {path}: cannot read it ({error.strerror or error}).") from None
    try:
        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UserError(f"--config {path}: not valid YAML or JSON{where}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"--config {path}: expected a mapping of option names to values.")
    params = {p.name: p for p in command.params if p.name and p.name != "config"}
    defaults: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in params:
            known = ", ".join(sorted(params))
            raise UserError(f"--config {path}: unknown option {key!r}; use one of: {known}.")
        if name == "adapter_arg" and isinstance(value, dict):
            value = [f"{k}={v}" for k, v in value.items()]
        if getattr(params[name], "multiple", False) and not isinstance(value, list):
            value = [value]
        defaults[name] = value
    return defaults
