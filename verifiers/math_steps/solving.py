"""Following a solution through its equations: a step must keep the previous one's roots.

`2x + 3 = 7` then `2x = 5` (or `x = 3`) is a wrong step even though neither equation is
a claim on its own: the second has none of the first one's solutions. Consecutive
equations (and the values they give a variable) in
one unknown (polynomial after clearing denominators, degree 1 to 4) are solved, and a
later one whose roots are all different from the earlier one's is refuted. Sharing a
root is enough to pass, since legitimate steps add roots (squaring) or drop them
(dividing by x, taking the positive root). A step that opens alternatives ("or",
"case", "if", "suppose", ...) starts afresh, so separate cases never refute each other;
`check_steps` also forgets the variables' values there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from rewardgate.verifiers.math_steps.check import LinkResult, agrees

__all__ = ["Solving", "opens_alternatives"]

MAX_DEGREE = 4
_ALTERNATIVES = re.compile(
    r"\b(?:or|cases?|if|suppose|assume|alternatively|otherwise|another|other|either|"
    r"instead|consider|when|whether|try|trying|test|check|second)\b",
    re.IGNORECASE,
)


def opens_alternatives(step: str) -> bool:
    """Whether the step speaks of cases or hypotheses, where values hold only locally."""
    return _ALTERNATIVES.search(step) is not None


@dataclass(frozen=True)
class _Anchor:
    variable: str
    roots: tuple[complex, ...]
    claim: str
    rounding: float


class Solving:
    """The last equation seen in each unknown, and the check of the next one against it."""

    def __init__(self) -> None:
        self._anchor: _Anchor | None = None

    def follow(self, step: str, results: list[LinkResult]) -> list[LinkResult]:
        """`results` with equations that lose every previous root refuted."""
        if opens_alternatives(step):
            self._anchor = None
            return results
        followed = []
        for result in results:
            if result.equation is not None:
                result = self._next(result)
            followed.append(result)
        return followed

    def _next(self, result: LinkResult) -> LinkResult:
        assert result.equation is not None
        lhs, rhs, rounding = result.equation
        solved = _solve(lhs, rhs)
        if solved is None:
            return result
        variable, roots = solved
        anchor = self._anchor
        self._anchor = _Anchor(variable, roots, result.claim, rounding)
        if anchor is None or anchor.variable != variable:
            return result
        # A root written rounded (`x = 3.33` after `3x = 10`) matches within its rounding.
        if any(
            abs(a - b) <= 1e-6 * max(1.0, abs(a))
            or agrees(a, b, rounding)
            or agrees(b, a, anchor.rounding)
            for a in anchor.roots
            for b in roots
        ):
            return replace(result, reason=f"keeps a root of {anchor.claim}")
        return replace(
            result,
            status="refuted",
            reason=f"does not follow from {anchor.claim}: no root in common",
        )


def _solve(lhs: Any, rhs: Any) -> tuple[str, tuple[complex, ...]] | None:
    """(the unknown, the roots) of a polynomial equation in one unknown, else None."""
    from sympy import Poly, fraction, together
    from sympy.core.function import AppliedUndef

    try:
        difference = together(lhs - rhs)
        if difference.atoms(AppliedUndef) or len(difference.free_symbols) != 1:
            return None
        [variable] = difference.free_symbols
        if not re.fullmatch(r"[A-Za-z](?:_\{?\w+\}?)?", variable.name):
            return None  # a word (a unit such as `cm`) is no unknown to solve for
        numerator, denominator = fraction(difference)
        poly = Poly(numerator, variable)
        if not 1 <= poly.degree() <= MAX_DEGREE or not all(c.is_number for c in poly.all_coeffs()):
            return None
        roots = []
        for root in poly.nroots(n=15):
            value = complex(root)
            if abs(complex(denominator.subs(variable, root).evalf(15))) > 1e-12:
                roots.append(value)
    except Exception:  # what sympy cannot put in polynomial form is not followed
        return None
    return (variable.name, tuple(roots)) if roots else None
