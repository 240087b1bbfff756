"""The HTML toolkit shared by the run page, the two-run page and the leaderboard site.

Pages are ``string.Template`` files under ``unified_bench/report/templates``: each holds only its
body; ``base.html`` holds the head every page shares (the Content-Security-Policy that forbids any
network request, the viewport, the inline styles) and the inline scripts. Values go in escaped
(``esc``); numbers that may be missing or non-finite print as a dash (``fmt``).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from functools import cache
from importlib import resources
from string import Template

from PIL import Image

THUMBNAIL_PX = 256  # longest side; shown at 160 CSS px, sharp on high-density screens


@cache
def template_text(name: str) -> str:
    """A file from ``unified_bench/report/templates`` (HTML, CSS, JS shared by the report and the site)."""
    return resources.files("unified_bench.report").joinpath(f"templates/{name}").read_text("utf-8")


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def image_data_uri(image: Image.Image, max_px: int = THUMBNAIL_PX) -> str:
    """A downscaled JPEG of ``image`` as a ``data:`` URI."""
    thumb = image.convert("RGB")
    thumb.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=82, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_page(body_template: str, *, title: str, css: str, scripts: Sequence[str], **fields: str) -> str:
    """A whole self-contained page: ``body_template`` filled with ``fields`` inside ``base.html``.

    ``title`` is already escaped; the body template may use it too (``$title``). Each script is
    inlined in its own ``<script>`` element, in order.
    """
    body = Template(template_text(body_template)).substitute(title=title, **fields)
    return Template(template_text("base.html")).substitute(
        title=title,
        css=css,
        body=body,
        scripts="\n".join(f"<script>\n{script}\n</script>" for script in scripts),
    )
