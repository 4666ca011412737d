"""Deciding equivalence of a parsed answer with the gold through math-verify's `verify`.

Each (gold, answer) pair is compared on its own so `details` can name the pair that
matched. Beyond math-verify we read a predicted inequality in one variable as the
interval it describes when the gold is a set; math-verify does this only the other way
round, and its general switch (`allow_set_relation_comp`) also lets a restated equation
such as `x^2 = 1` match its roots {-1, 1}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rewardgate.verifiers.math.models import MathOptions

__all__ = ["Match", "equivalent", "find_match"]

Match = tuple[Any, Any, str]


def equivalent(gold: Any, answer: Any, options: MathOptions) -> bool:
    """math-verify's verdict on one pair, its own timeout off (the engine's deadline rules)."""
    from math_verify import verify

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


def find_match(golds: Sequence[Any], answers: Sequence[Any], options: MathOptions) -> Match | None:
    """The first (gold, answer, rule) pair found equivalent, or None."""
    for gold in golds:
        for answer in answers:
            if equivalent(gold, answer, options):
                return gold, answer, "equivalent"
            if options.inequality_intervals:
                interval = _as_interval(answer) if _is_set(gold) else None
                if interval is not None and equivalent(gold, interval, options):
                    return gold, answer, "inequality_as_interval"
    return None


def _is_set(item: Any) -> bool:
    from sympy import Set

    return isinstance(item, Set)


def _as_interval(item: Any) -> Any | None:
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
