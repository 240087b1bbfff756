"""`longclip` scores equal the official LongCLIP.py's, re-derived here without open_clip.

The official script calls Long-CLIP's ``longclip.load(path, device)``: ``build_model`` converts the
matmul weights (conv, linear and attention weights and biases, ``visual.proj``, ``text_projection``)
to fp16 *before* ``load_state_dict``, so a float32 ``longclip-L.pt`` is rounded to fp16 there; on the
CPU ``load()`` then calls ``model.float()``. Images are opened with ``Image.open(path).convert("RGB")``
and get Long-CLIP's transform. Below, that recipe and the ViT forward are written out with plain
torch ops, and compared per sample with ``unified-bench score`` on a float32 tiny checkpoint.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tests._tiny_scorers import tiny_specs

__all__ = ["tiny_specs"]

# Parameters Long-CLIP's convert_weights puts in fp16 (modules Conv2d/Linear/MultiheadAttention, and
# the two projection matrices); everything else (embeddings, layer norms) keeps the file's values.
_FP16_SUFFIXES = (
    ".attn.in_proj_weight",
    ".attn.in_proj_bias",
    ".attn.out_proj.weight",
    ".attn.out_proj.bias",
    ".mlp.c_fc.weight",
    ".mlp.c_fc.bias",
    ".mlp.c_proj.weight",
    ".mlp.c_proj.bias",
)
_FP16_KEYS = ("visual.conv1.weight", "visual.proj", "text_projection")
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def longclip_load_weights(path: str, *, round_like_load: bool = True) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    weights = {}
    for key, value in state.items():
        stored_in_fp16 = key in _FP16_KEYS or key.endswith(_FP16_SUFFIXES)
        weights[key] = value.half().double() if (round_like_load and stored_in_fp16) else value.double()
    return weights


def longclip_transform(image: Image.Image, size: int) -> torch.Tensor:
    """Resize(size, bicubic) of the shorter side, CenterCrop(size), ToTensor, Normalize."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    image = TF.resize(image, size, interpolation=InterpolationMode.BICUBIC)
    image = TF.center_crop(image, [size, size])
    pixels = TF.to_tensor(image.convert("RGB"))
    return TF.normalize(pixels, CLIP_MEAN, CLIP_STD)


def _layer_norm(x: torch.Tensor, w: dict, prefix: str) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], w[f"{prefix}.weight"], w[f"{prefix}.bias"], eps=1e-5)


