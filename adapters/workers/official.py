"""What every shipped worker shares: its command line, the official checkout on ``sys.path``, the
checkout's commit, per-sample seeding and the info common to all. Standard library at import time;
numpy and torch (present in every model's environment) are imported when seeding.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import traceback

from worker_protocol import WorkerError, refuse_all


def parser(description: str) -> argparse.ArgumentParser:
    """The flags every shipped worker takes; a worker adds its model's own settings."""
    parse = argparse.ArgumentParser(description=description)
    parse.add_argument("--repo", required=True, help="checkout of the official repository")
    parse.add_argument("--weights", required=True, help="local folder (or hub id) of the released weights")
    parse.add_argument(
        "--caption-prompt", required=True, help="the caption instruction (UAE's, from the preset)"
    )
    parse.add_argument("--caption-temperature", type=float, default=0.7, help="0: greedy captions")
    parse.add_argument("--caption-max-tokens", type=int, default=512)
    parse.add_argument("--device", default="cuda")
    return parse


def load_or_refuse(load):
    """``load()``, or None after answering every request with why it failed (the traceback on stderr)."""
    try:
        return load()
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        refuse_all(error)
        return None


def use_checkout(repo: str, repository: str, marker: str, subfolder: str = "") -> str | None:
    """Put the checkout (or its ``subfolder``) first on ``sys.path``, make it the working folder (the
    official scripts open files relative to it), and return its commit (``None`` if not a git checkout).

    Raises:
        WorkerError: ``marker`` (a file of the official repository) is not in the checkout.
    """
    root = os.path.abspath(os.path.join(repo, subfolder))
    if not os.path.isfile(os.path.join(root, marker)):
        raise WorkerError(
            "user",
            f"--repo {repo}: not a checkout of {repository} (no {os.path.join(subfolder, marker)}); "
            f"git clone {repository} there",
        )
    sys.path.insert(0, root)
    os.chdir(root)
    try:
        found = subprocess.run(
            ["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and every GPU) for one sample: the official code draws from
    the global generators, so each sample is drawn alone, right after seeding with its own seed."""
    import numpy
    import torch

    random.seed(seed)
    numpy.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def captions_each_seeded(caption_one):
    """``caption(images, seeds)`` for ``serve``: ``caption_one(path)`` for each image alone, right after
    seeding with its seed (as ``seed_everything``)."""

    def caption(images: list[str], seeds: list[int]) -> list[str]:
        texts = []
        for path, seed in zip(images, seeds):
            seed_everything(seed)
            texts.append(caption_one(path))
        return texts

    return caption


def common_info(args: argparse.Namespace, *, model: str, repository: str, commit: str | None) -> dict:
    return {
        "model": model,
        "weights": os.path.abspath(args.weights) if os.path.exists(args.weights) else args.weights,
        "official_repository": repository,
        "official_commit": commit,
        "caption_prompt": args.caption_prompt,
        "caption_temperature": args.caption_temperature,
        "caption_max_tokens": args.caption_max_tokens,
        "device": args.device,
        "seeding": "per sample: random, numpy and torch seeded with the sample's seed, one sample at a time",
    }
