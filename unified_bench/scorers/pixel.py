"""Pixel-level scorers: ``lpips`` (AlexNet, lower is better), ``ssim`` and ``psnr`` (scikit-image).

All three compare the reconstruction resized to the reference's size (bicubic) with the untouched
reference (see ``functional.resize_to_reference``).

LPIPS needs two sets of weights: its linear heads ship inside the ``lpips`` wheel, but the AlexNet
backbone is torchvision's ``alexnet-owt-7be5be79.pth``, which ``lpips`` would download on first use.
We never download it: it is read from the torch hub cache (or from ``lpips=PATH``), and when it is
missing the error says which file to put where.
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from unified_bench.errors import InputError, MissingWeightsError
from unified_bench.paths import file_sha256
from unified_bench.scorers.base import PairwiseScorer
from unified_bench.scorers.functional import psnr_db, resize_to_reference, rgb_array, ssim_value
from unified_bench.scorers.registry import BuildContext, reject_model
from unified_bench.torch_utils import resolve_device

ALEXNET_FILENAME = "alexnet-owt-7be5be79.pth"
ALEXNET_URL = f"https://download.pytorch.org/models/{ALEXNET_FILENAME}"
ALEXNET_SHA256_PREFIX = "7be5be79"  # torchvision names its files after the first hex digits of their sha256


def default_alexnet_path() -> Path:
    """Where torchvision (and so ``lpips``) keeps the AlexNet backbone: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILENAME


def _lpips_version() -> str:
    from importlib.metadata import version

    return version("lpips")


class LpipsScorer(PairwiseScorer):
    """LPIPS v0.1 with the AlexNet backbone; inputs in [-1, 1] at the reference's size."""

    name = "lpips"
    higher_is_better = False

    def __init__(
        self,
        model: Any,
        *,
        backbone_id: str,
        heads_id: str,
        device: torch.device | str = "cpu",
        batch_size: int = 16,
    ) -> None:
        self.model = model.eval()
        self.backbone_id = backbone_id
        self.heads_id = heads_id
        self.device = torch.device(device)
        self.batch_size = batch_size

    def fingerprint(self) -> str:
        weights = f"{self.backbone_id}+heads-{self.heads_id}"
        return f"lpips:alex-v0.1-lpips{_lpips_version()}@{weights}:rgb-ref-size-bicubic"

    @staticmethod
    def _tensor(image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(rgb_array(image).copy()).permute(2, 0, 1).float() / 127.5 - 1.0

    def pairwise(self, reconstructions: list[Image.Image], references: list[Image.Image]) -> torch.Tensor:
        values = torch.empty(len(references), dtype=torch.float32)
        by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
        for index, reference in enumerate(references):
            by_size[reference.size].append(index)
        for indices in by_size.values():  # only same-size pairs can share a batch
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                refs = torch.stack([self._tensor(references[i]) for i in chunk]).to(self.device)
                recs = torch.stack(
                    [self._tensor(resize_to_reference(reconstructions[i], references[i])) for i in chunk]
                ).to(self.device)
                with torch.inference_mode():
                    distances = self.model(recs, refs, normalize=False)
                values[chunk] = distances.flatten().float().cpu()
        return values


class SsimScorer(PairwiseScorer):
    """SSIM (Wang et al. 2004 settings) on RGB uint8, mean over channels."""

    name = "ssim"

    def fingerprint(self) -> str:
        from skimage import __version__ as skimage_version

        return f"ssim:skimage-{skimage_version}@gaussian11-sigma1.5:rgb-uint8-ref-size-bicubic"

    def pairwise(self, reconstructions: list[Image.Image], references: list[Image.Image]) -> torch.Tensor:
        values = [
            ssim_value(rgb_array(ref), rgb_array(resize_to_reference(rec, ref)))
            for rec, ref in zip(reconstructions, references, strict=True)
        ]
        return torch.tensor(values, dtype=torch.float32)


class PsnrScorer(PairwiseScorer):
    """PSNR in dB on RGB uint8 (data range 255), capped at 100 dB."""

    name = "psnr"

    def fingerprint(self) -> str:
        from skimage import __version__ as skimage_version

        return f"psnr:skimage-{skimage_version}@range255-cap100:rgb-uint8-ref-size-bicubic"

    def pairwise(self, reconstructions: list[Image.Image], references: list[Image.Image]) -> torch.Tensor:
        values = [
            psnr_db(rgb_array(ref), rgb_array(resize_to_reference(rec, ref)))
            for rec, ref in zip(reconstructions, references, strict=True)
        ]
        return torch.tensor(values, dtype=torch.float32)


def load_alexnet_backbone(lpips_model: Any, path: Path) -> None:
    """Copy a torchvision AlexNet state dict's ``features.*`` into an ``lpips.LPIPS`` backbone."""
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InputError(f"lpips: {path} is not a loadable state dict ({type(error).__name__}).") from None
    # lpips splits torchvision's alexnet.features into slices; each keeps the layer's original index.
    targets = {
        f"features.{layer_index}.{param}": tensor
        for slice_module in lpips_model.net.children()
        for layer_index, layer in slice_module.named_children()
        for param, tensor in layer.state_dict().items()
    }
    missing = sorted(set(targets) - set(state_dict))
    if missing:
        raise InputError(
            f"lpips: {path} is not a torchvision AlexNet state dict (missing {', '.join(missing[:3])}...)."
        )
    with torch.no_grad():
        for key, tensor in targets.items():
            tensor.copy_(state_dict[key])


def resolve_alexnet_path(model: str | None) -> Path:
    """The AlexNet backbone file ``lpips`` needs: ``model`` (a file or a folder holding it) or
    torchvision's cache. Raises ``MissingWeightsError`` saying how to get it."""
    if model is None:
        path = default_alexnet_path()
        if not path.is_file():
            raise MissingWeightsError(
                f"lpips: AlexNet backbone not found at {path}; download {ALEXNET_URL} to that path "
                f"(e.g. `curl -L --create-dirs -o {path} {ALEXNET_URL}`) "
                "or pass --scorer lpips=PATH to that file."
            )
        return path
    path = Path(os.path.expanduser(model))
    if path.is_dir():
        path = path / ALEXNET_FILENAME
    if not path.is_file():
        raise MissingWeightsError(
            f"lpips: {path} does not exist; pass --scorer lpips=PATH to a torchvision AlexNet state dict "
            f"({ALEXNET_FILENAME}, from {ALEXNET_URL})."
        )
    return path


def build_lpips_scorer(model: str | None, context: BuildContext) -> LpipsScorer:
    import lpips

    path = resolve_alexnet_path(model)
    # pnet_rand=True: build the backbone without torchvision's download; we load it ourselves.
    with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=` argument
        warnings.simplefilter("ignore", UserWarning)
        network = lpips.LPIPS(pretrained=True, net="alex", pnet_rand=True, verbose=False)
    load_alexnet_backbone(network, path)
    sha = file_sha256(path, memo=True)
    if sha.startswith(ALEXNET_SHA256_PREFIX):
        backbone_id = f"torchvision-{ALEXNET_FILENAME.removesuffix('.pth')}"
    else:
        backbone_id = f"local:{path.name}@sha256:{sha[:16]}"
    heads = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"  # what LPIPS(pretrained=True) loads
    device = resolve_device(context.device)
    heads_id = f"sha256:{file_sha256(heads, memo=True)[:16]}"
    return LpipsScorer(network.to(device), backbone_id=backbone_id, heads_id=heads_id, device=device)


def build_ssim_scorer(model: str | None, context: BuildContext) -> SsimScorer:
    reject_model("ssim", model)
    return SsimScorer()


def build_psnr_scorer(model: str | None, context: BuildContext) -> PsnrScorer:
    reject_model("psnr", model)
    return PsnrScorer()
