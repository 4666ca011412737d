"""Finding the SVG in a model's response.

The last fenced ```svg or ```xml block that holds an `<svg` wins (a model that revises
its drawing ends with the final one); without one, the first `<svg ...>...</svg>`
element in the text, its end found by counting nested `<svg>` elements so an inner
`</svg>` does not cut it short, together with an XML declaration and DOCTYPE right
before it (they are part of the document; `sanitise` judges them).
"""

from __future__ import annotations

import re

__all__ = ["extract_svg"]

_FENCE = re.compile(r"```(?:svg|xml)[^\S\n]*\n(.*?)```", re.IGNORECASE | re.DOTALL)
_DOCTYPE = re.compile(r"<!DOCTYPE\b[^\[>]*(?:\[.*\]\s*)?>\s*", re.DOTALL)
_DECLARATION = re.compile(r"<\?xml\b[^>]*\?>\s*")
# How far before `<svg` a prolog is looked for.
_PROLOG_WINDOW = 100_000
_TAG = re.compile(r"<svg\b[^>]*?(/?)>|</svg\s*>", re.IGNORECASE)


def extract_svg(response: str) -> str | None:
    """The SVG text the response gives, or None."""
    for block in reversed(_FENCE.findall(response)):
        if "<svg" in block.lower():
            return block.strip()
    return _first_element(response)


def _first_element(text: str) -> str | None:
    depth = 0
    start = -1
    for match in _TAG.finditer(text):
        closing = match.group(0).startswith("</")
        if closing:
            if depth == 0:
                continue
            depth -= 1
            if depth == 0:
                return text[_prolog_start(text, start) : match.end()]
        elif match.group(1):  # self-closing <svg .../>
            if depth == 0:
                return text[_prolog_start(text, match.start()) : match.end()]
        else:
            if depth == 0:
                start = match.start()
            depth += 1
    return None


def _prolog_start(text: str, start: int) -> int:
    """Where an XML declaration and/or DOCTYPE ending right at `start` begins, else `start`."""
    window = max(0, start - _PROLOG_WINDOW)
    for marker, pattern in (("<!DOCTYPE", _DOCTYPE), ("<?xml", _DECLARATION)):
        found = text.rfind(marker, window, start)
        if found >= 0 and pattern.fullmatch(text, found, start):
            start = found
    return start
