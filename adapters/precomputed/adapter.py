"""Captions and images made elsewhere, served to the harness by sample id.

Layouts (a unified-bench run folder is the first one):

* ``dir=D``: ``D/captions.jsonl`` (or ``D/captions/ID.txt``) and ``D/images/ID.png`` (any image type);
* ``images=I captions=C``: a folder of ``ID.<ext>`` images, and captions as a JSONL file of
  ``{"id": ..., "caption": ...}`` lines or a folder of ``ID.txt`` files.

Nothing is computed, so seeds, ``--size`` and the device are ignored. A sample without a caption or
an image stops the run with the missing ids named. ``source_fingerprint`` (the names and sha256 of
every caption and image file) goes into the run spec: when the stored outputs change, rerunning the
same command is refused as a different run (``--overwrite`` redoes it from the new files).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from unified_bench.adapter import AdapterOptions, config_from_args
from unified_bench.errors import InputError, MissingSamplesError, UserError
from unified_bench.images import IMAGE_SUFFIXES, read_image
from unified_bench.io import read_jsonl

CAPTIONS_FILE = "captions.jsonl"
CAPTIONS_DIR = "captions"
IMAGES_DIR = "images"
_SHOWN_IDS = 10


@dataclass(frozen=True)
class PrecomputedConfig:
    """Where the outputs are: ``dir``, or ``images`` and ``captions``."""

    dir: str | None = None  # folder with captions.jsonl (or captions/) and images/
    images: str | None = None  # folder of ID.<ext> images
    captions: str | None = None  # JSONL file of {"id", "caption"} lines, or folder of ID.txt files

    def __post_init__(self) -> None:
        if (self.dir is None) == (self.images is None and self.captions is None):
            raise ValueError(
                "pass --adapter-arg dir=FOLDER, or both images=FOLDER and captions=FILE_OR_FOLDER."
            )
        if self.dir is None and (self.images is None or self.captions is None):
            raise ValueError("images= and captions= go together (or use dir=FOLDER).")

    def locations(self) -> tuple[Path, Path]:
        """(captions file or folder, images folder)."""
        if self.dir is not None:
            root = Path(self.dir).expanduser()
            captions = root / CAPTIONS_FILE
            if not captions.exists() and (root / CAPTIONS_DIR).is_dir():
                captions = root / CAPTIONS_DIR
            return captions, root / IMAGES_DIR
        return Path(str(self.captions)).expanduser(), Path(str(self.images)).expanduser()


def _read_caption_file(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start + 1}); save it as UTF-8.") from None


def read_captions(source: Path) -> dict[str, str]:
    """Captions by id from a JSONL file or a folder of ``ID.txt`` files."""
    if source.is_dir():
        return {path.stem: _read_caption_file(path) for path in sorted(source.glob("*.txt"))}
    if not source.is_file():
        raise InputError(
            f"precomputed: no captions at {source}; expected a JSONL file or a folder of ID.txt."
        )
    captions: dict[str, str] = {}
    for number, record in enumerate(read_jsonl(source), start=1):
        sample_id, caption = record.get("id"), record.get("caption")
        if not isinstance(sample_id, str) or not isinstance(caption, str):
            raise InputError(
                f'{source}:{number}: expected {{"id": "...", "caption": "..."}}, got {record!r}.'
            )
        if sample_id in captions and captions[sample_id] != caption:
            raise InputError(f"{source}:{number}: sample {sample_id!r} has two different captions.")
        captions[sample_id] = caption
    return captions


def index_images(folder: Path) -> dict[str, Path]:
    """Image paths by id (file stem); two files for one id is an error."""
    if not folder.is_dir():
        raise InputError(f"precomputed: no image folder at {folder}.")
    images: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.stem in images:
            raise InputError(
                f"precomputed: {images[path.stem].name} and {path.name} both claim id {path.stem!r}."
            )
        images[path.stem] = path
    return images


def _source_files(captions: Path, images: Path) -> list[tuple[str, Path]]:
    """(label, path) of every file the adapter serves from, in a fixed order."""
    if captions.is_dir():
        caption_files = [(f"{CAPTIONS_DIR}/{p.name}", p) for p in sorted(captions.glob("*.txt"))]
    elif captions.is_file():
        caption_files = [(CAPTIONS_FILE, captions)]
    else:
        raise InputError(
            f"precomputed: no captions at {captions}; expected a JSONL file or a folder of ID.txt."
        )
    image_files = [(f"{IMAGES_DIR}/{p.name}", p) for _, p in sorted(index_images(images).items())]
    return caption_files + image_files


def source_fingerprint(options: AdapterOptions) -> str:
    """``sha256:`` of the names and contents (sha256) of every caption and image file served."""
    captions, images = config_from_args(PrecomputedConfig, options.args).locations()
    digest = hashlib.sha256()
    for label, path in _source_files(captions, images):
        file_digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    file_digest.update(block)
        except OSError as error:
            raise InputError(f"precomputed: cannot read {path} ({error.strerror}).") from None
        digest.update(f"{label}\0{file_digest.hexdigest()}\n".encode())
    return "sha256:" + digest.hexdigest()


def _missing(kind: str, ids: list[str], where: Path) -> MissingSamplesError:
    shown = ", ".join(ids[:_SHOWN_IDS]) + (
        f" and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else ""
    )
    return MissingSamplesError(
        f"precomputed: {len(ids)} samples have no {kind} in {where}: {shown}. Add them (finished samples "
        "are saved; rerun the same command to go on) or narrow the dataset."
    )


class PrecomputedAdapter:
    """Returns stored outputs by sample id (``takes_sample_ids``: the harness passes ``ids=``)."""

    name = "precomputed"
    takes_sample_ids = True

    def __init__(self, config: PrecomputedConfig) -> None:
        self.config = config
        self.captions_source, self.images_folder = config.locations()
        self.captions = read_captions(self.captions_source)
        self.images = index_images(self.images_folder)

    def _require_ids(self, ids: list[str] | None, count: int) -> list[str]:
        if ids is None or len(ids) != count:
            raise UserError(
                "precomputed: needs the sample ids, and this unified-bench's round trip does not pass them "
                "(adapters with takes_sample_ids = True must get ids=[...]); update unified-bench."
            )
        return ids

    def caption(
        self, images: list[Image.Image], *, seeds: list[int], ids: list[str] | None = None
    ) -> list[str]:
        ids = self._require_ids(ids, len(images))
        missing = [sample_id for sample_id in ids if sample_id not in self.captions]
        if missing:
            raise _missing("caption", missing, self.captions_source)
        return [self.captions[sample_id] for sample_id in ids]

    def generate(
        self,
        prompts: list[str],
        *,
        seeds: list[int],
        size: tuple[int, int] | None = None,
        ids: list[str] | None = None,
    ) -> list[Image.Image]:
        ids = self._require_ids(ids, len(prompts))
        missing = [sample_id for sample_id in ids if sample_id not in self.images]
        if missing:
            raise _missing("image", missing, self.images_folder)
        return [read_image(self.images[sample_id])[0] for sample_id in ids]

    def info(self) -> dict[str, Any]:
        digest = hashlib.sha256()
        for sample_id in sorted(self.captions):
            digest.update(f"{sample_id}\0{self.captions[sample_id]}\n".encode())
        for sample_id in sorted(self.images):
            digest.update(
                f"{sample_id}\0".encode() + hashlib.sha256(self.images[sample_id].read_bytes()).digest()
            )
        return {
            "adapter": self.name,
            "captions": str(self.captions_source),
            "images": str(self.images_folder),
            "n_captions": len(self.captions),
            "n_images": len(self.images),
            "content_sha256": digest.hexdigest(),
            "settings": asdict(self.config),
        }


def build_precomputed(options: AdapterOptions) -> PrecomputedAdapter:
    return PrecomputedAdapter(config_from_args(PrecomputedConfig, options.args))
