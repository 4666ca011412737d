"""latex2sympy reads each number of an answer with `sympy.Number(text)`: a string, so
sympy parses it as Python source (`parse_expr`, which runs `from sympy import *` on
every call), about a millisecond a number, a tenth of a math worker's time. For the
plain numerals (ASCII digits, with a decimal point or not) this builds the very object
that parse would (its `auto_number` rule makes `Integer(digits)` and `Float('text')`)
directly; any other text (an exponent, an underscore, other digits) goes the old way.

`install()` wraps latex2sympy's number reader once per process; the verdicts cannot
change, since each numeral maps to the same sympy call as before.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["install", "numeral"]

_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]*|\.[0-9]+")
# Longer numerals go the old way: Python refuses to read an int of over 4300 digits, and
# the old way's error for one is the one callers expect.
_MAX_CHARS = 1000


def numeral(text: str) -> Any | None:
    """`sympy.Number(text)` for a plain ASCII numeral, built directly; else None."""
    from sympy import Float, Integer

    if len(text) > _MAX_CHARS:
        return None
    if _INTEGER.fullmatch(text):
        return Integer(int(text))
    if _DECIMAL.fullmatch(text):
        return Float(text)
    return None


@lru_cache(maxsize=1)
def install() -> None:
    """Route latex2sympy's number reader through `numeral` (idempotent, per process)."""
    from latex2sympy2_extended import latex2sympy2

    reader = latex2sympy2._Latex2Sympy.parse_number

    def parse_number(self: Any, text: str) -> Any:
        cleaned = text.replace(",", "")
        if cleaned.isdigit() and cleaned.isascii():
            cleaned = cleaned.lstrip("0") or "0"  # as the reader strips leading zeros
        fast = numeral(cleaned)
        return fast if fast is not None else reader(self, text)

    latex2sympy2._Latex2Sympy.parse_number = parse_number
