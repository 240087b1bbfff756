"""``longclip`` (image-image) and ``longclipscore`` (caption-image) on Long-CLIP-L.

``longclip-L.pt`` (hub repo ``BeichenZhang/LongCLIP-L``) is a plain OpenAI-CLIP-style state dict
whose text tower has 248 positions and a split positional embedding: Long-CLIP adds
``positional_embedding`` masked to the first 20 positions and ``positional_embedding_res`` masked
to the rest. Adding two masked tables equals one table that takes rows ``[:20]`` from the first
and ``[20:]`` from the second, so we fold them into one and run open_clip's standard ``CLIP``
(QuickGELU, argmax/EOT pooling), which has the same module layout and key names as OpenAI's.
Images get Long-CLIP's transform: bicubic resize of the shortest side, center crop, CLIP mean/std.

Loading follows Long-CLIP's ``load()``: its ``build_model`` converts the model's matmul weights
(convolution, linear and attention weights and biases, both projections) to fp16 *before*
``load_state_dict``, so those values are rounded to fp16 even though ``longclip-L.pt`` stores fp32;
layer norms and embeddings keep the file's values. ``load()`` then computes in float32 on the CPU
(``model.float()``) and leaves the model in that mixed fp16 state on CUDA. We do the same: the
default compute dtype is float32 on CPU and float16 on CUDA, and the fingerprint says ``weights-fp16``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from unified_bench.errors import InputError
from unified_bench.scorers.base import EmbeddingScorer
from unified_bench.scorers.embedding import dtype_name, rgb
from unified_bench.scorers.registry import BuildContext
from unified_bench.scorers.text_image import ImageTextScorer
from unified_bench.scorers.weights import ResolvedWeights, resolve_weights_file

LONGCLIP_REPO_ID = "BeichenZhang/LongCLIP-L"
LONGCLIP_FILENAME = "longclip-L.pt"
SHORT_POSITIONS = 20  # Long-CLIP keeps CLIP's first 20 text positions as trained
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HEAD_WIDTH = 64  # OpenAI CLIP: attention heads = width // 64
WEIGHT_ROUNDING = "weights-fp16"  # fingerprint part: matmul weights rounded to fp16, as load() does
_OPENAI_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")


def fold_positional_embeddings(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Long-CLIP's two masked text position tables -> one table (plain CLIP layout)."""
    folded = {k: v for k, v in state_dict.items() if k not in _OPENAI_EXTRA_KEYS}
    residual = folded.pop("positional_embedding_res", None)
    if residual is not None:
        table = folded["positional_embedding"].clone()
        table[SHORT_POSITIONS:] = residual[SHORT_POSITIONS:]
        folded["positional_embedding"] = table
    return folded