def _attention(x: torch.Tensor, w: dict, prefix: str, heads: int) -> torch.Tensor:
    batch, length, width = x.shape
    qkv = x @ w[f"{prefix}.in_proj_weight"].T + w[f"{prefix}.in_proj_bias"]
    q, k, v = (t.reshape(batch, length, heads, width // heads).transpose(1, 2) for t in qkv.chunk(3, dim=-1))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(width // heads), dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(batch, length, width)
    return out @ w[f"{prefix}.out_proj.weight"].T + w[f"{prefix}.out_proj.bias"]


def longclip_encode_image(pixels: torch.Tensor, w: dict) -> torch.Tensor:
    """OpenAI CLIP's VisionTransformer.forward (QuickGELU MLP, pre-norm blocks, CLS token, proj)."""
    patch = w["visual.conv1.weight"].shape[-1]
    width = w["visual.conv1.weight"].shape[0]
    x = F.conv2d(pixels, w["visual.conv1.weight"], stride=patch).flatten(2).transpose(1, 2)
    cls = w["visual.class_embedding"].expand(x.shape[0], 1, width)
    x = torch.cat([cls, x], dim=1) + w["visual.positional_embedding"]
    x = _layer_norm(x, w, "visual.ln_pre")
    blocks = len({k.split(".")[3] for k in w if k.startswith("visual.transformer.resblocks.")})
    for index in range(blocks):
        p = f"visual.transformer.resblocks.{index}"
        x = x + _attention(_layer_norm(x, w, f"{p}.ln_1"), w, f"{p}.attn", heads=width // 64)
        h = _layer_norm(x, w, f"{p}.ln_2") @ w[f"{p}.mlp.c_fc.weight"].T + w[f"{p}.mlp.c_fc.bias"]
        h = h * torch.sigmoid(1.702 * h)
        x = x + h @ w[f"{p}.mlp.c_proj.weight"].T + w[f"{p}.mlp.c_proj.bias"]
    return _layer_norm(x[:, 0], w, "visual.ln_post") @ w["visual.proj"]


def official_similarity(recon: Path, reference: Path, w: dict, size: int) -> float:
    """LongCLIP.py's calculate_similarity: two encode_image calls, L2-normalise, cosine."""
    embeddings = []
    for path in (recon, reference):
        pixels = longclip_transform(Image.open(path).convert("RGB"), size)[None].double()
        embeddings.append(F.normalize(longclip_encode_image(pixels, w), dim=-1))
    return float(F.cosine_similarity(embeddings[0], embeddings[1]).item())


def _pairs(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """Pairs in the formats users have: RGB, L, 1-bit, P, RGBA, JPEG, wide, tall."""
    rng = np.random.default_rng(7)
    refs, gens = tmp_path / "refs", tmp_path / "gens"
    refs.mkdir()
    gens.mkdir()

    def noise(width: int, height: int) -> Image.Image:
        return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))

    cases = {
        "rgb": (noise(48, 40), ".png", None),
        "gray": (noise(40, 40), ".png", "L"),
        "bilevel": (noise(36, 36), ".png", "1"),
        "palette": (noise(40, 44), ".png", "P"),
        "alpha": (noise(44, 40), ".png", "RGBA"),
        "photo": (noise(64, 48), ".jpg", None),
        "wide": (noise(120, 34), ".png", None),
        "tall": (noise(33, 90), ".png", None),
    }
    for name, (image, suffix, mode) in cases.items():
        converted = image.convert(mode) if mode else image
        converted.save(refs / f"{name}{suffix}")
        noise(*image.size).save(gens / f"recon_{name}.png")
    return gens, refs, list(cases)


def test_longclip_matches_long_clips_load_per_sample_within_1e6(cli, tiny_specs, tmp_path):
    path = tiny_specs["longclip"]
    stored = torch.load(path, map_location="cpu", weights_only=True)
    assert stored["visual.conv1.weight"].dtype == torch.float32  # like the released longclip-L.pt

    gens, refs, names = _pairs(tmp_path)
    result = cli("score", gens, refs, "--scorer", f"longclip={path}", "--device", "cpu")
    assert result.code == 0, result.err
    per_sample = json.loads((gens / "results.json").read_text())["scorers"]["longclip"]["per_sample"]

    weights = longclip_load_weights(path)
    size = weights["visual.conv1.weight"].shape[-1] * round(
        (weights["visual.positional_embedding"].shape[0] - 1) ** 0.5
    )
    suffix = {p.stem: p for p in refs.iterdir()}
    for name in names:
        expected = official_similarity(gens / f"recon_{name}.png", suffix[name], weights, size)
        assert per_sample[name] == pytest.approx(expected, abs=1e-6), name

    # The rounding is what this test is about: without it the official numbers are different.
    unrounded = longclip_load_weights(path, round_like_load=False)
    far = [
        abs(official_similarity(gens / f"recon_{n}.png", suffix[n], unrounded, size) - per_sample[n])
        for n in names
    ]
    assert max(far) > 1e-6


def test_longclip_fingerprint_says_the_weights_are_fp16_rounded(tiny_specs):
    from unified_bench.scorers import build_scorers

    [default] = build_scorers([f"longclip={tiny_specs['longclip']}"], device="cpu")
    [asked] = build_scorers([f"longclip={tiny_specs['longclip']}"], device="cpu", dtype="bfloat16")
    assert default.fingerprint().endswith(":weights-fp16:float32")
    assert asked.fingerprint().endswith(":weights-fp16:bfloat16")


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, {"clip": torch.float32, "longclip": torch.float16}),  # the official scripts' precision
        ("auto", {"clip": torch.float32, "longclip": torch.float16}),
        ("bfloat16", {"clip": torch.bfloat16, "longclip": torch.bfloat16}),  # only when asked
    ],
)
def test_gpu_default_precision_is_the_official_one(monkeypatch, requested, expected):
    from unified_bench.scorers.embedding import placement
    from unified_bench.scorers.longclip import longclip_placement
    from unified_bench.scorers.registry import BuildContext

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # placement only; nothing runs on it
    context = BuildContext(device="cuda", dtype=requested)
    assert placement(context) == (torch.device("cuda"), expected["clip"])
    assert longclip_placement(context) == (torch.device("cuda"), expected["longclip"])


def test_cpu_default_precision_is_float32_for_every_embedding_scorer():
    from unified_bench.scorers.embedding import placement
    from unified_bench.scorers.longclip import longclip_placement
    from unified_bench.scorers.registry import BuildContext

    context = BuildContext(device="cpu")
    assert placement(context)[1] == longclip_placement(context)[1] == torch.float32
