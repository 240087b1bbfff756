"""The echo adapter: a caption is an image's mean colour, an image is a caption's colour, flat."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from PIL import Image

from unified_bench.adapter import AdapterOptions


class EchoAdapter:
    def __init__(self, options: AdapterOptions) -> None:
        self.protocol = options.protocol
        self.side = int(options.args.get("side", "24"))

    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        means = [np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0).round() for image in images]
        return ["mean colour {} {} {}".format(*(int(v) for v in mean)) for mean in means]

    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        colours = [tuple(int(v) for v in re.findall(r"\d+", prompt)[:3]) for prompt in prompts]
        return [Image.new("RGB", size or (self.side, self.side), colour) for colour in colours]

    def info(self) -> dict[str, Any]:
        return {"adapter": "echo-plugin", "protocol": self.protocol, "side": self.side}


def build(options: AdapterOptions) -> EchoAdapter:
    return EchoAdapter(options)
