"""Decode images safely (truncated files, decompression bombs) and hash them."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from unified_bench.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
# PIL's own bomb limit (~89 MP) halves into a warning; we treat both as errors: a reference
# image larger than this is a mistake or an attack, never a benchmark input.
MAX_IMAGE_PIXELS = 64 * 1024 * 1024


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_image(data: bytes, source: str, *, keep_alpha: bool = False) -> Image.Image:
    """Decode fully into an RGB image, or raise ``InputError`` naming ``source``.

    With ``keep_alpha`` an image with transparency comes back RGBA, so that an adapter can composite
    it as its model's preprocessing does (``reference_rgb``); scorers
    convert it to RGB as the official scripts do (``convert("RGB")``: alpha dropped).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError(f"{width}x{height}")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_large(source, str(error)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{source}: not a readable image ({error}); replace or remove the file.") from None
    wanted = "RGBA" if keep_alpha and _has_alpha(image) else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def reference_rgb(image: Image.Image) -> Image.Image:
    """A reference image as the RGB picture a model sees: transparent pixels composited on white.

    qwen-vl-utils (the preprocessing of UAE's and Qwen's demos) pastes an RGBA image on a white
    background with its alpha as the mask; plain ``convert("RGB")`` would instead show whatever colour
    is stored under transparent pixels (often black). Other modes with transparency (LA, PA, a palette
    with a transparent index) are made RGBA first, so they are composited the same way. Every adapter
    that reads references uses this (``prompts.caption_conversations`` applies it).
    """
    if image.mode != "RGBA" and _has_alpha(image):
        image = image.convert("RGBA")
    if image.mode != "RGBA":
        return image if image.mode == "RGB" else image.convert("RGB")
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def inspect_image_file(path: str | Path) -> str:
    """Check an image file's header and hash its bytes in a stream, without decoding its pixels.

    Returns the sha256 of the file's bytes. The header check catches files that are not images and
    decompression bombs; a file truncated after its header is caught when it is decoded.

    Raises:
        InputError: The file cannot be read, is not an image, or is too large.
    """
    path = Path(path)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            _check_header(stream, str(path))
            stream.seek(0)
            while chunk := stream.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror}).") from None
    return digest.hexdigest()


_HASH_CHUNK = 1 << 20


def _check_header(stream: BinaryIO, source: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_large(source, str(error)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{source}: not a readable image ({error}); replace or remove the file.") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_large(source, f"{width}x{height}")


def _too_large(source: str, detail: str) -> InputError:
    return InputError(
        f"{source}: image too large ({detail}); more than {MAX_IMAGE_PIXELS} pixels looks like a "
        "decompression bomb. Resize it or remove it from the dataset."
    )


def read_image(path: str | Path) -> tuple[Image.Image, str]:
    """Read and decode an image file; returns the RGB image and the sha256 of the file's bytes."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror}).") from None
    return decode_image(data, str(path)), sha256_bytes(data)


def png_bytes(image: Image.Image) -> bytes:
    """Lossless PNG encoding (deterministic for the same pixels)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def parse_size(text: str) -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` as ``(width, height)``; ``ValueError`` (starting with ``text``) otherwise."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise ValueError(f"{text}: expected WIDTHxHEIGHT, e.g. 1024x1024.")
    return int(width), int(height)
