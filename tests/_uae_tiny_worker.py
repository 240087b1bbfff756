"""uae-tiny served through worker protocol v1: the in-process adapter behind ``worker_protocol.serve``.

Run as a script (``python tests/_uae_tiny_worker.py``); the tests compare its run with
``--model uae-tiny`` in-process, so the protocol must add and lose nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapters" / "workers"))
from worker_protocol import serve


def main() -> None:
    from PIL import Image

    from unified_bench.adapter import AdapterOptions
    from unified_bench.registry import default_registry

    adapter = default_registry().build("uae-tiny", AdapterOptions())

    def caption(images: list[str], seeds: list[int]) -> list[str]:
        return adapter.caption([Image.open(path).convert("RGB") for path in images], seeds=seeds)

    def generate(prompts: list[str], seeds: list[int], size, outputs: list[str]) -> None:
        for image, path in zip(adapter.generate(prompts, seeds=seeds, size=size), outputs, strict=True):
            image.save(path, format="PNG")

    serve(info={"served": "uae-tiny", "adapter": adapter.info()}, caption=caption, generate=generate)


if __name__ == "__main__":
    main()