def _count_blocks(state_dict: dict[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)\.")
    return len({m.group(1) for key in state_dict if (m := pattern.match(key))})


def build_clip_from_state_dict(
    state_dict: dict[str, torch.Tensor], *, dtype: torch.dtype = torch.float32
) -> torch.nn.Module:
    """An open_clip ``CLIP`` with the shapes read from an OpenAI/Long-CLIP ViT state dict, loaded strictly
    the way Long-CLIP's ``load()`` loads it (matmul weights rounded to fp16), computing in ``dtype``.

    In half precision, layer norms still compute in float32, as in OpenAI's and Long-CLIP's code.
    """
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg, convert_weights_to_lp

    state_dict = fold_positional_embeddings(state_dict)
    if "visual.proj" not in state_dict:
        raise InputError("LongCLIP checkpoint: only ViT image towers are supported (no 'visual.proj' key).")
    patch_size = state_dict["visual.conv1.weight"].shape[-1]
    grid = round((state_dict["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    vision_width = state_dict["visual.conv1.weight"].shape[0]
    text_width = state_dict["ln_final.weight"].shape[0]
    vision_cfg = CLIPVisionCfg(
        layers=_count_blocks(state_dict, "visual.transformer.resblocks."),
        width=vision_width,
        head_width=HEAD_WIDTH,
        patch_size=patch_size,
        image_size=patch_size * grid,
    )
    text_cfg = CLIPTextCfg(
        context_length=state_dict["positional_embedding"].shape[0],
        vocab_size=state_dict["token_embedding.weight"].shape[0],
        width=text_width,
        heads=max(1, text_width // HEAD_WIDTH),
        layers=_count_blocks(state_dict, "transformer.resblocks."),
    )
    half = dtype in (torch.float16, torch.bfloat16)
    embed_dim = state_dict["text_projection"].shape[1]
    model = CLIP(embed_dim, vision_cfg, text_cfg, quick_gelu=True, cast_dtype=dtype if half else None)
    # Long-CLIP's build_model: the same parameters as its convert_weights go to fp16, then the file's
    # values are copied in (rounded to fp16 there); norms and embeddings stay float32.
    convert_weights_to_lp(model, dtype=torch.float16)
    model.load_state_dict(state_dict, strict=True)
    if dtype == torch.float32:
        model.float()  # load() on the CPU: fp16-rounded values, float32 compute
    elif dtype == torch.bfloat16:
        convert_weights_to_lp(model, dtype=torch.bfloat16)  # opt-in only: fp16-rounded, then bf16
    return model.eval()


def longclip_image_transform(image_size: int) -> Any:
    """Long-CLIP's (= OpenAI CLIP's) eval transform for PIL images."""
    from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor

    return Compose(
        [
            Resize(image_size, interpolation=InterpolationMode.BICUBIC),
            CenterCrop(image_size),
            ToTensor(),
            Normalize(OPENAI_CLIP_MEAN, OPENAI_CLIP_STD),
        ]
    )


class LongClipImageScorer(EmbeddingScorer):
    """Long-CLIP ``encode_image`` (projected), L2-normalised."""

    name = "longclip"

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        weights: ResolvedWeights,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.model = model.eval()
        self.weights = weights
        self.device = torch.device(device)
        self.dtype = dtype
        self.image_size = int(model.visual.image_size[0])
        self.transform = longclip_image_transform(self.image_size)

    def fingerprint(self) -> str:
        size = self.image_size
        return (
            f"{self.name}:{self.weights.model_id}@sha256:{self.weights.short_sha}:"
            f"clip-bicubic-short{size}-crop{size}:{WEIGHT_ROUNDING}:{dtype_name(self.dtype)}"
        )

    def pixel_values(self, images: list[Image.Image]) -> torch.Tensor:
        return self.prepare(images).to(self.device, self.dtype)

    def prepare(self, images: list[Image.Image]) -> torch.Tensor:
        pixel_values = torch.stack([self.transform(image) for image in rgb(images)])
        return pixel_values.pin_memory() if self.device.type == "cuda" else pixel_values

    def embed_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        return self._embed_pixel_values(prepared.to(self.device, self.dtype, non_blocking=True))

    def embed(self, images: list[Image.Image]) -> torch.Tensor:
        return self._embed_pixel_values(self.pixel_values(images))

    def _embed_pixel_values(self, pixel_values: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            features = self.model.encode_image(pixel_values)
        return F.normalize(features.float(), dim=-1).cpu()

    def embed_tensor(self, pixels: torch.Tensor) -> torch.Tensor:
        from torchvision.transforms import ToTensor

        # The same transform minus ToTensor, applied to the float tensor (torchvision accepts both).
        for step in self.transform.transforms:
            if not isinstance(step, ToTensor):
                pixels = step(pixels)
        features = self.model.encode_image(pixels.to(self.device, self.dtype))
        return F.normalize(features.float(), dim=-1)


class LongClipScoreScorer(ImageTextScorer):
    """Cosine of a caption's Long-CLIP text embedding (truncated to 248 tokens) and its original image's."""

    name = "longclipscore"

    def __init__(self, image_embedder: LongClipImageScorer, *, batch_size: int = 16) -> None:
        from open_clip.tokenizer import SimpleTokenizer

        self.image_embedder = image_embedder
        self.batch_size = batch_size
        self.context_length = int(image_embedder.model.context_length)
        self.tokenizer = SimpleTokenizer(context_length=self.context_length)

    def text_preprocessing_id(self) -> str:
        return f"openai-clip-bpe-trunc{self.context_length}"

    def embed_texts(self, captions: list[str]) -> torch.Tensor:
        embedder = self.image_embedder
        tokens = self.tokenizer(captions).to(embedder.device)
        with torch.inference_mode():
            features = embedder.model.encode_text(tokens)
        return F.normalize(features.float(), dim=-1).cpu()


@dataclass(frozen=True)
class LoadedLongClip:
    model: torch.nn.Module
    weights: ResolvedWeights


def longclip_placement(context: BuildContext) -> tuple[torch.device, torch.dtype]:
    """Long-CLIP's ``load()`` precision unless ``--dtype`` asks: float16 on CUDA, float32 elsewhere."""
    from unified_bench.torch_utils import resolve_device, resolve_dtype

    device = resolve_device(context.device)
    if context.dtype in (None, "auto"):
        return device, torch.float16 if device.type == "cuda" else torch.float32
    return device, resolve_dtype(context.dtype, device)


def load_longclip(ref: str, context: BuildContext, *, scorer: str) -> LoadedLongClip:
    """Load Long-CLIP (once per context) from a ``.pt`` file, a folder with ``longclip-L.pt``, or a hub id."""
    device, dtype = longclip_placement(context)

    def load() -> LoadedLongClip:
        weights = resolve_weights_file(ref, LONGCLIP_FILENAME, scorer=scorer)
        state_dict = _load_state_dict(weights.path, scorer=scorer)
        model = build_clip_from_state_dict(state_dict, dtype=dtype).to(device)
        return LoadedLongClip(model, weights)

    return context.shared(("longclip", ref, str(device), dtype), load)


def _load_state_dict(path: Path, *, scorer: str) -> dict[str, torch.Tensor]:
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a pickle with code, a truncated file, not a torch file at all
        raise InputError(
            f"{scorer}: {path} is not a loadable state dict ({type(error).__name__}); "
            f"expected {LONGCLIP_FILENAME} from {LONGCLIP_REPO_ID}."
        ) from None
    if isinstance(state_dict, dict) and isinstance(state_dict.get("state_dict"), dict):
        state_dict = state_dict["state_dict"]
    if not isinstance(state_dict, dict) or "positional_embedding" not in state_dict:
        raise InputError(f"{scorer}: {path} is not a CLIP-style state dict (no 'positional_embedding').")
    return state_dict


def build_longclip_scorer(model: str | None, context: BuildContext) -> LongClipImageScorer:
    loaded = load_longclip(model or LONGCLIP_REPO_ID, context, scorer="longclip")
    device, dtype = longclip_placement(context)
    return LongClipImageScorer(loaded.model, weights=loaded.weights, device=device, dtype=dtype)


def build_longclipscore_scorer(model: str | None, context: BuildContext) -> LongClipScoreScorer:
    loaded = load_longclip(model or LONGCLIP_REPO_ID, context, scorer="longclipscore")
    device, dtype = longclip_placement(context)
    image_embedder = LongClipImageScorer(loaded.model, weights=loaded.weights, device=device, dtype=dtype)
    return LongClipScoreScorer(image_embedder)
