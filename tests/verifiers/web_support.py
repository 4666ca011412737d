"""The ten test pages of the web verifier and the edits the tests make to them.

Each edit changes one aspect of a page the way a design-to-code model gets it wrong:
every text colour, every text (a few letters of each word), the position of everything
(the page moved right and down), or the markup only (comments and indentation, drawn
the same).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "web"
PAGES = sorted(DATA.glob("*.html"))

_TEXT = re.compile(r">([^<>]+)<")
_VOWELS = str.maketrans("aeiouAEIOU", "eioauEIOAU")


def page(name: str) -> str:
    return (DATA / f"{name}.html").read_text()


def _inject_style(html: str, css: str) -> str:
    return html.replace("</head>", f"<style>{css}</style>\n</head>", 1)


def recoloured(html: str) -> str:
    """Every text in one magenta."""
    return _inject_style(html, "body, body * { color: rgb(200, 0, 200) !important; }")


def moved(html: str) -> str:
    """Everything 200 px right and 240 px down."""
    return _inject_style(html, "body { position: relative; left: 200px; top: 240px; }")


def retexted(html: str) -> str:
    """Each vowel of the body's text swapped for the next one (markup untouched)."""
    head, _, body = html.partition("<body")

    def swap(match: re.Match[str]) -> str:
        return f">{match.group(1).translate(_VOWELS)}<"

    return f"{head}<body{_TEXT.sub(swap, body)}"


def reformatted(html: str) -> str:
    """The same page with comments and blank lines between its elements."""
    return html.replace("\n<", "\n<!-- edited -->\n\n<")


EDITS: dict[str, tuple[Callable[[str], str], str]] = {
    "colour": (recoloured, "color"),
    "text": (retexted, "text"),
    "position": (moved, "position"),
}
