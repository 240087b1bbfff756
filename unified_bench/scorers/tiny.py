"""Tiny random-weight scorer checkpoints for tests and the offline demo.

They are the real classes (``CLIPModel``, ``Dinov2Model``, ``DINOv3ViTModel``, a Long-CLIP state
dict in the ``longclip-L.pt`` format, a torchvision AlexNet backbone for LPIPS) with tiny configs
and a fixed seed, written with ``save_pretrained``/``torch.save`` and loaded back by the same code
users run (``NAME=PATH``). Their numbers mean nothing; they only exercise the code paths.
Everything is built offline, the CLIP tokenizer included (a byte-level vocabulary plus a few merges).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from unified_bench.paths import cache_dir

# v2: the Long-CLIP file is stored in float32, like the released longclip-L.pt
TINY_DIRNAME = "tiny-scorers-v2"
SEED = 0
_MARKER = "tiny-scorers.json"
_SPECS = {
    "clip": "tiny-clip",
    "clipscore": "tiny-clip",
    "clip_t2t": "tiny-clip",
    "dinov2": "tiny-dinov2",
    "dinov3": "tiny-dinov3",
    "longclip": "tiny-longclip/longclip-L.pt",
    "longclipscore": "tiny-longclip/longclip-L.pt",
    "longclip_t2t": "tiny-longclip/longclip-L.pt",
    "lpips": "tiny-lpips/alexnet-random-init-seed0.pth",
}
IMAGE_SIZE = 32
# A few BPE merges so common words become single tokens; everything else falls back to bytes.
_MERGES = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("an", "d</w>"), ("o", "f</w>"), ("i", "n</w>")]


def is_tiny_fingerprint(fingerprint: str) -> bool:
    """Whether a scorer fingerprint names one of these random-weight checkpoints."""
    folders = {relative.split("/")[0] for relative in _SPECS.values()}
    return any(f"local:{folder}" in fingerprint for folder in folders) or "random-init" in fingerprint


def ensure_tiny_scorer_weights() -> dict[str, str]:
    """Build the tiny checkpoints once (atomically) and return ``{scorer name: path}`` for ``NAME=PATH``.

    >>> specs = ensure_tiny_scorer_weights()  # doctest: +SKIP
    >>> build_scorers([f"clip={specs['clip']}"])  # doctest: +SKIP
    """
    models = cache_dir("models")
    final = models / TINY_DIRNAME
    if not (final / _MARKER).is_file():
        staging = Path(tempfile.mkdtemp(prefix=f".{TINY_DIRNAME}.", dir=models))
        try:
            _build_all(staging)
            _publish(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return {name: str(final / relative) for name, relative in _SPECS.items()}


def _publish(staging: Path, final: Path) -> None:
    """Rename the finished build into place; a concurrent builder that won first is fine too."""
    for _ in range(2):
        try:
            os.replace(staging, final)  # atomic; replaces an empty folder, fails on a non-empty one
            return
        except OSError:
            if (final / _MARKER).is_file():
                return  # another process published a complete build
            # Only complete builds are ever renamed into place, so this is a stale foreign folder.
            shutil.rmtree(final, ignore_errors=True)
    raise OSError(f"could not publish the tiny scorer checkpoints to {final}")


def _build_all(root: Path) -> None:
    _build_clip(root / "tiny-clip")
    _build_dinov2(root / "tiny-dinov2")
    _build_dinov3(root / "tiny-dinov3")
    _build_longclip(root / "tiny-longclip")
    _build_lpips_backbone(root / "tiny-lpips")
    (root / _MARKER).write_text(json.dumps({"seed": SEED, "specs": _SPECS}, indent=2) + "\n")


def tiny_clip_tokenizer():
    """A ``CLIPTokenizer``: the 256 byte symbols (bare and word-final), a few merges, CLIP's specials."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    symbols = sorted(ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(symbols + [s + "</w>" for s in symbols])}
    for left, right in _MERGES:
        vocab[left + right] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=list(_MERGES))


def _build_clip(folder: Path) -> None:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    tokenizer = tiny_clip_tokenizer()
    special = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = CLIPConfig(
        text_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 77,
            **special,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "image_size": IMAGE_SIZE,
            "patch_size": 4,
        },
        projection_dim=16,
    )
    torch.manual_seed(SEED)
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    ).save_pretrained(folder)


def _build_dinov2(folder: Path) -> None:
    import torch
    from transformers import BitImageProcessorPil, Dinov2Config, Dinov2Model
    from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling

    config = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=IMAGE_SIZE,
        patch_size=4,
    )
    torch.manual_seed(SEED)
    Dinov2Model(config).save_pretrained(folder)
    # DINOv2's own settings (resize 256 -> crop 224), scaled down.
    BitImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE + 4},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        resample=PILImageResampling.BICUBIC,
        image_mean=IMAGENET_DEFAULT_MEAN,
        image_std=IMAGENET_DEFAULT_STD,
    ).save_pretrained(folder)


def _build_dinov3(folder: Path) -> None:
    import torch
    from transformers import DINOv3ViTConfig, DINOv3ViTImageProcessor, DINOv3ViTModel

    config = DINOv3ViTConfig(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        patch_size=4,
        image_size=IMAGE_SIZE,
        num_register_tokens=4,
    )
    torch.manual_seed(SEED)
    DINOv3ViTModel(config).save_pretrained(folder)
    DINOv3ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(folder)


def _build_longclip(folder: Path) -> None:
    """A float32 state dict shaped like ``longclip-L.pt``: OpenAI keys, 248 text positions, split table."""
    import torch
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(SEED)
    width = 64  # OpenAI-format checkpoints imply heads = width // 64
    model = CLIP(
        16,
        CLIPVisionCfg(layers=1, width=width, head_width=64, patch_size=8, image_size=IMAGE_SIZE),
        CLIPTextCfg(context_length=248, vocab_size=49408, width=width, heads=1, layers=1),
        quick_gelu=True,
    )
    state_dict = model.state_dict()
    state_dict["positional_embedding_res"] = torch.randn(248, width) * 0.01
    folder.mkdir(parents=True, exist_ok=True)
    # float32, like the released longclip-L.pt (Long-CLIP's train.py saves fp32), so that tests see the
    # fp16 rounding Long-CLIP's load() applies.
    torch.save(state_dict, folder / "longclip-L.pt")


def _build_lpips_backbone(folder: Path) -> None:
    """torchvision AlexNet ``features.*`` with seeded random weights (the classifier is not needed)."""
    import torch
    from torchvision.models import alexnet

    with torch.device("meta"):  # skip initialising the 58M-parameter classifier
        features = alexnet(weights=None).features
    features = features.to_empty(device="cpu")
    torch.manual_seed(SEED)
    for layer in features:
        if isinstance(layer, torch.nn.Conv2d):
            layer.reset_parameters()
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(
        {f"features.{k}": v for k, v in features.state_dict().items()}, folder / Path(_SPECS["lpips"]).name
    )
