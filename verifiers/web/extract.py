"""Finding the page in a model's response.

The last fenced ```html block wins (a model that revises its page ends with the final
one; fences that are all blank give nothing). Without one, the response is the
document: from its `<!DOCTYPE html>` or `<html>` to the last `</html>` when it has them
(prose around a bare document is dropped), else the whole text, which the browser
renders as HTML the way Design2Code's `make_html` wraps fragments. Whitespace alone is no page.
"""

from __future__ import annotations

import re

__all__ = ["extract_html"]

_FENCE = re.compile(r"```(?:html|htm|xhtml)[^\S\n]*\n(.*?)(?:```|\Z)", re.IGNORECASE | re.DOTALL)
_START = re.compile(r"<!DOCTYPE\s+html\b|<html\b", re.IGNORECASE)
_END = re.compile(r"</html\s*>", re.IGNORECASE)


def extract_html(response: str) -> str | None:
    """The HTML the response gives, or None when it gives nothing."""
    blocks = _FENCE.findall(response)
    if blocks:
        filled = [b for b in blocks if b.strip()]
        return filled[-1].strip() if filled else None
    start = _START.search(response)
    if start is not None:
        ends = list(_END.finditer(response, start.start()))
        end = ends[-1].end() if ends else len(response)
        return response[start.start() : end].strip()
    return response.strip() or None
