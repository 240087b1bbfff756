"""A protocol-v1 worker for the tests, standard library only (as a worker in a foreign environment is).

Its "model" is a known function of its inputs, so the tests compute the expected outputs on their own:
a caption is ``caption <sha256 of the PNG, 12 hex> seed <seed> — 日本語 ✓`` (non-ASCII on purpose);
an image is a solid colour ``(seed % 256, len(prompt) % 256, 7)`` at the requested size (default 32x32).
Flags make it misbehave:

  --junk              print lines that are not responses to the protocol's own stdout before each answer
                      (serve() is given sys.stdout, so it does not move print() to stderr)
  --die-once MARKER   on the first --on request when MARKER does not exist: create it, exit 3
  --hang-once MARKER  on the first --on request when MARKER does not exist: create it, never answer
  --fail KIND         answer the --on request with an error of KIND (internal: raise an exception)
  --speaks N          refuse the hello unless the harness asks for protocol N
  --claims N          answer the hello with protocol N whatever was asked
  --requests FILE     append one line per request: METHOD COUNT
  --pid FILE          write the process id to FILE at start
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapters" / "workers"))
import worker_protocol
from worker_protocol import WorkerError, serve, write_png


def expected_caption(png: bytes, seed: int) -> str:
    return f"caption {hashlib.sha256(png).hexdigest()[:12]} seed {seed} — 日本語 ✓"


def expected_colour(prompt: str, seed: int) -> tuple[int, int, int]:
    return (seed % 256, len(prompt) % 256, 7)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--junk", action="store_true")
    parser.add_argument("--die-once")
    parser.add_argument("--hang-once")
    parser.add_argument("--fail", choices=("user", "oom", "internal"))
    parser.add_argument("--on", default="caption")
    parser.add_argument("--speaks", type=int)
    parser.add_argument("--claims", type=int)
    parser.add_argument("--requests")
    parser.add_argument("--pid")
    args = parser.parse_args()
    if args.pid:
        Path(args.pid).write_text(str(os.getpid()))
    if args.speaks is not None:
        worker_protocol.PROTOCOL = args.speaks

    def misbehave(method: str, count: int) -> None:
        if args.requests:
            with open(args.requests, "a", encoding="utf-8") as log:
                log.write(f"{method} {count}\n")
        if args.junk:
            for junk in ("loading shards 100%", "{not json", '{"no_id": 1}', "[1, 2]", '"id"', ""):
                print(junk, flush=True)
        if method != args.on:
            return
        if args.die_once and not os.path.exists(args.die_once):
            Path(args.die_once).write_text("died")
            print("simulated crash in the model", file=sys.stderr, flush=True)
            os._exit(3)
        if args.hang_once and not os.path.exists(args.hang_once):
            Path(args.hang_once).write_text("hung")
            threading.Event().wait()
        if args.fail == "internal":
            raise RuntimeError("tensor shapes disagree\nsecond line of the message")
        if args.fail:
            raise WorkerError(args.fail, f"simulated {args.fail} failure")

    def caption(images: list[str], seeds: list[int]) -> list[str]:
        misbehave("caption", len(images))
        return [expected_caption(Path(p).read_bytes(), s) for p, s in zip(images, seeds, strict=True)]

    def generate(prompts: list[str], seeds: list[int], size, outputs: list[str]) -> None:
        misbehave("generate", len(prompts))
        width, height = size or (32, 32)
        for prompt, seed, path in zip(prompts, seeds, outputs, strict=True):
            write_png(path, width, height, expected_colour(prompt, seed))

    if args.claims is not None:
        answer = worker_protocol._answer

        def claiming(message, info, caption, generate):
            if message.get("method") == "hello":
                return {"protocol": args.claims, "info": info}
            return answer(message, info, caption, generate)

        worker_protocol._answer = claiming
    serve(
        info={"model": "protocol test worker", "flags": sys.argv[1:]},
        caption=caption,
        generate=generate,
        stdout=sys.stdout if args.junk else None,
    )


if __name__ == "__main__":
    main()
