"""A small deterministic two-halves adapter for t2i2t tests: outputs depend on (input, seed) only.

``generate`` paints a prompt's hash and the seed into an 8x8 image; ``caption`` describes the image's
pixels and the seed. ``kill_on_caption_call=N`` SIGKILLs the process at the N-th caption call, after
that batch's images are written: a kill at an exact point, without timing.
"""

from __future__ import annotations

import hashlib
import os
import signal

import numpy as np
from PIL import Image


class PromptEchoAdapter:
    def __init__(self, kill_on_caption_call: int | None = None) -> None:
        self.kill_on_caption_call = kill_on_caption_call
        self.caption_calls = 0
        self.generated: list[str] = []

    def generate(self, prompts, *, seeds, size=None):
        images = []
        for prompt, seed in zip(prompts, seeds, strict=True):
            self.generated.append(prompt)
            key = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(key[:8], "little"))
            images.append(Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)))
        return images

    def caption(self, images, *, seeds):
        self.caption_calls += 1
        if self.caption_calls == self.kill_on_caption_call:
            os.kill(os.getpid(), signal.SIGKILL)
        return [
            f"mean {np.asarray(image).mean():.3f} seed {seed % 1000}"
            for image, seed in zip(images, seeds, strict=True)
        ]

    def info(self):
        return {"adapter": "prompt-echo"}
