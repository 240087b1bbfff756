"""The toy world: images of coloured shapes whose attributes are known, and their attribute captions.

A scene is one colour, one shape, a count (1-3) and where the shapes sit (left, right, top,
bottom), drawn by this module on a white square with PIL, so every image's answer is known. Its
caption names the four attributes ("two red circles on the left"); ``attribute_accuracy`` scores a
caption by the share of the scene's attributes it names correctly (a value of the attribute that
is the scene's, and no other value of that attribute). Scenes come from a seed alone, so the
training and held-out sets are reproducible and disjoint (different seeds, different scenes).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 220), "yellow": (235, 200, 30)}
SHAPES = {"circle": "circles", "square": "squares", "triangle": "triangles"}
POSITIONS = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom"}
COUNTS = {1: "one", 2: "two", 3: "three"}
ATTRIBUTES = ("colour", "shape", "count", "position")


@dataclass(frozen=True)
class Scene:
    """What a toy image shows: its attributes are the answers a caption should give."""

    colour: str
    shape: str
    count: int
    position: str

    @property
    def id(self) -> str:
        """The sample id, which spells the answers: ``2-red-circle-left``."""
        return f"{self.count}-{self.colour}-{self.shape}-{self.position}"

    @classmethod
    def from_id(cls, sample_id: str) -> Scene:
        count, colour, shape, position = sample_id.split("-")
        return cls(colour, shape, int(count), position)

    def caption(self) -> str:
        """The attribute caption: "one red circle on the left", "three blue squares at the top"."""
        noun = self.shape if self.count == 1 else SHAPES[self.shape]
        return f"{COUNTS[self.count]} {self.colour} {noun} {POSITIONS[self.position]}"

    def render(self, size: int = 64) -> Image.Image:
        """The scene on a white ``size`` x ``size`` square: shapes in a row (or column) in its half."""
        image = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(image)
        side = size // 5  # leaves a gap between neighbours
        for index in range(self.count):
            x, y = self._centre(index, size)
            box = (x - side // 2, y - side // 2, x + side // 2, y + side // 2)
            fill = COLOURS[self.colour]
            if self.shape == "circle":
                draw.ellipse(box, fill=fill)
            elif self.shape == "square":
                draw.rectangle(box, fill=fill)
            else:
                draw.polygon(
                    [(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=fill
                )
        return image

    def _centre(self, index: int, size: int) -> tuple[int, int]:
        """Centre of shape ``index``: spread along the scene's half of the image."""
        along = (index + 1) * size // (self.count + 1)
        near, far = size // 4, 3 * size // 4
        return {
            "left": (near, along),
            "right": (far, along),
            "top": (along, near),
            "bottom": (along, far),
        }[self.position]


def all_scenes() -> list[Scene]:
    """Every scene of the world (4 colours x 3 shapes x 3 counts x 4 positions = 144), in a fixed order."""
    return [
        Scene(colour, shape, count, position)
        for colour in COLOURS
        for shape in SHAPES
        for count in COUNTS
        for position in POSITIONS
    ]


def split_scenes(seed: int, train: int, held_out: int) -> tuple[list[Scene], list[Scene]]:
    """Disjoint training and held-out scenes, drawn without replacement by ``seed``."""
    scenes = all_scenes()
    if train + held_out > len(scenes):
        raise ValueError(f"the toy world has {len(scenes)} scenes; asked for {train} + {held_out}")
    random.Random(seed).shuffle(scenes)
    return scenes[:train], scenes[train : train + held_out]


def attribute_accuracy(caption: str, scene: Scene) -> float:
    """Share of the scene's four attributes the caption names correctly (and unambiguously)."""
    words = caption.lower().replace(",", " ").split()
    text = " ".join(words)

    def named(values: dict, wanted: object, spelled: dict) -> bool:
        said = {value for value in values if any(form in words for form in spelled[value])}
        return said == {wanted}

    colours = {colour: (colour,) for colour in COLOURS}
    shapes = {shape: (shape, plural) for shape, plural in SHAPES.items()}
    counts = {count: (word,) for count, word in COUNTS.items()}
    positions = {position: (position,) for position in POSITIONS}
    hits = [
        named(COLOURS, scene.colour, colours),
        named(SHAPES, scene.shape, shapes),
        named(COUNTS, scene.count, counts),
        named(POSITIONS, scene.position, positions) and POSITIONS[scene.position] in text,
    ]
    return sum(hits) / len(hits)


def write_scenes(folder: Path, scenes: list[Scene], *, size: int = 64) -> Path:
    """One PNG per scene in ``folder`` (a folder dataset; id = file stem = ``Scene.id``) and, beside
    it, ``FOLDER.jsonl``: a manifest of the same images with their attribute captions."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for scene in scenes:
        scene.render(size).save(folder / f"{scene.id}.png")
        record = {"id": scene.id, "image": f"{folder.name}/{scene.id}.png", "captions": [scene.caption()]}
        lines.append(json.dumps(record))
    manifest = folder.parent / f"{folder.name}.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest
