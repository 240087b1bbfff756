"""The maths of the scorers as pure functions (no models, no I/O)."""

from __future__ import annotations

import math
import re

import numpy as np
from PIL import Image

# Identical images have infinite PSNR; reporting a finite ceiling keeps results plain JSON numbers.
PSNR_CEILING_DB = 100.0
# SSIM as in Wang et al. (2004): 11x11 Gaussian window (sigma 1.5), population covariance.
SSIM_SETTINGS = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def resize_to_reference(reconstruction: Image.Image, reference: Image.Image) -> Image.Image:
    """The reconstruction at the reference's size (bicubic), both RGB.

    Pixel metrics need equal sizes. We resize the reconstruction, never the reference, so every
    model is compared against the same unchanged pixels whatever size it generates.
    """
    reconstruction = reconstruction.convert("RGB") if reconstruction.mode != "RGB" else reconstruction
    if reconstruction.size != reference.size:
        reconstruction = reconstruction.resize(reference.size, Image.Resampling.BICUBIC)
    return reconstruction


def rgb_array(image: Image.Image) -> np.ndarray:
    """``uint8`` array ``[H, W, 3]``."""
    return np.asarray(image.convert("RGB") if image.mode != "RGB" else image, dtype=np.uint8)


def psnr_db(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR in dB of two ``uint8`` arrays (data range 255), capped at ``PSNR_CEILING_DB``."""
    from skimage.metrics import peak_signal_noise_ratio

    if np.array_equal(reference, reconstruction):
        return PSNR_CEILING_DB
    value = float(peak_signal_noise_ratio(reference, reconstruction, data_range=255))
    return min(value, PSNR_CEILING_DB) if math.isfinite(value) else PSNR_CEILING_DB


def ssim_value(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """Mean SSIM of two ``uint8`` RGB arrays, channels scored separately and averaged.

    Images under 11 pixels a side (too small for the Gaussian window) use the largest odd uniform
    window that fits; under 3 pixels SSIM is undefined and the result is NaN.
    """
    from skimage.metrics import structural_similarity

    smallest_side = min(reference.shape[:2])
    if smallest_side < 3:
        return math.nan
    settings: dict[str, object] = dict(SSIM_SETTINGS)
    if smallest_side < 11:
        window = smallest_side if smallest_side % 2 else smallest_side - 1
        settings = {**SSIM_SETTINGS, "gaussian_weights": False, "win_size": window}
    value = structural_similarity(reference, reconstruction, channel_axis=-1, data_range=255, **settings)
    return float(value)


def caption_words(text: str) -> int:
    """Words separated by whitespace."""
    return len(text.split())


def coco_tokenize(text: str) -> str:
    """Lower-case words joined by single spaces, punctuation dropped.

    Stands in for pycocoevalcap's ``PTBTokenizer`` (which needs Java): both lower-case and drop
    punctuation; unlike PTB we keep contractions whole (``don't``, not ``do n't``) and split
    hyphenated words (``black-and-white`` -> ``black and white``).
    """
    return " ".join(_WORD.findall(text.lower().replace("\u2019", "'")))
