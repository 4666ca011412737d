"""A model's expression: found in its text, read safely, sized, evaluated on data.

Python syntax goes through `math.python_syntax.read_python` (an `ast` allow-list that
builds unevaluated sympy objects; model text never reaches `eval`, `sympify` or
`parse_expr`), LaTeX through `math.answers.read_whole`. The tree is sized before
anything evaluates it. Evaluation turns every exact number into a float first (so
`10**10**9` is an overflow, not a billion-digit integer), lambdifies with numpy and
runs under `errstate(all="ignore")`; an overflow, a division by zero, a complex or
otherwise non-finite value is reported as such, never passed on as NaN.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "Unusable",
    "evaluate",
    "find",
    "numerically_constant",
    "read",
    "recovered",
    "tree_size",
]

MAX_NODES = 300
MAX_CHARS = 2000
MAX_DEPTH = 30
_LHS = re.compile(r"^\s*(?:[A-Za-z]\w{0,8}\s*(?:\([^()=]{0,60}\))?|\\hat\{y\})\s*=(?!=)")
_LATEX = re.compile(r"[\\{}]")


class Unusable(ValueError):
    """The response gives no expression that can be scored; the message says why."""


def find(response: str) -> str:
    """The expression text: the last `<answer>`, else the last box, else the last line."""
    from rewardgate.verifiers.qa.tags import answer_tags

    tags = answer_tags(response)
    if tags:
        text = tags[-1]
    else:
        from rewardgate.verifiers.math.extract import find_boxes

        boxes = find_boxes(response)
        lines = [line for line in response.strip().splitlines() if line.strip()]
        text = boxes[-1].content if boxes else (lines[-1] if lines else "")
    text = text.strip().strip("$").strip()
    return _LHS.sub("", text, count=1).strip().rstrip(".").strip()


def read(text: str) -> Any:
    """The sympy expression `text` denotes, or `Unusable`."""
    import sympy

    from rewardgate.verifiers.math.answers import Unreadable, read_whole
    from rewardgate.verifiers.math.extract import nesting_depth
    from rewardgate.verifiers.math.numbers import Ambiguous
    from rewardgate.verifiers.math.python_syntax import NotPython, read_python

    if not text:
        raise Unusable("no expression")
    if len(text) > MAX_CHARS:
        raise Unusable(f"longer than {MAX_CHARS} characters")
    if nesting_depth(text) > MAX_DEPTH:
        raise Unusable(f"brackets nested deeper than {MAX_DEPTH}")
    # `^` is a power in math text; replaced before parsing (as sympy's convert_xor does),
    # since Python's `^` binds looser than `*` and `2*x^2` would read as (2*x)**2.
    readers = [lambda t: read_python(t.replace("^", "**")), lambda t: read_whole(t).value]
    if _LATEX.search(text):
        readers.reverse()
    value, why = None, "no expression"
    for reader in readers:  # Python syntax first, else LaTeX / plain math (`2x^2`)
        try:
            value = reader(text)
            break
        except (NotPython, Unreadable, Ambiguous) as exc:
            why = str(exc)
        except Exception as exc:  # the LaTeX parser fails in many ways on hostile text
            why = type(exc).__name__
    if value is None:
        raise Unusable(f"unreadable: {why}")
    if not isinstance(value, sympy.Expr):
        raise Unusable("not a single expression (an equation, set or list)")
    return value


def tree_size(expr: Any) -> int:
    """Nodes of the expression tree (symbols, numbers and operations), counted up to a cap."""
    import sympy

    count = 0
    for _ in sympy.preorder_traversal(expr):
        count += 1
        if count > MAX_NODES:
            break
    return count


def _floated(expr: Any) -> Any:
    import sympy

    numbers = {n: sympy.Float(n) for n in expr.atoms(sympy.Rational) if not n.is_Integer}
    numbers.update({n: sympy.Float(n) for n in expr.atoms(sympy.Integer) if abs(n) > 2**53})
    floated = expr.xreplace(numbers) if numbers else expr
    # Integer powers evaluate in Python ints; a float base keeps them in floats.
    powers = {
        p: sympy.Pow(sympy.Float(p.base), p.exp, evaluate=False)
        for p in floated.atoms(sympy.Pow)
        if p.base.is_Integer and p.exp.is_Number
    }
    return floated.xreplace(powers) if powers else floated


def evaluate(expr: Any, columns: dict[str, Any], rows: int) -> Any:
    """Predictions on the data (a float array), or `Unusable` naming what went wrong."""
    import numpy as np
    import sympy

    symbols = sorted(expr.free_symbols, key=str)
    names = [str(s) for s in symbols]
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise Unusable(f"unknown variables: {', '.join(unknown[:5])}")
    try:
        # docstring_limit=0: no docstring, which would print the whole expression again
        function = sympy.lambdify(symbols, _floated(expr), modules="numpy", docstring_limit=0)
        with np.errstate(all="ignore"):
            values = function(*(columns[n] for n in names))
            predicted = np.broadcast_to(np.asarray(values), (rows,))
    except (ArithmeticError, ValueError, TypeError, NameError, AttributeError) as exc:
        raise Unusable(f"cannot evaluate: {type(exc).__name__}") from None
    if np.iscomplexobj(predicted):
        if np.any(predicted.imag != 0):
            raise Unusable("complex values")
        predicted = predicted.real
    try:
        predicted = predicted.astype(float)
    except (TypeError, ValueError, OverflowError):
        raise Unusable("not a number") from None
    if not np.all(np.isfinite(predicted)):
        raise Unusable("non-finite values (overflow, division by zero or out of domain)")
    return predicted


def numerically_constant(mine: Any, true: Any) -> bool:
    """Whether the difference or the ratio of two prediction arrays is (nearly) constant.

    A cheap necessary condition for `recovered`: simplify, which can take long on a large
    expression, runs only for answers that pass it.
    """
    import numpy as np

    scale = max(1.0, float(np.max(np.abs(true))))
    difference = mine - true
    if float(np.ptp(difference)) <= 1e-6 * scale:
        return True
    nonzero = np.abs(true) > 1e-12
    if not np.any(nonzero):
        return False
    ratio = mine[nonzero] / true[nonzero]
    return bool(np.all(np.isfinite(ratio))) and float(np.ptp(ratio)) <= 1e-6 * max(
        1.0, float(np.max(np.abs(ratio)))
    )


def recovered(candidate: Any, target: Any) -> bool:
    """SRBench's symbolic solution: the difference, or the ratio, of the two is a constant."""
    import sympy

    plain = {s: sympy.Symbol(str(s)) for s in candidate.free_symbols | target.free_symbols}
    a, b = candidate.xreplace(plain), target.xreplace(plain)
    try:
        difference = sympy.simplify(a - b)
        if not difference.free_symbols:
            return True
        if b == 0:
            return False
        ratio = sympy.simplify(a / b)
        return not ratio.free_symbols and ratio != 0
    except Exception:  # sympy's simplify raises a zoo of errors on odd input
        return False
