"""What ``--dtype bfloat16`` (or float16) costs in score difference against the protocol's precision.

Scores the same (reference, reconstruction) pairs twice with each scorer, once at its default
(official) precision and once at ``--dtype``, and prints per scorer the largest and the mean
absolute per-sample difference and the difference of the means. References are the ``samples``
dataset; reconstructions are degraded copies of them (JPEG quality 30 after a 0.75x resize), so
scores sit in a realistic range rather than at 1.0.

By default the scorers are the tiny random-weight checkpoints (CPU, seconds); pass real weights
with ``--scorer NAME=PATH`` (repeatable) and ``--device cuda`` for the figure that matters:

    python benchmarks/dtype_difference.py                       # tiny models, CPU, bf16 vs default
    python benchmarks/dtype_difference.py --device cuda --scorer clip --scorer dinov2 ...
"""

from __future__ import annotations

import argparse
import io

from PIL import Image

from unified_bench.datasets import load_dataset
from unified_bench.images import sha256_bytes
from unified_bench.scorers import PAPER_SCORERS, build_scorers
from unified_bench.scoring import ScoringItem, score_items


def degraded(image: Image.Image) -> tuple[Image.Image, str]:
    small = image.resize((max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)), Image.BICUBIC)
    buffer = io.BytesIO()
    small.convert("RGB").save(buffer, format="JPEG", quality=30)
    data = buffer.getvalue()
    return Image.open(io.BytesIO(data)).convert("RGB"), sha256_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scorer", action="append", help="NAME or NAME=PATH; default: the tiny paper four")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="bfloat16", help="the opt-in precision to compare")
    args = parser.parse_args()
    if args.scorer:
        specs = args.scorer
    else:
        from unified_bench.scorers.tiny import ensure_tiny_scorer_weights

        tiny = ensure_tiny_scorer_weights()
        specs = [f"{name}={tiny[name]}" for name in PAPER_SCORERS]
    items = []
    for sample in load_dataset("samples").samples:
        reconstruction, sha = degraded(sample.image)
        items.append(
            ScoringItem(
                id=sample.id,
                reference=sample.image,
                reference_sha256=sample.image_sha256,
                reconstruction=reconstruction,
                reconstruction_sha256=sha,
            )
        )
    tables = {}
    fingerprints = {}
    for dtype in (None, args.dtype):
        scorers = build_scorers(specs, device=args.device, dtype=dtype)
        tables[dtype] = score_items(items, scorers, batch_size=8, cache=None)
        fingerprints[dtype] = {s.name: s.fingerprint().rsplit(":", 1)[-1] for s in scorers}
    print(f"{len(items)} pairs, device {args.device}: default precision vs --dtype {args.dtype}")
    print(f"{'scorer':10} {'default':>9} {'asked':>9} {'max |d|':>9} {'mean |d|':>9} {'d mean':>9}")
    for name, base in tables[None].items():
        other = tables[args.dtype][name]
        diffs = [abs(other[i] - base[i]) for i in base]
        mean_diff = sum(other.values()) / len(other) - sum(base.values()) / len(base)
        print(
            f"{name:10} {fingerprints[None][name]:>9} {fingerprints[args.dtype][name]:>9} "
            f"{max(diffs):9.2e} {sum(diffs) / len(diffs):9.2e} {mean_diff:+9.2e}"
        )


if __name__ == "__main__":
    main()
