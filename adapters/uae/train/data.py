"""Training data: which images each process sees at each step, per-sample seeds, image tensors.

The images form one endless stream, epoch after epoch, each epoch a permutation seeded by
``(seed, epoch)``. Step ``s`` takes stream positions ``[s·B, (s+1)·B)`` (``B = images_per_step``);
process ``r`` of ``W`` takes the ``r``-th contiguous slice. Every random draw of a sample is seeded
by ``(seed, purpose, stream position, ...)``, so a sample's rollout and loss do not depend on the
number of processes, and a resumed run sees exactly the data it would have seen.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from unified_bench.datasets import Dataset, Sample
from unified_bench.datasets.base import FileLocation
from unified_bench.errors import InputError


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from the run seed and any labels (purpose, step, position, index...).

    >>> derive_seed(0, "noise", 3) == derive_seed(0, "noise", 3) != derive_seed(0, "noise", 4)
    True
    """
    text = ":".join(str(part) for part in (seed, *parts))
    digest = hashlib.sha256(f"unified-bench-train:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def generator(seed: int, *parts: object) -> torch.Generator:
    """A CPU generator seeded by ``derive_seed(seed, *parts)``."""
    return torch.Generator(device="cpu").manual_seed(derive_seed(seed, *parts))


def window(samples: list[Sample] | tuple[Sample, ...], offset: int, limit: int | None) -> list[Sample]:
    """``limit`` samples (all when None) from position ``offset``; a negative offset counts from the
    end (``-2``: the last two), so a window at the end exists in any dataset big enough for it."""
    start = max(len(samples) + offset, 0) if offset < 0 else offset
    return list(samples[start : None if limit is None else start + limit])


def write_manifest(samples: list[Sample], path: Path) -> None:
    """``samples`` as a JSONL manifest (absolute image paths, captions), written atomically.

    Raises:
        InputError: a sample whose image is not a file on disk (an in-memory or streamed dataset).
    """
    lines = []
    for sample in samples:
        if not isinstance(sample.location, FileLocation):
            raise InputError(
                f"{sample.location}: eval_offset needs held-out images that are files; "
                "use a folder or manifest as eval_dataset, or eval_offset: 0."
            )
        record = {"id": sample.id, "image": str(sample.location.path.resolve())}
        if sample.captions:
            record["captions"] = list(sample.captions)
        lines.append(json.dumps(record))
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    partial.replace(path)


def check_held_out(training: list[Sample], held_out: list[Sample], where: str) -> None:
    """Refuse a held-out set that shares an image (the same bytes) with the training images.

    Raises:
        InputError: naming the shared images and the settings that choose them.
    """
    hashes = {sample.image_sha256 for sample in training}
    shared = [sample.id for sample in held_out if sample.image_sha256 in hashes]
    if shared:
        raise InputError(
            f"{where}: {len(shared)} held-out image(s) are also training images ({', '.join(shared[:3])}); "
            "choose held-out images with eval_dataset/eval_limit, or move the training window with "
            "dataset_offset/dataset_limit."
        )


@dataclass(frozen=True)
class StepItem:
    """One image of a step: its position in the stream (names its random draws) and the sample."""

    position: int
    sample: Sample


class TrainData:
    """The stream of training images, split between processes."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        images_per_step: int,
        seed: int,
        num_processes: int = 1,
        process_index: int = 0,
    ) -> None:
        if images_per_step % num_processes:
            raise InputError(
                f"images_per_step={images_per_step} is not divisible by the {num_processes} processes; "
                "use a multiple of the process count."
            )
        self.dataset = dataset
        self.images_per_step = images_per_step
        self.seed = seed
        self.num_processes = num_processes
        self.process_index = process_index
        self._orders: dict[int, list[int]] = {}

    def sample_at(self, position: int) -> Sample:
        epoch, offset = divmod(position, len(self.dataset))
        if epoch not in self._orders:
            order = torch.randperm(len(self.dataset), generator=generator(self.seed, "epoch", epoch))
            self._orders = {epoch: order.tolist()}  # one epoch at a time is all a step needs
        return self.dataset.samples[self._orders[epoch][offset]]

    def global_positions(self, step: int) -> range:
        return range(step * self.images_per_step, (step + 1) * self.images_per_step)

    def step_items(self, step: int) -> list[StepItem]:
        """This process's images for ``step``."""
        per_process = self.images_per_step // self.num_processes
        start = step * self.images_per_step + self.process_index * per_process
        return [
            StepItem(position, self.sample_at(position)) for position in range(start, start + per_process)
        ]


def square_image(image: Image.Image, resolution: int) -> torch.Tensor:
    """Resize the shortest side to ``resolution`` (bicubic), centre-crop: float ``[3, R, R]`` in [0, 1]."""
    image = image.convert("RGB")
    width, height = image.size
    scale = resolution / min(width, height)
    resized = image.resize(
        (max(resolution, round(width * scale)), max(resolution, round(height * scale))),
        Image.Resampling.BICUBIC,
    )
    left = (resized.width - resolution) // 2
    top = (resized.height - resolution) // 2
    cropped = resized.crop((left, top, left + resolution, top + resolution))
    pixels = torch.frombuffer(bytearray(cropped.tobytes()), dtype=torch.uint8)
    return pixels.view(resolution, resolution, 3).permute(2, 0, 1).float() / 255


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """``[B, 3, H, W]`` in [0, 1] -> PIL images, rounded as diffusers' ``numpy_to_pil`` does."""
    array = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()
    return [Image.fromarray(item.numpy()) for item in array]


def pick_caption(sample: Sample, seed: int, position: int, stage: str) -> str:
    """One of the sample's reference captions, chosen by its seed; ``InputError`` if it has none."""
    if not sample.captions:
        raise InputError(
            f"sample {sample.id!r} has no caption; stage {stage} needs captions in the dataset "
            '(a JSONL manifest with "captions": [...]).'
        )
    index = derive_seed(seed, "caption-choice", position) % len(sample.captions)
    return sample.captions[index]
