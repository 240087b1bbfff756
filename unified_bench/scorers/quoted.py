"""Quoted text: does the caption transcribe the text the prompt asked the image to show?

A prompt's spans are the texts between double quotes (straight ``"..."`` or curly ``“...”``).
Spans and captions are compared after case folding and collapsing whitespace.

* recall: the share of spans that occur verbatim in the caption;
* edit similarity: per span, ``1 - d / len(span)`` where ``d`` is the smallest Levenshtein distance
  between the span and any stretch of the caption (0 if ``d >= len(span)``), averaged over spans.

Both are ``None`` for a prompt without a quoted span. No model is involved.
"""

from __future__ import annotations

import re

QUOTED_VERSION = "v1-casefold-ws"
_SPAN = re.compile(r'"([^"]+)"|“([^”]+)”')


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def quoted_spans(prompt: str) -> list[str]:
    """The non-empty quoted spans of ``prompt``, normalised, in order."""
    spans = (_normal(a or b) for a, b in _SPAN.findall(prompt))
    return [span for span in spans if span]


def substring_distance(needle: str, haystack: str) -> int:
    """Smallest edit distance between ``needle`` and any substring of ``haystack`` (Sellers, 1980)."""
    previous = [0] * (len(haystack) + 1)  # a match may start anywhere: row 0 is all zeros
    for i, char in enumerate(needle, start=1):
        current = [i] + [0] * len(haystack)
        for j, other in enumerate(haystack, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
        previous = current
    return min(previous)  # ... and end anywhere


def quoted_recall(prompt: str, caption: str) -> float | None:
    spans = quoted_spans(prompt)
    if not spans:
        return None
    text = _normal(caption)
    return sum(span in text for span in spans) / len(spans)


def quoted_edit_similarity(prompt: str, caption: str) -> float | None:
    spans = quoted_spans(prompt)
    if not spans:
        return None
    text = _normal(caption)
    return sum(max(0.0, 1 - substring_distance(s, text) / len(s)) for s in spans) / len(spans)
