"""The shortcuts for plain constants and polynomials (verifiers/math/compare.py,
`_constants_differ`, `_polynomials_differ`) give math-verify's own verdict: each pair
here is judged by `equivalent` and by math-verify's `verify` called directly, and the
two must agree; the clearly unequal pairs must take a shortcut and every equal or
unclear pair must not."""

from __future__ import annotations

from typing import Any

import pytest
from math_verify import parse, verify

from rewardgate.verifiers.math.compare import _constants_differ, _polynomials_differ, equivalent
from rewardgate.verifiers.math.models import MathOptions

# (gold, answer, whether the shortcut decides the pair): LaTeX read by math-verify.
PAIRS = [
    ("5\\sqrt{17}", "5\\sqrt{18}", True),
    ("5\\sqrt{17}", "\\sqrt{425}", False),  # equal
    ("2\\sqrt{3}", "\\sqrt{12}", False),  # equal
    ("\\frac{\\sqrt{10}}{6}", "\\frac{6\\sqrt{10}}{36}", False),  # equal
    ("\\frac{\\sqrt{10}}{6}", "\\frac{\\sqrt{10}}{7}", True),
    ("\\sqrt{2}+\\sqrt{3}", "\\sqrt{5+2\\sqrt{6}}", False),  # equal, not structurally
    ("\\sqrt{2}+\\sqrt{3}", "\\sqrt{5+2\\sqrt{7}}", True),
    ("\\frac{3}{4}", "\\frac{4}{3}", False),  # two rationals: math-verify is quick
    ("\\frac{3}{4}", "\\frac{6}{8}", False),
    ("42", "43", False),  # two integers: the same
    ("42", "42 + \\sqrt{2}", True),
    ("42", "42", False),
    ("\\pi", "\\frac{22}{7}", True),
    ("2\\pi", "\\pi+\\pi", False),
    ("e^{2}", "e \\cdot e", False),
    ("e^{2}", "7.389", False),  # a Float: math-verify rounds, never the shortcut
    ("0.5", "\\frac{1}{2}", False),
    ("9\\%", "9", False),  # a percentage: math-verify reads 9% as 9
    ("9", "0.09", False),
    ("\\frac{1}{3}", "0.333333", False),
    ("10^{-9}", "0", False),  # too close to zero to call from digits
    ("\\sin(1)", "\\cos(1)", False),  # a function: not a plain constant
    ("x^2+1", "x^2+2", False),  # symbols: not constants (the polynomial shortcut's)
    ("3+4i", "3-4i", False),  # i is a symbol here
]


def _read(latex: str) -> Any:
    return parse(f"${latex}$", parsing_timeout=None)[0]


@pytest.mark.parametrize(
    ("gold", "answer", "shortcut"), PAIRS, ids=[f"{g} vs {a}" for g, a, _ in PAIRS]
)
def test_the_shortcut_agrees_with_math_verify(gold: str, answer: str, shortcut: bool) -> None:
    gold_value, answer_value = _read(gold), _read(answer)
    options = MathOptions()
    theirs = verify(gold_value, answer_value, timeout_seconds=None)
    assert equivalent(gold_value, answer_value, options) == theirs
    assert _constants_differ(gold_value, answer_value) == shortcut
    if shortcut:
        assert theirs is False


POLYNOMIALS = [
    ("x^2 - 3x - 10", "(x - 6)(x + 2)", True),
    ("x^2 - 3x - 10", "(x - 5)(x + 2)", False),  # equal
    ("x^2 - 3x - 10", "-10 - 3x + x^2", False),  # equal
    ("x^2 - 3x - 10", "x^{2} - (3)x + (-10)", False),  # equal
    ("x^2 - 3x - 10", "x^2 + 3x", True),
    ("x^2 + 1", "y^2 + 1", True),  # other variables: unequal under `strict`
    ("\\frac{x}{2} + \\frac{1}{3}", "\\frac{3x + 2}{6}", False),  # equal
    ("\\frac{x}{2} + \\frac{1}{3}", "\\frac{3x + 1}{6}", True),
    ("2ab + b^2", "b(2a + b)", False),  # equal
    ("2ab + b^2", "b(2a + 2b)", True),
    ("x^{-1}", "\\frac{1}{x}", False),  # a negative power: not a polynomial
    ("\\sqrt{x}", "x", False),  # a root of a symbol: not a polynomial
    ("x + 1", "x = 1", False),  # a relation: math-verify's own rules
    ("3", "4", False),  # constants: the other shortcut's
    ("x^2", "x^{10000000}", False),  # too high a power to evaluate: math-verify's
    ("\\text{odd}", "odd", False),  # one symbol: math-verify compares the letters (equal)
    ("x", "y", False),  # one symbol: math-verify's letters rule decides
    ("abc", "\\text{abd}", False),
]


@pytest.mark.parametrize(
    ("gold", "answer", "shortcut"), POLYNOMIALS, ids=[f"{g} vs {a}" for g, a, _ in POLYNOMIALS]
)
def test_the_polynomial_shortcut_agrees_with_math_verify(
    gold: str, answer: str, shortcut: bool
) -> None:
    gold_value, answer_value = _read(gold), _read(answer)
    theirs = verify(gold_value, answer_value, timeout_seconds=None)
    assert equivalent(gold_value, answer_value, MathOptions()) == theirs
    assert _polynomials_differ(gold_value, answer_value) == shortcut
    if shortcut:
        assert theirs is False


def test_without_strict_variables_are_math_verifys_to_rename() -> None:
    gold, answer = _read("x^2 + 1"), _read("y^2 + 1")
    loose = MathOptions(strict=False)
    theirs = verify(gold, answer, strict=False, timeout_seconds=None)
    assert theirs is True  # math-verify renames y to x
    assert equivalent(gold, answer, loose) is True
