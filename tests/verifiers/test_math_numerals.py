"""latex2sympy's numbers read without sympy's Python parser (verifiers/math/numerals.py)
are the very objects `sympy.Number(text)` makes: same type, value and precision."""

from __future__ import annotations

from typing import Any

import pytest
import sympy
from latex2sympy2_extended import latex2sympy2

from rewardgate.verifiers.math.numerals import install, numeral

TEXTS = [
    "0",
    "7",
    "42",
    "12345678901234567890123",
    "3.14",
    "0.5",
    ".5",
    "5.",
    "007.50",
    "100.000",
    "0.000000000001",
    "3.141592653589793238462643383",
]
# Not plain numerals: left to sympy's parser.
OTHERS = ["1e5", "1_000", "٣", "0x1F", "1.5e-3", "", "1.2.3", "9" * 5000]


def _same(one: Any, other: Any) -> bool:
    return (
        type(one) is type(other)
        and one == other
        and getattr(one, "_prec", None) == getattr(other, "_prec", None)
    )


@pytest.mark.parametrize("text", TEXTS)
def test_a_plain_numeral_is_the_number_sympy_parses(text: str) -> None:
    assert _same(numeral(text), sympy.Number(text))


@pytest.mark.parametrize("text", OTHERS, ids=lambda text: f"{text[:12]}({len(text)})")
def test_anything_else_is_left_to_sympy(text: str) -> None:
    assert numeral(text) is None


@pytest.mark.parametrize("text", ["00", "007", "1,234", "1,000,000", "3.5", "1e5", "1_000"])
def test_the_installed_reader_reads_as_latex2sympy_did(text: str) -> None:
    install()
    cleaned = text.replace(",", "")
    if cleaned.isdigit():
        cleaned = cleaned.lstrip("0") or "0"
    read = latex2sympy2._Latex2Sympy.parse_number(None, text)  # type: ignore[arg-type]
    assert _same(read, sympy.Number(cleaned))


@pytest.mark.parametrize(
    ("latex", "value"),
    [("1234 + 0.5", sympy.Float("1234.5")), ("\\frac{3}{4}", sympy.Rational(3, 4))],
)
def test_latex_with_numbers_reads_the_same(latex: str, value: Any) -> None:
    install()
    read = latex2sympy2.latex2sympy(latex)
    assert sympy.simplify(read - value) == 0
