"""A unified-bench worker: serves one model to `unified-bench run --model worker` over protocol v1.

Standard library only, so it runs in any Python >= 3.8 environment, without unified-bench installed.
Two ways to use it (the protocol itself is in unified-bench's docs/worker-protocol.md):

* `unified-bench worker-template > my_worker.py` prints this file. Fill in INFO, caption() and
  generate() at the bottom, then run
  `unified-bench run --model worker --adapter-arg command="/env/bin/python my_worker.py"`.
  As shipped, it is a placeholder model (a fixed caption, grey images) that runs end to end.
* Or import it: `from worker_protocol import WorkerError, serve` next to your own script, and call
  `serve(info=..., caption=..., generate=...)` (the workers shipped with unified-bench do this).

`serve` keeps the protocol's stdout for itself: everything else written to stdout (print(),
progress bars, C libraries) goes to stderr, which unified-bench writes to its worker log.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import traceback
import zlib

PROTOCOL = 1
ERROR_KINDS = ("user", "oom", "internal")


class WorkerError(Exception):
    """An error to answer as `{"error": {"kind": KIND, "message": MESSAGE}}`.

    kind: "user" (bad input or settings: the user can fix it), "oom" (out of memory: a smaller
    --batch-size may fit) or "internal" (a bug). Other exceptions are answered as "internal"
    (out-of-memory errors as "oom"), with their traceback on stderr.
    """

    def __init__(self, kind: str, message: str) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"kind must be one of {ERROR_KINDS}, not {kind!r}")
        super().__init__(message)
        self.kind, self.message = kind, message


def _error_of(exception: BaseException) -> dict:
    if isinstance(exception, WorkerError):
        return {"kind": exception.kind, "message": exception.message}
    text = f"{type(exception).__name__}: {exception}".strip()
    first_line = text.splitlines()[0] if text else type(exception).__name__
    out_of_memory = isinstance(exception, MemoryError) or "OutOfMemory" in type(exception).__name__
    return {"kind": "oom" if out_of_memory else "internal", "message": first_line}


def _list_of(message: dict, key: str, kind: type) -> list:
    value = message.get(key)
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise WorkerError("internal", f"request field {key!r} must be a list of {kind.__name__}")
    return value


def _same_length(**lists: list) -> None:
    if len({len(values) for values in lists.values()}) > 1:
        counts = ", ".join(f"{len(values)} {name}" for name, values in lists.items())
        raise WorkerError("internal", f"request lists differ in length: {counts}")


def _answer(message: dict, info: dict, caption, generate):
    """The result of one request (raises WorkerError or whatever the model raises)."""
    method = message.get("method")
    if method == "hello":
        if message.get("protocol") != PROTOCOL:
            raise WorkerError(
                "user",
                f"this worker speaks protocol {PROTOCOL}, the harness asked for {message.get('protocol')}",
            )
        return {"protocol": PROTOCOL, "info": info}
    if method == "caption":
        images, seeds = _list_of(message, "images", str), _list_of(message, "seeds", int)
        _same_length(images=images, seeds=seeds)
        captions = caption(images, seeds)
        if not isinstance(captions, list) or len(captions) != len(images):
            raise WorkerError(
                "internal", f"caption() returned {type(captions).__name__}, not {len(images)} texts"
            )
        return captions
    if method == "generate":
        prompts, seeds = _list_of(message, "prompts", str), _list_of(message, "seeds", int)
        outputs, size = _list_of(message, "outputs", str), message.get("size")
        _same_length(prompts=prompts, seeds=seeds, outputs=outputs)
        generate(prompts, seeds, tuple(size) if size else None, outputs)
        missing = [path for path in outputs if not os.path.isfile(path)]
        if missing:
            raise WorkerError("internal", f"generate() did not write {missing[0]}")
        return None
    raise WorkerError("internal", f"unknown method {method!r}")


def _protocol_stdout():
    """The protocol's stream: the original stdout (fd 1); from now on every other write to stdout,
    from Python or from C libraries, goes to stderr."""
    sys.stdout.flush()
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol


def serve(*, info: dict, caption, generate, stdin=None, stdout=None) -> None:
    """Answer requests, one JSON line each, until "shutdown" or the end of stdin; then return.

    Args:
        info: model ids, revisions and every setting; unified-bench records it in adapter.json.
        caption: caption(image_paths: list[str], seeds: list[int]) -> list[str], one text per image.
        generate: generate(prompts: list[str], seeds: list[int], size: (width, height) | None,
            outputs: list[str]) -> None, writing one PNG per prompt to outputs[i].
    """
    stdout = stdout if stdout is not None else _protocol_stdout()
    stdin = stdin if stdin is not None else sys.stdin
    for line in stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            print(f"worker: ignored a request that is not JSON: {line[:200]!r}", file=sys.stderr)
            continue
        if not isinstance(message, dict) or "id" not in message:
            print(f"worker: ignored a request without an id: {line[:200]!r}", file=sys.stderr)
            continue
        if message.get("method") == "shutdown":
            stdout.write(json.dumps({"id": message["id"], "result": None}) + "\n")
            stdout.flush()
            return
        try:
            response = {"id": message["id"], "result": _answer(message, info, caption, generate)}
        except Exception as exception:  # every failure is answered; the traceback goes to the log
            traceback.print_exc(file=sys.stderr)
            response = {"id": message["id"], "error": _error_of(exception)}
        stdout.write(json.dumps(response, ensure_ascii=False) + "\n")
        stdout.flush()


def refuse_all(exception: BaseException, *, stdin=None, stdout=None) -> None:
    """Answer every request with ``exception`` until "shutdown" or the end of stdin: for a worker whose
    model failed to load, so the harness shows the reason (e.g. a wrong --weights) as one line."""
    error = _error_of(exception)
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else _protocol_stdout()
    for line in stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and "id" in message:
            stdout.write(json.dumps({"id": message["id"], "error": error}, ensure_ascii=False) + "\n")
            stdout.flush()
            if message.get("method") == "shutdown":
                return


def write_png(path: str, width: int, height: int, rgb: tuple) -> None:
    """A solid-colour RGB PNG, written with the standard library only (for placeholders and tests)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height))
    with open(path, "wb") as file:
        file.write(png + chunk(b"IEND", b""))


# ---- your model: fill in INFO, caption() and generate() ------------------------------------------
# Load your model once, at the top level or in a function called before serve(). Each seeds[i]
# should drive every random draw for sample i (e.g. torch.Generator().manual_seed(seeds[i])), so a
# sample's output does not depend on which batch it was in.

INFO = {
    "model": "unified-bench worker template (placeholder: fill in caption() and generate())",
    "warnings": ["worker template as shipped: captions and images are placeholders, not a model's"],
}


def caption(images: list, seeds: list) -> list:
    """One caption per PNG path in `images` (open them with e.g. PIL.Image.open(path).convert("RGB"))."""
    return ["a placeholder caption" for _ in images]


def generate(prompts: list, seeds: list, size, outputs: list) -> None:
    """Draw prompts[i] with seeds[i] at size (width, height; None: your model's default) into outputs[i]."""
    width, height = size or (64, 64)
    for path in outputs:
        write_png(path, width, height, (128, 128, 128))


if __name__ == "__main__":
    serve(info=INFO, caption=caption, generate=generate)
