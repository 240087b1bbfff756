"""Command-line strings to typed values, directed by a dataclass field's annotation.

One set of spellings for every ``KEY=VALUE`` flag (``--adapter-arg``, ``train --set``):

- ``bool``: ``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0``, in any case.
- ``X | None``: ``none``, ``null``, ``~`` (any case) or an empty value give None; else as ``X``.
- ``int``: decimal digits (an optional sign, ``_`` separators); ``float``: what ``float()`` reads.
- ``str``: the text as given; ``Literal[...]``: one of the choices, spelt exactly.
- ``list[X]``: ``a,b`` or ``[a, b]``; ``dict[K, V]``: ``k=v,k2=v2`` or ``{k: v, k2: v2}``; each
  item read by the rules above.

Anything else is refused with the reason (``SettingError``); each flag adds its own name.
"""

from __future__ import annotations

import types
import typing
from typing import Any

TRUE = frozenset({"true", "yes", "on", "1"})
FALSE = frozenset({"false", "no", "off", "0"})
NONE = frozenset({"none", "null", "~", ""})


class SettingError(ValueError):
    """A value that does not read as its field's type; the message says what was expected."""


def parse_typed(raw: str, annotation: Any) -> Any:
    """``raw`` read as ``annotation`` (see the module docstring for the spellings).

    Raises:
        SettingError: ``raw`` is not a value of that type, or the type cannot be spelt as text.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and raw.strip().lower() in NONE:
            return None
        return parse_typed(raw, next(arg for arg in args if arg is not type(None)))
    if origin is typing.Literal:
        if raw not in args:
            raise SettingError(f"expected one of {', '.join(map(str, args))}")
        return raw
    if origin is list:
        return [parse_typed(item, args[0]) for item in _items(raw, "[]")]
    if origin is dict:
        pairs = [item.partition(":" if raw.strip().startswith("{") else "=") for item in _items(raw, "{}")]
        if any(not sep for _, sep, _ in pairs):
            raise SettingError("expected a mapping like name=value,... or {name: value}")
        return {
            parse_typed(key.strip(), args[0]): parse_typed(value.strip(), args[1]) for key, _, value in pairs
        }
    if annotation is bool:
        text = raw.strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise SettingError("expected true or false")
    if annotation is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingError("expected an integer") from None
    if annotation is float:
        try:
            return float(raw)
        except ValueError:
            raise SettingError("expected a number") from None
    if annotation is str:
        return raw
    raise SettingError("this setting cannot be given on the command line")


def _items(raw: str, brackets: str) -> list[str]:
    """The comma-separated items of ``raw``, inside ``brackets`` when it is wrapped in them."""
    text = raw.strip()
    if text.startswith(brackets[0]) and text.endswith(brackets[1]):
        text = text[1:-1]
    return [item.strip() for item in text.split(",") if item.strip()]
