"""Where UAE's weights are: hub id or local directory, the release layout, and provenance hashes.

The release (``zhiyuanyan1/UAE``) is laid out as::

    llm_model/                Qwen2.5-VL-3B + projector (+ processor files)
    llm_model_preprocessor/   optional processor override (the GitHub repo ships its preprocessor_config.json)
    llm_lora/                 Stage-2 encoder LoRA, *.safetensors
    SD3/                      SD3.5-Large parts: vae/, scheduler/, text_encoder(_2)/, tokenizer(_2)/
    dit/                      the fine-tuned SD3 transformer
    dit_lora/                 Stage-3 decoder LoRA (PEFT)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unified_bench.errors import InputError, MissingWeightsError
from unified_bench.paths import file_sha256, local_path

from .config import DEFAULT_MODEL

# Written by the Unified-GRPO trainer (adapters/uae/train) into every checkpoint it saves.
TRAINING_METADATA = "uae_training.json"

# Only what the adapter loads: the stock SD3 transformer (SD3/transformer) and the T5 encoder
# (SD3/text_encoder_3) are never used, which saves ~25 GB of download.
HUB_PATTERNS = (
    "llm_model/*",
    "llm_model_preprocessor/*",
    "llm_lora/*",
    "SD3/model_index.json",
    "SD3/vae/*",
    "SD3/scheduler/*",
    "SD3/text_encoder/*",
    "SD3/text_encoder_2/*",
    "SD3/tokenizer/*",
    "SD3/tokenizer_2/*",
    "dit/*",
    "dit_lora/*",
)
_REQUIRED_FILES = (
    "llm_model/config.json",
    "SD3/vae/config.json",
    "SD3/scheduler/scheduler_config.json",
    "SD3/text_encoder/config.json",
    "SD3/text_encoder_2/config.json",
    "SD3/tokenizer",
    "SD3/tokenizer_2",
    "dit/config.json",
)
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer_config.json")
_DOWNLOAD_HINT = (
    f"download it with `hf download {DEFAULT_MODEL} --local-dir DIR` (older huggingface_hub: "
    f"`hf download {DEFAULT_MODEL} --local-dir DIR`) and pass --adapter-arg model=DIR"
)


@dataclass(frozen=True)
class CheckpointLocation:
    """A UAE checkpoint on disk and where it came from."""

    root: Path
    source: str  # "hub" or "local"
    repo_id: str | None = None
    revision: str | None = None

    def provenance(self) -> dict[str, Any]:
        """Ids and revision for a hub checkpoint; path and config-file hashes for a local one."""
        record: dict[str, Any] = {"source": self.source, "path": str(self.root)}
        if self.source == "hub":
            record.update(repo_id=self.repo_id, revision=self.revision)
        record["config_sha256"] = config_fingerprints(self.root)
        return record


def resolve_checkpoint(model: str, revision: str | None = None) -> CheckpointLocation:
    """A local directory as is, a hub repo id through ``snapshot_download``.

    Raises:
        MissingWeightsError: the directory does not exist, or the hub cannot be reached and the
            weights are not in the local Hugging Face cache.
    """
    path = local_path(model)
    if path is not None and path.is_dir():
        return CheckpointLocation(root=path.resolve(), source="local")
    if path is not None:
        raise MissingWeightsError(f"{model}: no such checkpoint directory; {_DOWNLOAD_HINT}.")
    from huggingface_hub import snapshot_download

    try:
        snapshot = snapshot_download(repo_id=model, revision=revision, allow_patterns=list(HUB_PATTERNS))
    except (OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MissingWeightsError(
            f"UAE weights {model!r} are not available here ({type(error).__name__}: {reason}); "
            f"{_DOWNLOAD_HINT}."
        ) from None
    root = Path(snapshot)
    return CheckpointLocation(root=root, source="hub", repo_id=model, revision=root.name)


def require_layout(root: Path, *, llm_lora: bool, dit_lora: bool) -> None:
    """Raise ``MissingWeightsError`` naming the first folder of the release layout that is missing."""
    required = list(_REQUIRED_FILES)
    if llm_lora:
        required.append("llm_lora")
    if dit_lora:
        required.append("dit_lora/adapter_config.json")
    for relative in required:
        if not (root / relative).exists():
            raise MissingWeightsError(
                f"{root}: missing {relative}, so this is not a complete UAE checkpoint (expected llm_model/, "
                f"llm_lora/, SD3/, dit/, dit_lora/ as in {DEFAULT_MODEL}); {_DOWNLOAD_HINT}."
            )


def processor_source(root: Path, override: str | None) -> str:
    """``override``, else llm_model_preprocessor/ when it holds a tokenizer, else llm_model/."""
    if override:
        return override
    for folder in ("llm_model_preprocessor", "llm_model"):
        if any((root / folder / name).is_file() for name in _TOKENIZER_FILES):
            return str(root / folder)
    raise MissingWeightsError(
        f"{root}: neither llm_model_preprocessor/ nor llm_model/ holds a tokenizer; pass "
        "--adapter-arg processor=Qwen/Qwen2.5-VL-3B-Instruct (or a local copy of it)."
    )


@dataclass(frozen=True)
class CheckpointOverride:
    """The parts of a training checkpoint that replace the release's (``UAEConfig.checkpoint``).

    ``dit/`` (a fully fine-tuned SD3 transformer, ``save_pretrained`` layout) is optional too.
    """

    root: Path
    llm_lora: Path | None
    dit_lora: Path | None
    projector: Path | None
    dit: Path | None = None

    @classmethod
    def from_dir(cls, directory: str) -> CheckpointOverride:
        root = Path(directory).expanduser()
        if not root.is_dir():
            raise MissingWeightsError(f"--adapter-arg checkpoint={directory}: no such directory.")
        root = root.resolve()  # parts are reported relative to it (provenance)
        llm_lora, dit_lora, projector = root / "llm_lora", root / "dit_lora", root / "projector.safetensors"
        override = cls(
            root=root,
            llm_lora=llm_lora if llm_lora.is_dir() else None,
            dit_lora=dit_lora if dit_lora.is_dir() else None,
            projector=projector if projector.is_file() else None,
            dit=root / "dit" if (root / "dit" / "config.json").is_file() else None,
        )
        if not any((override.llm_lora, override.dit_lora, override.projector, override.dit)):
            raise InputError(
                f"{root}: a checkpoint directory needs llm_lora/, dit_lora/, projector.safetensors or dit/; "
                "found none of them."
            )
        return override

    def provenance(self) -> dict[str, Any]:
        """Path and the sha256 of every file it contributes (LoRA and projector files are small)."""
        files: dict[str, str] = {}
        for part in (self.llm_lora, self.dit_lora, self.projector, self.dit):
            if part is None:
                continue
            for file in sorted(part.rglob("*") if part.is_dir() else [part]):
                if file.is_file():
                    files[str(file.relative_to(self.root))] = file_sha256(file)
        return {"path": str(self.root), "sha256": files}


@dataclass(frozen=True)
class TrainingMetadata:
    """What a Unified-GRPO checkpoint records about its origin (``uae_training.json``).

    ``base_model`` is the ``model`` it was trained from (hub id, directory, or ``uae-tiny``);
    ``adapter_args`` are the settings it must be run with (e.g. ``use_llm_lora: "false"`` when the
    encoder was trained without a LoRA). Both fill in what ``--adapter-arg`` leaves unset.
    """

    base_model: str
    base_revision: str | None
    adapter_args: dict[str, str]

    @classmethod
    def read(cls, directory: str | Path) -> TrainingMetadata | None:
        """The checkpoint's metadata, or ``None`` when it has none (e.g. a hand-made override folder)."""
        path = Path(directory).expanduser() / TRAINING_METADATA
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                base_model=str(record["base_model"]),
                base_revision=record.get("base_revision"),
                adapter_args={str(k): str(v) for k, v in (record.get("adapter_args") or {}).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InputError(f"{path}: not a readable training metadata file ({error}).") from None


def config_fingerprints(root: Path) -> dict[str, str]:
    """sha256 of the JSON config files of each release folder (weights are too large to hash here)."""
    folders = ("llm_model", "llm_model_preprocessor", "llm_lora", "SD3", "dit", "dit_lora")
    files = [file for folder in folders for file in sorted((root / folder).glob("*.json"))]
    files += sorted((root / "SD3").glob("*/*.json"))
    return {str(file.relative_to(root)): file_sha256(file) for file in files}
