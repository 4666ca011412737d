"""HTML built from Python with every piece of text escaped.

Model output is hostile, and so is anything a verifier copied from it into `details`:
text enters a page only through `esc` (or the helpers that call it), never raw. The
only raw markup is what this package writes itself: tags and SVG drawn from numbers.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["Markup", "esc", "json_block", "page", "table"]


class Markup(str):
    """A string of HTML this package wrote itself: `esc` passes it through unchanged."""


def esc(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def json_block(value: Any) -> Markup:
    """`value` as indented JSON in a <pre>, escaped."""
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
    return Markup(f"<pre class=json>{esc(text)}</pre>")


def table(header: Iterable[Any], rows: Iterable[Iterable[Any]], cls: str = "") -> Markup:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return Markup(
        f"<table class='{esc(cls)}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def page(title: str, body: Markup, *, head: Markup | None = None) -> str:
    """A whole document; the caller's CSP forbids inline script, so none is written."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title>{head or ''}</head><body>{body}</body></html>"
    )
