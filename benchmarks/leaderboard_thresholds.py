"""The figures behind the leaderboard's plausibility and duplicate thresholds (leaderboard/README.md).

On the bundled sample photos, offline, with the tiny random-weight models (uae-tiny at seeds 0 and
1, a tiny Janus-Pro) and the tiny paper scorers, prints

* per run, the pixel similarity of each reconstruction to its reference (PSNR at full size, PSNR at
  32 px, SSIM): what a caption-bottleneck round trip gives; next to it the same figures for a JPEG
  re-encode (quality 75 and 30) and ±40 uniform noise of the reference: what a near-copy gives;
* between runs, the largest per-sample score difference per scorer (two seeds of one model, two
  models, and one run scored twice): how close honest, different runs come;
* per run, the share of samples that carry the most common caption.

Run from the repository root (it builds the tiny Janus-Pro checkpoint with the test helper):

    python benchmarks/leaderboard_thresholds.py
"""

from __future__ import annotations

import io
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from unified_bench.datasets import load_dataset
from unified_bench.evaluate import RunRequest, ScoringOptions, execute_run
from unified_bench.leaderboard.plausibility import pixel_similarity
from unified_bench.results import PAPER_SCORERS, Results
from unified_bench.scorers.sets import tiny_scorer_specs
from unified_bench.store import RunStore


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def noisy(image: Image.Image, amplitude: int, seed: int) -> Image.Image:
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    noise = np.random.default_rng(seed).integers(-amplitude, amplitude + 1, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def row(label: str, values: list[tuple[float, float, float]]) -> str:
    psnr, low, ssim = (np.array(column) for column in zip(*values, strict=True))
    return (
        f"{label:<28} PSNR {psnr.min():6.2f}..{psnr.max():6.2f} dB   "
        f"PSNR@32px {low.min():6.2f}..{low.max():6.2f} dB   SSIM {ssim.min():5.3f}..{ssim.max():5.3f}"
    )


def main() -> None:
    from tests._tiny_adapters import build_tiny_janus

    samples = load_dataset("samples").samples
    paper = tuple(spec for spec in tiny_scorer_specs() if spec.split("=")[0] in PAPER_SCORERS)
    work = Path(tempfile.mkdtemp(prefix="leaderboard-thresholds-"))
    janus = build_tiny_janus(work / "Janus-Pro-tiny")
    requests = {
        "uae-tiny seed 0": RunRequest(model="uae-tiny", dataset="samples", output=work / "uae0", seed=0),
        "uae-tiny seed 1": RunRequest(model="uae-tiny", dataset="samples", output=work / "uae1", seed=1),
        "janus-pro tiny seed 0": RunRequest(
            model="janus-pro", dataset="samples", output=work / "janus", adapter_args={"model": str(janus)}
        ),
    }
    runs: dict[str, Results] = {}
    print("pixel similarity to the reference, min..max over the 8 photos")
    for label, request in requests.items():
        request = RunRequest(**{**request.__dict__, "scoring": ScoringOptions(paper, n_resamples=200)})
        runs[label] = execute_run(request)
        store = RunStore(request.output)
        values = []
        for sample in samples:
            with Image.open(store.image_path(sample.id)) as generated:
                s = pixel_similarity(sample.image, generated.convert("RGB"))
            values.append((s.psnr_db, s.low_res_psnr_db, s.ssim))
        print(row(label, values))
        captions = Counter(c.caption for c in store.captions().values())
        print(f"{'':<28} most common caption on {captions.most_common(1)[0][1]} of {len(samples)} samples")
    for label, degrade in (
        ("JPEG quality 75", lambda im: jpeg(im, 75)),
        ("JPEG quality 30", lambda im: jpeg(im, 30)),
        ("±40 uniform noise", lambda im: noisy(im, 40, 0)),
        ("±80 uniform noise", lambda im: noisy(im, 80, 0)),
    ):
        values = []
        for sample in samples:
            s = pixel_similarity(sample.image, degrade(sample.image))
            values.append((s.psnr_db, s.low_res_psnr_db, s.ssim))
        print(row(label, values))

    print("\nlargest per-sample score difference between two runs, per scorer")
    again = RunRequest(
        model="uae-tiny",
        dataset="samples",
        output=work / "uae0-again",
        seed=0,
        scoring=ScoringOptions(paper, n_resamples=200),
    )
    runs["uae-tiny seed 0, rerun"] = execute_run(again)
    pairs = (
        ("uae-tiny seed 0", "uae-tiny seed 0, rerun"),
        ("uae-tiny seed 0", "uae-tiny seed 1"),
        ("uae-tiny seed 0", "janus-pro tiny seed 0"),
        ("uae-tiny seed 1", "janus-pro tiny seed 0"),
    )
    for a, b in pairs:
        gaps = {
            name: max(
                abs(runs[a].scorers[name].per_sample[i] - runs[b].scorers[name].per_sample[i])
                for i in runs[a].samples["ids"]
            )
            for name in PAPER_SCORERS
        }
        print(f"{a} vs {b}: " + ", ".join(f"{n} {g:.2e}" for n, g in gaps.items()))
    print(f"\n(work folder: {work})")


if __name__ == "__main__":
    main()
