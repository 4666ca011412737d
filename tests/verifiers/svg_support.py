"""SVG fixtures shared by the svg tests: the icon set and its variants."""

from __future__ import annotations

import re
from pathlib import Path

ICONS_DIR = Path(__file__).resolve().parent.parent / "data" / "svg" / "simple-icons"
ICONS = sorted(ICONS_DIR.glob("*.svg"))
_PATH = re.compile(r"<path\b([^>]*?)/>", re.DOTALL)


def icon(name: str) -> str:
    return (ICONS_DIR / f"{name}.svg").read_text()


def path_data(svg: str) -> str:
    match = re.search(r'<path[^>]*\bd="([^"]*)"', svg)
    assert match, "every icon is one <path>"
    return match.group(1)


def wrap(body: str, viewbox: str = "0 0 24 24") -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{viewbox}">{body}</svg>'


def shifted(svg: str, dx: float) -> str:
    return wrap(f'<g transform="translate({dx} 0)"><path d="{path_data(svg)}"/></g>')


def recoloured(svg: str, colour: str) -> str:
    return wrap(f'<path fill="{colour}" d="{path_data(svg)}"/>')


BLANK = wrap("")

# Visually identical rewrites: (name, target, rewritten).
REWRITES = {
    "style-attribute": lambda s: (
        s,
        wrap(f'<path style="fill:#000000;fill-opacity:1" d="{path_data(s)}"/>'),
    ),
    "group-transform": lambda s: (
        s,
        wrap(
            f'<g transform="translate(3 -2)">'
            f'<path transform="translate(-3 2)" d="{path_data(s)}"/></g>'
        ),
    ),
    "scaled-viewbox": lambda s: (
        s,
        wrap(f'<g transform="scale(2)"><path d="{path_data(s)}"/></g>', "0 0 48 48"),
    ),
    "rect-as-path": lambda s: (
        wrap(f'<path d="{path_data(s)}"/><rect x="1" y="1" width="3" height="2"/>'),
        wrap(f'<path d="{path_data(s)}"/><path d="M1 1h3v2H1z"/>'),
    ),
}
