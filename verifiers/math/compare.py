"""Deciding whether a response's reading equals the gold's, whole against whole.

Single answers go to math-verify's `verify`, one (gold, answer) pair at a time so
`details` can name the pair that matched. Beyond math-verify we read a predicted
inequality in one variable as the interval it describes when the gold is a set;
math-verify does this only the other way round, and its general switch
(`allow_set_relation_comp`) also lets a restated equation such as `x^2 = 1` match its
roots {-1, 1}.

A gold that is a bare list (`1, 3, 5, 15`, `b = -3, c = 0`, `2 \\pm \\sqrt{3}`) needs the
whole list back: the same items, each equivalent, in any order unless `ordered`, written
as a list, a tuple or a set; labels, where both sides wrote them, must agree. One item
alone, one missing or one extra is not the answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rewardgate.verifiers.math.answers import Reading
    from rewardgate.verifiers.math.models import MathOptions

__all__ = ["Match", "as_interval", "equivalent", "find_match"]

Match = tuple[Any, Any, str]


def equivalent(gold: Any, answer: Any, options: MathOptions) -> bool:
    """math-verify's verdict on one pair, its own timeout off (the engine's deadline rules)."""
    from math_verify import verify

    if (
        _tiny_numbers_differ(gold, answer, options)
        or _constants_differ(gold, answer)
        or (options.strict and _polynomials_differ(gold, answer))
    ):
        return False
    return bool(
        verify(
            gold,
            answer,
            float_rounding=options.float_rounding,
            numeric_precision=options.numeric_precision,
            strict=options.strict,
            allow_set_relation_comp=options.allow_set_relation_comp,
            timeout_seconds=None,
        )
    )


def _tiny_numbers_differ(gold: Any, answer: Any, options: MathOptions) -> bool:
    """Whether a gold smaller than math-verify's rounding step differs from the answer.

    math-verify rounds both numbers to `float_rounding` decimal places, which makes
    every number below 5e-7 equal to every other: -5.5e-21 would pay -5.5e-22. Such a
    gold is compared relatively instead, to `float_rounding - 2` significant digits.
    """
    from sympy import Number

    if not (isinstance(gold, Number) and isinstance(answer, Number)):
        return False
    try:
        gold_value, answer_value = float(gold), float(answer)
    except (TypeError, ValueError, OverflowError):
        return False
    if gold_value == 0 or abs(gold_value) >= 10.0**-options.float_rounding:
        return False
    tolerance = 10.0 ** -max(options.float_rounding - 2, 1)
    return not math.isclose(gold_value, answer_value, rel_tol=tolerance)


# A difference at least this large (relative to the gold, and at least absolute) is
# read as certain from 30 evaluated digits.
_CLEAR_DIFFERENCE = 1e-6


def _constants_differ(gold: Any, answer: Any) -> bool:
    """Whether two plain constants (`5\\sqrt{17}` and `5\\sqrt{18}`) are clearly unequal.

    math-verify decides such a pair last by `simplify(gold - answer) == 0`, which takes
    milliseconds for radicals and is reached whenever the faster tests failed; every
    one of its tests is true only for equal values (structural equality, equal
    evaluations, a difference that simplifies to zero). So a difference evaluated to 30
    digits and far from zero is its verdict, False, without the simplification.

    Plain constants only: integers, fractions, sums, products and rational powers of
    them (radicals), pi and e. No Float (math-verify rounds those), no UnevaluatedExpr
    (its percentages: 9% equals 9 there), no function, limit or sum. Anything else, and
    any pair this cannot evaluate, goes to math-verify unchanged.
    """
    from sympy import Rational

    if isinstance(gold, Rational) and isinstance(answer, Rational):
        return False  # math-verify compares two rationals at once
    if not (_is_plain_constant(gold) and _is_plain_constant(answer)) or gold == answer:
        return False
    try:
        difference = abs(complex((gold - answer).evalf(30)))
        scale = max(1.0, abs(complex(gold.evalf(30))))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return False
    return math.isfinite(difference) and difference > _CLEAR_DIFFERENCE * scale


def _is_plain_constant(item: Any) -> bool:
    from sympy import Add, Basic, Mul, Pow, Rational, S, preorder_traversal

    if not isinstance(item, Basic):
        return False
    for node in preorder_traversal(item):
        if isinstance(node, Pow):
            if not isinstance(node.exp, Rational):
                return False
        elif not (isinstance(node, (Rational, Add, Mul)) or node is S.Pi or node is S.Exp1):
            return False
    return True


# Where `_polynomials_differ` evaluates both sides: distinct primes, one per symbol.
_POINTS = (101, 103, 107, 109, 113, 127, 131, 137)
# The highest power it evaluates; higher ones go to math-verify.
_MAX_DEGREE = 64


def _polynomials_differ(gold: Any, answer: Any) -> bool:
    """Whether two polynomials with rational coefficients (`x^2 - 3x - 10` and
    `(x - 6)(x + 2)`) differ at a point, evaluated exactly: then `gold - answer` is not
    identically zero, so math-verify's tests (structural equality, an evaluation to
    zero, `simplify(gold - answer) == 0`) are all false, and its `simplify` took
    milliseconds to say so. Not when either side is one symbol: math-verify compares
    those by their letters (`\\text{odd}` equals `odd`, read o*d*d). Equal values at
    the point decide nothing: math-verify judges the pair as before. Only under
    `strict` (math-verify renames the answer's variables otherwise); symbols beyond
    `_POINTS` or anything but integers, fractions, sums, products, natural powers and
    numbers' reciprocals go to math-verify unchanged.
    """
    from sympy import Symbol

    if isinstance(gold, Symbol) or isinstance(answer, Symbol):
        return False  # math-verify reads `\\text{odd}` against `odd` (o*d*d) by its letters
    symbols: set[Any] = set()
    if not (_is_polynomial(gold, symbols) and _is_polynomial(answer, symbols)):
        return False
    if not symbols or len(symbols) > len(_POINTS):
        return False  # constants: `_constants_differ`'s; too many symbols: not ours
    from sympy import Integer, Rational

    point = {
        symbol: Integer(value)
        for symbol, value in zip(sorted(symbols, key=str), _POINTS, strict=False)
    }
    difference = gold.xreplace(point) - answer.xreplace(point)
    return isinstance(difference, Rational) and difference != 0


def _is_polynomial(item: Any, symbols: set[Any]) -> bool:
    """Whether `item` is a polynomial with rational coefficients; adds its symbols."""
    from sympy import Add, Basic, Integer, Mul, Pow, Rational, Symbol, preorder_traversal

    if not isinstance(item, Basic):
        return False
    for node in preorder_traversal(item):
        if isinstance(node, Symbol):
            symbols.add(node)
        elif isinstance(node, Pow):
            # A natural power, or a number's reciprocal (LaTeX's `\\frac{3x + 1}{6}`); not
            # a high one: `x^{10000000}` at the point would be a number of 20 million digits.
            if not (
                isinstance(node.exp, Integer)
                and abs(node.exp) <= _MAX_DEGREE
                and (node.exp >= 0 or (isinstance(node.base, Rational) and node.base != 0))
            ):
                return False
        elif not isinstance(node, (Rational, Add, Mul)):
            return False
    return True


def find_match(gold: Reading, answers: Sequence[Reading], options: MathOptions) -> Match | None:
    """The first (gold, answer, rule) found equivalent, whole against whole, or None."""
    for answer in answers:
        if gold.bare_list:
            if answer.items is None and _is_finite_set(answer.value):
                answer = replace(answer, items=tuple(answer.value.args))  # math-verify's set
            if answer.items is not None and _lists_match(gold, answer, options):
                rule = "ordered_list" if options.ordered else "list"
                return gold.value, answer.value, rule
            continue
        if equivalent(gold.value, answer.value, options):
            return gold.value, answer.value, "equivalent"
        if options.inequality_intervals and _is_set(gold.value):
            interval = as_interval(answer.value)
            if interval is not None and equivalent(gold.value, interval, options):
                return gold.value, answer.value, "inequality_as_interval"
    return None


def _lists_match(gold: Reading, answer: Reading, options: MathOptions) -> bool:
    assert gold.items is not None and answer.items is not None
    gold_labels = gold.labels or (None,) * len(gold.items)
    answer_labels = answer.labels or (None,) * len(answer.items)
    labelled = any(gold_labels) and any(answer_labels)

    def same(i: int, j: int) -> bool:
        if labelled and gold_labels[i] != answer_labels[j]:
            return False
        return equivalent(gold.items[i], answer.items[j], options)

    if options.ordered:
        return len(gold.items) == len(answer.items) and all(
            same(i, i) for i in range(len(gold.items))
        )
    # As sets: every gold item is answered and every answered item is in the gold, so
    # a missing or an extra item fails while a repeated one does not.
    pairs = {(i, j) for i in range(len(gold.items)) for j in range(len(answer.items)) if same(i, j)}
    return {i for i, _ in pairs} == set(range(len(gold.items))) and {j for _, j in pairs} == set(
        range(len(answer.items))
    )


def _is_finite_set(item: Any) -> bool:
    from sympy import FiniteSet

    return isinstance(item, FiniteSet)


def _is_set(item: Any) -> bool:
    from sympy import Set

    return isinstance(item, Set)


def as_interval(item: Any) -> Any | None:
    """The set an inequality chain on one variable against constants describes, else None.

    Only `x > 2`, `x \\le 3`, `2 < x < 5`, `x \\ne 1` and the like: an inequality with
    any other expression in it (`x^2 > 4`) could be the question restated.
    """
    from latex2sympy2_extended.logic import And
    from sympy import Intersection, Symbol
    from sympy.core.relational import Ge, Gt, Le, Lt, Ne

    relations = list(item._unsorted_args) if isinstance(item, And) else [item]
    if not all(isinstance(rel, (Lt, Le, Gt, Ge, Ne)) for rel in relations):
        return None
    variables: set[Any] = set()
    for rel in relations:
        sides = (rel.lhs, rel.rhs)
        variable = next((side for side in sides if isinstance(side, Symbol)), None)
        if variable is None or not all(side == variable or side.is_number for side in sides):
            return None
        variables.add(variable)
    if len(variables) != 1:
        return None
    try:
        return Intersection(*(rel.as_set() for rel in relations))
    except Exception:  # sympy declines some relations on non-real symbols; not an interval then
        return None
