"""Outputs a caption bottleneck could not have produced: the checks behind "refused" and "suspect".

A round trip draws the image back from its caption alone, so its pixels can resemble the reference
only loosely. Two kinds of check, each problem one line:

* **near-copies** (refused by ``submit --outputs`` and ``leaderboard verify``): a reconstruction
  whose pixels match its reference to ``NEAR_COPY_LOW_RES_PSNR_DB`` or more, PSNR of both
  downsampled to ``LOW_RES_PX`` a side (which averages added noise away: ±40 noise of the reference
  is 21 dB at full size but 35 dB or more at 32 px). Full-size PSNR and SSIM are reported, not
  decided on: noise drives them down to what honest outputs reach. The figures (tiny models, JPEG
  re-encodes, noise) are in ``leaderboard/README.md``, made by ``benchmarks/leaderboard_thresholds.py``.
* **suspect captions** (the entry is marked "suspect" on the site, with the reason): empty captions,
  one caption for most samples, captions naming the sample ids or image files (a protocol that
  leaks the reference to the generator).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

LOW_RES_PX = 32
NEAR_COPY_LOW_RES_PSNR_DB = 24.0  # tiny round trips reach 15.5 dB at most, ±40 noise 34.7 at least
# More than this share of samples with one caption: the captions cannot describe their images.
SHARED_CAPTION_SHARE = 0.5
_FILE_NAME = re.compile(r"\b[\w-]+\.(?:png|jpe?g|webp|bmp|gif|tiff?)\b", re.IGNORECASE)
MAX_LISTED = 3


@dataclass(frozen=True)
class PixelSimilarity:
    """How close a reconstruction is to its reference, at full size and at ``LOW_RES_PX``."""

    psnr_db: float
    low_res_psnr_db: float
    ssim: float

    @property
    def near_copy(self) -> bool:
        return self.low_res_psnr_db >= NEAR_COPY_LOW_RES_PSNR_DB


def _low_res(image: Image.Image) -> np.ndarray:
    return np.asarray(image.resize((LOW_RES_PX, LOW_RES_PX), Image.Resampling.BOX), dtype=np.uint8)


def pixel_similarity(reference: Image.Image, reconstruction: Image.Image) -> PixelSimilarity:
    """PSNR and SSIM of ``reconstruction`` (resized to the reference, as the pixel scorers do)."""
    from unified_bench.scorers.functional import psnr_db, resize_to_reference, rgb_array, ssim_value

    reference = reference.convert("RGB")
    resized = resize_to_reference(reconstruction, reference)
    full_ref, full_rec = rgb_array(reference), rgb_array(resized)
    return PixelSimilarity(
        psnr_db=psnr_db(full_ref, full_rec),
        low_res_psnr_db=psnr_db(_low_res(reference), _low_res(resized)),
        ssim=ssim_value(full_ref, full_rec),
    )


def _first(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def near_copy_problem(similarities: Mapping[str, PixelSimilarity]) -> str | None:
    """One line naming the reconstructions that are near-copies of their references, if any."""
    copies = [i for i, s in similarities.items() if s.near_copy]
    if not copies:
        return None
    first = similarities[copies[0]]
    return (
        f"{len(copies)} of {len(similarities)} reconstructions are near-copies of their references "
        f"(first: {copies[0]}, PSNR {first.low_res_psnr_db:.1f} dB at {LOW_RES_PX} px; a caption-only "
        f"reconstruction stays below {NEAR_COPY_LOW_RES_PSNR_DB:g} dB); submit the images the model generated"
    )


def caption_suspicions(ids: Sequence[str], captions: Mapping[str, str | None]) -> list[str]:
    """Why the captions cannot have come from describing each image (empty: nothing suspect)."""
    texts = {i: (captions.get(i) or "").strip() for i in ids}
    reasons = []
    empty = [i for i, text in texts.items() if not text]
    if empty:
        reasons.append(f"{len(empty)} empty captions ({_first(empty)})")
    counts = Counter(text for text in texts.values() if text)
    if counts and len(ids) > 1:
        text, count = counts.most_common(1)[0]
        if count > SHARED_CAPTION_SHARE * len(ids):
            shown = text if len(text) <= 40 else text[:39] + "…"
            reasons.append(f"{count} of {len(ids)} samples have the same caption ({shown!r})")
    leaks = [
        i
        for i, text in texts.items()
        if _FILE_NAME.search(text) or (len(i) >= 3 and re.search(rf"(?<!\w){re.escape(i)}(?!\w)", text))
    ]
    if leaks:
        reasons.append(
            f"{len(leaks)} captions name their sample id or an image file ({_first(leaks)}): "
            "the caption protocol leaks the reference"
        )
    return reasons
