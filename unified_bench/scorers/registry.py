"""Scorer names -> lazy factories, spec parsing (``NAME`` or ``NAME=MODEL``) and ``build_scorers``.

Importing this module is cheap: no torch, no transformers. A factory is a ``module:callable`` path
whose callable takes ``(model, context)`` (``model`` = the part after ``=``, or ``None`` for the
scorer's default weights) and returns a ``Scorer``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from unified_bench.errors import InputError, UnknownNameError

if TYPE_CHECKING:
    from unified_bench.scorers.base import Scorer

T = TypeVar("T")

PAPER_SCORERS: tuple[str, ...] = ("clip", "dinov2", "dinov3", "longclip")
PIXEL_SCORERS: tuple[str, ...] = ("lpips", "ssim", "psnr")
CAPTION_SCORERS: tuple[str, ...] = (
    "caption_words",
    "caption_tokens",
    "clipscore",
    "longclipscore",
    "bleu4",
    "rougeL",
    "cider",
)
DEFAULT_SCORERS: tuple[str, ...] = PAPER_SCORERS + PIXEL_SCORERS + CAPTION_SCORERS
# t2i2t: caption against prompt (text pairs), plus prompt against drawn image (which half lost it).
T2I2T_PRIMARY = "longclip_t2t"
T2I2T_TEXT_SCORERS: tuple[str, ...] = ("longclip_t2t", "clip_t2t", "quoted_text", "quoted_text_edit")
# Scorers whose package is an extra (``unified-bench[sbert]``): never a default, asked for by name.
OPTIONAL_SCORERS: tuple[str, ...] = ("sbert",)
TEXT_PAIR_SCORERS: tuple[str, ...] = T2I2T_TEXT_SCORERS + OPTIONAL_SCORERS
T2I2T_SCORERS: tuple[str, ...] = T2I2T_TEXT_SCORERS + CAPTION_SCORERS
# Scorers that compare a reconstruction with a reference image: t2i2t has no reference image.
IMAGE_PAIR_SCORERS: tuple[str, ...] = PAPER_SCORERS + PIXEL_SCORERS
# Statistics with no better direction (a longer caption is not a better one): reported, never gated.
INFORMATIONAL_SCORERS: tuple[str, ...] = ("caption_words", "caption_tokens")

SCORER_FACTORIES: dict[str, str] = {
    "clip": "unified_bench.scorers.clip:build_clip_scorer",
    "dinov2": "unified_bench.scorers.dino:build_dinov2_scorer",
    "dinov3": "unified_bench.scorers.dino:build_dinov3_scorer",
    "longclip": "unified_bench.scorers.longclip:build_longclip_scorer",
    "lpips": "unified_bench.scorers.pixel:build_lpips_scorer",
    "ssim": "unified_bench.scorers.pixel:build_ssim_scorer",
    "psnr": "unified_bench.scorers.pixel:build_psnr_scorer",
    "caption_words": "unified_bench.scorers.captions:build_caption_words_scorer",
    "caption_tokens": "unified_bench.scorers.captions:build_caption_tokens_scorer",
    "clipscore": "unified_bench.scorers.clip:build_clipscore_scorer",
    "longclipscore": "unified_bench.scorers.longclip:build_longclipscore_scorer",
    "bleu4": "unified_bench.scorers.captions:build_bleu4_scorer",
    "rougeL": "unified_bench.scorers.captions:build_rouge_l_scorer",
    "cider": "unified_bench.scorers.captions:build_cider_scorer",
    "longclip_t2t": "unified_bench.scorers.text_text:build_longclip_t2t_scorer",
    "clip_t2t": "unified_bench.scorers.text_text:build_clip_t2t_scorer",
    "quoted_text": "unified_bench.scorers.text_text:build_quoted_text_scorer",
    "quoted_text_edit": "unified_bench.scorers.text_text:build_quoted_text_edit_scorer",
    "sbert": "unified_bench.scorers.sbert:build_sbert_scorer",
}

IMAGE_BACKENDS = ("pil", "torchvision")


@dataclass
class BuildContext:
    """What every factory gets: placement, the image-processor backend, and a memo of loaded models.

    The memo lets ``clip`` and ``clipscore`` (or ``longclip`` and ``longclipscore``) with the same
    weights share one model in memory.
    """

    device: str | None = None
    dtype: str | None = None
    image_backend: str = "pil"
    _loaded: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.image_backend not in IMAGE_BACKENDS:
            raise InputError(
                f"image backend {self.image_backend!r}: use one of {', '.join(IMAGE_BACKENDS)} "
                "(pil reproduces the official preprocessing; torchvision is faster but not bit-identical)."
            )

    def shared(self, key: Hashable, load: Callable[[], T]) -> T:
        """``load()`` once per ``key`` for the lifetime of this context."""
        if key not in self._loaded:
            self._loaded[key] = load()
        return self._loaded[key]


def scorer_names() -> list[str]:
    """Every registered scorer name, in the order of ``DEFAULT_SCORERS``."""
    return list(SCORER_FACTORIES)


def default_scorers(direction: str) -> tuple[str, ...]:
    """The scorers a run of ``direction`` gets without ``--scorer``."""
    return T2I2T_SCORERS if direction == "t2i2t" else DEFAULT_SCORERS


def check_scorers_for_direction(specs: list[str] | tuple[str, ...], direction: str) -> None:
    """Refuse, in one line, a scorer that has nothing to score in ``direction``."""
    names = [parse_scorer_spec(spec)[0] for spec in specs]
    wrong = IMAGE_PAIR_SCORERS if direction == "t2i2t" else TEXT_PAIR_SCORERS
    misplaced = [name for name in names if name in wrong]
    if not misplaced:
        return
    if direction == "t2i2t":
        raise InputError(
            f"--scorer {', '.join(misplaced)}: these compare a reconstruction with a reference image, and "
            f"t2i2t starts from a prompt; drop them (t2i2t scorers: {', '.join(T2I2T_SCORERS)})."
        )
    raise InputError(
        f"--scorer {', '.join(misplaced)}: these compare a caption with the prompt an image was drawn "
        "from, which only --direction t2i2t has; drop them or add --direction t2i2t."
    )


def parse_scorer_spec(spec: str) -> tuple[str, str | None]:
    """Split ``NAME`` or ``NAME=MODEL`` (hub id or local path); raise on unknown names."""
    name, sep, model = spec.strip().partition("=")
    name, model = name.strip(), model.strip()
    if name not in SCORER_FACTORIES:
        raise UnknownNameError("scorer", name, scorer_names())
    if sep and not model:
        raise InputError(f"scorer spec {spec!r}: nothing after '='; use {name} or {name}=HUB_ID_OR_PATH.")
    return name, (model or None)


def build_scorers(
    specs: list[str],
    *,
    device: str | None = None,
    dtype: str | None = None,
    image_backend: str = "pil",
) -> list[Scorer]:
    """Build one scorer per spec, in order.

    Args:
        specs: ``NAME`` (default weights) or ``NAME=MODEL`` (hub id, local folder or file).
        device: torch device (``None``/``"auto"``: cuda if available).
        dtype: ``float32``/``bfloat16``/``float16``; ``None``/``"auto"``: each scorer's official precision
            (float32 for CLIP/DINOv2/DINOv3; Long-CLIP as its ``load()``: fp16 weights, fp16 on CUDA).
        image_backend: ``pil`` (default; the official preprocessing) or ``torchvision`` (opt-in speed).

    Raises:
        UnknownNameError: a name that is not registered.
        InputError: a malformed spec or a scorer given twice.
        MissingWeightsError: weights not on disk and not downloadable here.
    """
    parsed = [parse_scorer_spec(spec) for spec in specs]
    seen: set[str] = set()
    for name, _ in parsed:
        if name in seen:
            raise InputError(f"scorer {name!r} is given twice; each scorer name may appear once.")
        seen.add(name)
    context = BuildContext(device=device, dtype=dtype, image_backend=image_backend)
    return [_factory(name)(model, context) for name, model in parsed]


def reject_model(name: str, model: str | None) -> None:
    """For scorers without weights: ``NAME=MODEL`` is a mistake worth a clear message."""
    if model is not None:
        raise InputError(f"scorer {name} has no weights; write {name}, not {name}={model}.")


def _factory(name: str) -> Callable[[str | None, BuildContext], Scorer]:
    module_name, _, attribute = SCORER_FACTORIES[name].partition(":")
    return getattr(importlib.import_module(module_name), attribute)
