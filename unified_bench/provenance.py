"""Provenance: what produced a result (versions, code, machine, command, times)."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "unified-bench",
    "torch",
    "torchvision",
    "transformers",
    "diffusers",
    "peft",
    "accelerate",
    "safetensors",
    "open_clip_torch",
    "timm",
    "lpips",
    "scikit-image",
    "pycocoevalcap",
    "numpy",
    "pillow",
)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> dict[str, Any] | None:
    """The commit of the unified-bench source tree, when it is a git checkout (``dirty`` if modified)."""
    source = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"sha": sha, "dirty": bool(status.strip())}


def device_description(device: str | None) -> dict[str, Any]:
    """The device a run used, named the way a reader can match it (GPU model, CPU count)."""
    import os

    info: dict[str, Any] = {"requested": device, "cpu_count": os.cpu_count(), "machine": platform.machine()}
    if "torch" in sys.modules:
        import torch

        info["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["cuda"] = torch.version.cuda
        info["deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()
    return info


def collect(
    *, started_at: str, device: str | None, seeds: dict[str, int], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything a reader needs to tell how a result was made."""
    return {
        "unified_bench_version": package_versions()["unified-bench"],
        "git": git_revision(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": sys.argv,
        "started_at": started_at,
        "finished_at": utc_now(),
        "device": device_description(device),
        "seeds": seeds,
        **(extra or {}),
    }
