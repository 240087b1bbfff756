"""The UAE adapter: caption with Qwen2.5-VL, regenerate from the caption text with SD3.

Batch independence: every random draw of a sample comes from its own seed (Gumbel noise for
caption tokens, CPU-drawn initial latents for images), and with ``batch_invariant`` (the default)
a sample never shares a model call with another one, so its caption and pixels are bit-identical
at any batch size. Otherwise samples share calls, but only samples whose prompt embeddings have
the same length share an SD3 call: SD3 has no text attention mask, so padding one prompt to
another's length would change its image.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from unified_bench.adapter import AdapterOptions, config_from_args
from unified_bench.errors import InputError
from unified_bench.sampling import greedy_sampling_warning
from unified_bench.torch_utils import resolve_device, resolve_dtype

from .checkpoint import (
    CheckpointLocation,
    CheckpointOverride,
    TrainingMetadata,
    processor_source,
    require_layout,
    resolve_checkpoint,
)
from .config import SIZE_MULTIPLE, UAEConfig
from .decoder import UAEDecoder
from .encoder import UAEEncoder

TINY_BASE_MODEL = "uae-tiny"  # how a checkpoint trained on the tiny model names its base


def share_calls(lengths: Sequence[int], batch_invariant: bool) -> list[list[int]]:
    """Which samples run together: alone, or grouped by equal length (order kept within a group).

    >>> share_calls([5, 7, 5], batch_invariant=False)
    [[0, 2], [1]]
    >>> share_calls([5, 7, 5], batch_invariant=True)
    [[0], [1], [2]]
    """
    if batch_invariant:
        return [[index] for index in range(len(lengths))]
    groups: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        groups.setdefault(length, []).append(index)
    return list(groups.values())


PROTOCOLS = ("text", "native")


class UAEAdapter:
    """UAE (arXiv 2509.09666) as a unified-bench ``Adapter``.

    Protocol ``text`` (default): the decoder sees only the caption text, re-encoded in the
    ``generate`` role. Protocol ``native``: the decoder is conditioned on the projected states of the
    caption tokens computed with the reference image in context, so ``generate`` needs the
    reference images (``generate_needs_references``).
    """

    name = "uae"

    def __init__(
        self,
        encoder: UAEEncoder,
        decoder: UAEDecoder,
        config: UAEConfig,
        *,
        location: CheckpointLocation,
        override: CheckpointOverride | None,
        device: torch.device,
        dtype: torch.dtype,
        protocol: str = "text",
    ) -> None:
        if protocol not in PROTOCOLS:
            raise InputError(f"--protocol {protocol}: UAE offers {', '.join(PROTOCOLS)}.")
        self.protocol = protocol
        self.encoder = encoder
        self.decoder = decoder
        self.config = config
        self.location = location
        self.override = override
        self.device = device
        self.dtype = dtype

    @classmethod
    def from_pretrained(
        cls,
        model_id_or_dir: str,
        config: UAEConfig | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        protocol: str = "text",
    ) -> UAEAdapter:
        """Load a UAE checkpoint (hub id or local directory in the release layout).

        Example:
            >>> adapter = UAEAdapter.from_pretrained("zhiyuanyan1/UAE", device="cuda")  # doctest: +SKIP
            >>> adapter.generate(adapter.caption([image], seeds=[1]), seeds=[2])  # doctest: +SKIP

        Raises:
            MissingWeightsError: the weights are not on disk and cannot be downloaded, or the
                directory lacks a part of the release layout.
        """
        config = dataclasses.replace(config or UAEConfig(), model=str(model_id_or_dir))
        device = device if isinstance(device, torch.device) else resolve_device(device)
        dtype = dtype if isinstance(dtype, torch.dtype) else resolve_dtype(dtype, device)
        location = resolve_checkpoint(config.model, config.revision)
        override = CheckpointOverride.from_dir(config.checkpoint) if config.checkpoint else None
        root = location.root
        llm_lora = override.llm_lora if override and override.llm_lora else root / "llm_lora"
        dit_lora = override.dit_lora if override and override.dit_lora else root / "dit_lora"
        require_layout(
            root,
            llm_lora=config.use_llm_lora and llm_lora == root / "llm_lora",
            dit_lora=config.use_dit_lora and dit_lora == root / "dit_lora",
        )
        encoder = UAEEncoder.load(
            root / "llm_model",
            processor_source(root, config.processor),
            config,
            llm_lora=llm_lora if config.use_llm_lora else None,
            projector=override.projector if override else None,
            device=device,
            dtype=dtype,
        )
        decoder = UAEDecoder.load(
            root / "SD3",
            override.dit if override and override.dit else root / "dit",
            dit_lora=dit_lora if config.use_dit_lora else None,
            device=device,
            dtype=dtype,
        )
        return cls(
            encoder,
            decoder,
            config,
            location=location,
            override=override,
            device=device,
            dtype=dtype,
            protocol=protocol,
        )

    @property
    def generate_needs_references(self) -> bool:
        return self.protocol == "native"

    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        """One caption per image, sampled with ``seeds[i]`` (demo.py's instruction and settings)."""
        _check_lengths(images, seeds, "images")
        return self.encoder.caption(images, seeds) if images else []

    def generate(
        self,
        prompts: list[str],
        *,
        seeds: list[int],
        size: tuple[int, int] | None = None,
        references: list[Image.Image] | None = None,
    ) -> list[Image.Image]:
        """One image per prompt: the prompt goes through Qwen (role ``generate``) + projector into SD3.

        Under the ``native`` protocol ``references[i]`` is the image ``prompts[i]`` was captioned from.
        """
        _check_lengths(prompts, seeds, "prompts")
        width, height = size if size is not None else (self.config.width, self.config.height)
        if width <= 0 or height <= 0 or width % SIZE_MULTIPLE or height % SIZE_MULTIPLE:
            raise InputError(
                f"size {width}x{height}: UAE needs positive multiples of {SIZE_MULTIPLE} pixels."
            )
        if self.protocol == "native":
            if references is None or len(references) != len(prompts):
                raise InputError("protocol native: generate needs one reference image per prompt.")
            pairs = [
                self.encoder.project_native_pair(ref, prompt)
                for ref, prompt in zip(references, prompts, strict=True)
            ]
        else:
            pairs = [self.encoder.project_pair(prompt) for prompt in prompts]
        lengths = [positive.shape[0] for _, positive in pairs]
        images: dict[int, Image.Image] = {}
        for group in share_calls(lengths, self.config.batch_invariant):
            rendered = self.decoder.render(
                torch.stack([pairs[i][1] for i in group]),
                torch.stack([pairs[i][0] for i in group]),
                [seeds[i] for i in group],
                width=width,
                height=height,
                num_inference_steps=self.config.num_inference_steps,
                guidance_scale=self.config.guidance_scale,
            )
            images.update(zip(group, rendered, strict=True))
        return [images[index] for index in range(len(prompts))]

    def info(self) -> dict[str, Any]:
        """Model ids/revisions (or path + config hashes), dtype, device, protocol and every setting."""
        return {
            "adapter": self.name,
            "protocol": self.protocol,
            "weights": self.location.provenance(),
            "checkpoint": self.override.provenance() if self.override else None,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "encoder": self.encoder.info(),
            "decoder": self.decoder.info(),
            "config": dataclasses.asdict(self.config),
            "warnings": self._warnings(),
        }

    def _warnings(self) -> list[str]:
        sampling = self.encoder.sampling
        if not sampling.do_sample:
            return []
        warning = greedy_sampling_warning("caption", sampling.temperature, sampling.top_k, sampling.top_p)
        return [warning] if warning else []


def _check_lengths(items: Sequence[Any], seeds: Sequence[int], name: str) -> None:
    if len(items) != len(seeds):
        raise ValueError(f"got {len(items)} {name} but {len(seeds)} seeds; pass one seed per sample")


def checkpoint_defaults(args: dict[str, str], *, base: bool) -> tuple[dict[str, str], bool]:
    """Settings a training checkpoint (``checkpoint=DIR``) supplies for what ``args`` leaves unset.

    Returns the extra ``--adapter-arg`` values (its recorded ``adapter_args``; with ``base``, also
    ``model``/``revision`` = the base model it was trained from) and whether that base is ``uae-tiny``.
    """
    given = {key.replace("-", "_"): value for key, value in args.items()}
    metadata = TrainingMetadata.read(given["checkpoint"]) if given.get("checkpoint") else None
    if metadata is None:
        return {}, False
    extra = {key: value for key, value in metadata.adapter_args.items() if key not in given}
    tiny_base = metadata.base_model == TINY_BASE_MODEL
    if base and "model" not in given and not tiny_base:
        extra["model"] = metadata.base_model
        if metadata.base_revision and "revision" not in given:
            extra["revision"] = metadata.base_revision
    return extra, tiny_base and "model" not in given


def build_uae(options: AdapterOptions) -> UAEAdapter:
    """Factory of the ``uae`` adapter: ``--adapter-arg`` strings -> ``UAEConfig`` -> weights.

    With ``checkpoint=DIR`` and no ``model``, the base model recorded in the checkpoint is used.
    """
    extra, tiny_base = checkpoint_defaults(dict(options.args), base=True)
    if tiny_base:
        return build_uae_tiny(
            AdapterOptions({**options.args, **extra}, options.device, options.dtype, options.protocol)
        )
    config = config_from_args(UAEConfig, {**options.args, **extra})
    return UAEAdapter.from_pretrained(config.model, config, options.device, options.dtype, options.protocol)


def build_uae_tiny(options: AdapterOptions) -> UAEAdapter:
    """Factory of ``uae-tiny``: the same classes at toy sizes, random weights built once and cached."""
    from .tiny import TINY_DEFAULTS, ensure_tiny_checkpoint

    extra, _ = checkpoint_defaults(dict(options.args), base=False)
    args = {**options.args, **extra}
    given = {key.replace("-", "_") for key in args}
    defaults = {key: value for key, value in TINY_DEFAULTS.items() if key not in given}
    if "model" not in given:
        defaults["model"] = str(ensure_tiny_checkpoint())
    config = config_from_args(UAEConfig, args, **defaults)
    adapter = UAEAdapter.from_pretrained(
        config.model, config, options.device, options.dtype, options.protocol
    )
    adapter.name = "uae-tiny"
    return adapter
