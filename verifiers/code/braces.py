"""Reading brace-language source without parsing it: literals and comments blanked out,
then the brace depth at each character. The assemblers of function tests (native.py and
its per-language modules) find top-level definitions and `main`s with these."""

from __future__ import annotations

import re

__all__ = ["blank_with", "brace_depths"]


def blank_with(scanner: re.Pattern[str], source: str) -> str:
    """`source` with every match of `scanner` (its comments and literals) replaced by
    spaces, newlines kept, so offsets and line numbers stay those of `source`."""
    return scanner.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)


def brace_depths(code: str) -> list[int]:
    """The brace depth at each character of blanked code (a stray `}` never goes below 0)."""
    depth, out = 0, []
    for ch in code:
        if ch == "}":
            depth = max(depth - 1, 0)
        out.append(depth)
        if ch == "{":
            depth += 1
    return out
