"""Compare a program's stdout with the expected output, host side.

`lines` is the judge's usual rule (trailing whitespace per line and trailing blank
lines do not matter); `tokens` compares whitespace-separated tokens with numbers equal
within a tolerance; `apps` reproduces the leniency of APPS / verl's prime_code check
(whole output stripped, lines stripped with blank ones dropped, or every line a number
within numpy.allclose's default tolerances), so their datasets score as they did.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["COMPARATORS", "compare", "first_difference"]

MAX_DIFF_CHARS = 200


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value


def _tokens_equal(a: str, b: str, tol: float) -> bool:
    if a == b:
        return True
    x, y = _number(a), _number(b)
    if x is None or y is None:
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=tol, abs_tol=tol)


def exact(actual: str, expected: str, tol: float) -> bool:
    return actual == expected


def lines(actual: str, expected: str, tol: float) -> bool:
    return _lines(actual) == _lines(expected)


def tokens(actual: str, expected: str, tol: float) -> bool:
    got, want = actual.split(), expected.split()
    return len(got) == len(want) and all(
        _tokens_equal(a, b, tol) for a, b in zip(got, want, strict=True)
    )


def apps(actual: str, expected: str, tol: float) -> bool:
    if actual.strip() == expected.strip():
        return True
    got = [line.strip() for line in actual.split("\n") if line.strip()]
    want = [line.strip() for line in expected.split("\n") if line.strip()]
    if got == want:
        return True
    if len(got) != len(want) or not got:
        return False
    pairs = []
    for a, b in zip(got, want, strict=True):
        x, y = _number(a), _number(b)
        if x is None or y is None:
            return False
        pairs.append((x, y))
    # numpy.allclose(got, want): |a - b| <= 1e-8 + 1e-5 * |b|
    return all(abs(x - y) <= 1e-8 + 1e-5 * abs(y) for x, y in pairs)


COMPARATORS: dict[str, Callable[[str, str, float], bool]] = {
    "exact": exact,
    "lines": lines,
    "tokens": tokens,
    "apps": apps,
}


def compare(mode: str, actual: str, expected: str, tol: float) -> bool:
    return COMPARATORS[mode](actual, expected, tol)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_DIFF_CHARS else text[:MAX_DIFF_CHARS] + "..."


def first_difference(actual: str, expected: str) -> dict[str, object]:
    """Where the outputs first differ, line by line, cut short for `details`."""
    got, want = _lines(actual), _lines(expected)
    for index in range(max(len(got), len(want))):
        a = got[index] if index < len(got) else None
        b = want[index] if index < len(want) else None
        if a != b:
            return {
                "line": index + 1,
                "actual": None if a is None else _cut(a),
                "expected": None if b is None else _cut(b),
            }
    return {"line": None, "actual": _cut(actual), "expected": _cut(expected)}
