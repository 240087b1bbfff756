"""Peak memory and speed of ``score`` and ``run --model precomputed`` as the dataset grows.

For each N the script writes N distinct 512x512 references and N reconstructions (PNG, generated
here, nothing downloaded), then runs each command in a fresh child process with the tiny random
CLIP and DINOv2 scorers and an empty embedding cache, and reads the child's peak RSS
(``getrusage``). Memory should not depend on N (images are decoded per batch); time should grow
linearly. "images/s" counts reference + reconstruction images per second of the command itself
(interpreter start excluded, imports and model loading included); the last column divides the
images added since the previous N by the seconds added, which removes that fixed start-up.

    python benchmarks/scale.py --sizes 100,1000,10000 --workdir /tmp/scale-bench
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

SIDE = 512
CHILD = """
import json, resource, sys, time
from unified_bench.cli.app import main
start = time.perf_counter()
try:
    main(sys.argv[1:])
except SystemExit as exit_:
    if exit_.code:
        raise
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def design(index: int, variant: int) -> bytes:
    """A distinct 512x512 PNG per (index, variant): a smooth ramp with an index-coded block."""
    ramp = Image.linear_gradient("L").resize((SIDE, SIDE))
    image = Image.merge(
        "RGB", (ramp, ramp.rotate(90 * (index % 4)), Image.new("L", (SIDE, SIDE), index % 251))
    )
    draw = ImageDraw.Draw(image)
    x, y = (index * 37) % (SIDE - 64), (index * 91 + variant * 13) % (SIDE - 64)
    draw.rectangle((x, y, x + 63, y + 63), fill=((index >> 8) % 256, index % 256, 40 * variant))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_dataset(root: Path, count: int) -> tuple[Path, Path]:
    """``root/refs/ID.png`` and a precomputed folder ``root/outputs`` (images/ + captions.jsonl)."""
    refs, images = root / "refs", root / "outputs" / "images"
    refs.mkdir(parents=True)
    images.mkdir(parents=True)
    lines = []
    for index in range(count):
        sample_id = f"s{index:06d}"
        (refs / f"{sample_id}.png").write_bytes(design(index, 0))
        (images / f"{sample_id}.png").write_bytes(design(index, 1))
        lines.append(json.dumps({"id": sample_id, "caption": f"a ramp with block {index}"}))
    (root / "outputs" / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return refs, root / "outputs"


def measure(args: list[str], cache: Path) -> dict[str, float]:
    shutil.rmtree(cache / "embeddings", ignore_errors=True)  # every run starts cold
    env = {**os.environ, "UNIFIED_BENCH_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated N")
    parser.add_argument("--workdir", type=Path, default=None, help="where images go (default: a temp dir)")
    parser.add_argument("--batch-size", type=int, default=16, help="--score-batch-size and --batch-size")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="unified-bench-scale-"))
    cache = workdir / "cache"
    os.environ["UNIFIED_BENCH_CACHE"] = str(cache)
    from unified_bench.scorers.tiny import ensure_tiny_scorer_weights

    tiny = ensure_tiny_scorer_weights()
    scorers = [arg for name in ("clip", "dinov2") for arg in ("--scorer", f"{name}={tiny[name]}")]
    batch = ["--score-batch-size", str(options.batch_size)]
    rows = []
    for size in sizes:
        root = workdir / f"n{size}"
        if root.exists():
            shutil.rmtree(root)
        refs, outputs = write_dataset(root, size)
        score = measure(["score", str(outputs / "images"), str(refs), *scorers, *batch], cache)
        run = measure(
            [
                "run",
                "--model",
                "precomputed",
                "--adapter-arg",
                f"dir={outputs}",
                "--dataset",
                str(refs),
                "--output",
                str(root / "run"),
                "--batch-size",
                str(options.batch_size),
                *scorers,
                *batch,
            ],
            cache,
        )
        for command, result in (("score", score), ("run --model precomputed", run)):
            rows.append(
                (command, size, result["peak_rss_mib"], 2 * size / result["seconds"], result["seconds"])
            )
            print(
                f"{command:24s} N={size:6d} peak {result['peak_rss_mib']:7.0f} MiB  "
                f"{2 * size / result['seconds']:7.1f} images/s  {result['seconds']:8.1f} s",
                flush=True,
            )
        shutil.rmtree(root)
    print(
        "\n| command | N | peak RSS (MiB) | seconds | images/s | images/s since the previous N |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    previous: dict[str, tuple[int, float]] = {}
    for command, size, rss, speed, seconds in rows:
        marginal = ""
        if command in previous:  # the per-image rate without the fixed start-up (imports, model load)
            last_size, last_seconds = previous[command]
            marginal = f"{2 * (size - last_size) / (seconds - last_seconds):.1f}"
        previous[command] = (size, seconds)
        print(f"| `{command}` | {size:,} | {rss:.0f} | {seconds:.1f} | {speed:.1f} | {marginal} |")


if __name__ == "__main__":
    main()
