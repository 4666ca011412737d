"""Arithmetic over child rewards, evaluated without `eval`.

A spec's `formula` comes from a request, so it is parsed with `ast` and walked over an
allow-list: numbers, child names, `+ - * / // % **`, unary `-`/`+`/`not`,
comparisons (true is 1.0), `and`/`or`, `x if cond else y` and the functions in
`FUNCTIONS`. Every number is a float, so `9**9**9` overflows at once instead of
building a huge integer. Anything else (attributes, subscripts, lambdas, strings) is
refused when the spec is prepared, so a bad formula is an invalid request.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

__all__ = ["FUNCTIONS", "MAX_FORMULA_CHARS", "Formula", "FormulaError"]

MAX_FORMULA_CHARS = 2000


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _log(value: float, base: float = math.e) -> float:
    return math.log(value, base)


def _round(value: float, digits: float = 0) -> float:
    return float(round(value, int(digits)))


# name -> (function, fewest arguments, most arguments; None = any number)
FUNCTIONS: dict[str, tuple[Callable[..., float], int, int | None]] = {
    "min": (min, 1, None),
    "max": (max, 1, None),
    "abs": (abs, 1, 1),
    "clip": (_clip, 3, 3),
    "sqrt": (math.sqrt, 1, 1),
    "exp": (math.exp, 1, 1),
    "log": (_log, 1, 2),
    "floor": (lambda x: float(math.floor(x)), 1, 1),
    "ceil": (lambda x: float(math.ceil(x)), 1, 1),
    "round": (_round, 1, 2),
}

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: float(a // b),
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: float(a**b),
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: a,
    ast.Not: lambda a: float(not a),
}
_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


class FormulaError(ValueError):
    """The formula is not allowed, or it cannot be evaluated on these values."""


@dataclass(frozen=True)
class Formula:
    """A checked formula; `evaluate` maps child scores to one float."""

    text: str
    tree: ast.Expression

    @classmethod
    def compile(cls, text: str, names: Collection[str]) -> Formula:
        """Parse and check `text`; every name must be one of `names` (or a function call)."""
        if len(text) > MAX_FORMULA_CHARS:
            raise FormulaError(f"longer than {MAX_FORMULA_CHARS} characters")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise FormulaError(f"not an expression: {getattr(exc, 'msg', exc)}") from None
        for node in ast.walk(tree):
            _check(node, names)
        return cls(text, tree)

    def evaluate(self, values: Mapping[str, float]) -> float:
        try:
            result = _eval(self.tree.body, values)
        except (ArithmeticError, ValueError) as exc:
            raise FormulaError(f"{self.text!r} cannot be evaluated here: {exc}") from None
        if not math.isfinite(result):
            raise FormulaError(f"{self.text!r} is {result} here")
        return result


_ALLOWED = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    *_BINARY,
    *_UNARY,
    *_COMPARE,
)


def _check(node: ast.AST, names: Collection[str]) -> None:
    if not isinstance(node, _ALLOWED):
        raise FormulaError(f"{type(node).__name__} is not allowed")
    if isinstance(node, ast.Constant) and (
        isinstance(node.value, bool) or not isinstance(node.value, (int, float))
    ):
        raise FormulaError(f"only numbers are allowed, not {node.value!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise FormulaError(f"only the functions {', '.join(FUNCTIONS)} may be called")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise FormulaError(f"{node.func.id}() takes plain arguments only")
        _, fewest, most = FUNCTIONS[node.func.id]
        if len(node.args) < fewest or (most is not None and len(node.args) > most):
            raise FormulaError(f"{node.func.id}() takes {fewest}..{most or 'any'} arguments")
    elif isinstance(node, ast.Name) and node.id not in names and node.id not in FUNCTIONS:
        raise FormulaError(f"unknown name {node.id!r}; children are {', '.join(sorted(names))}")


def _eval(node: ast.expr, values: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)  # type: ignore[arg-type]  # numbers only, see _check
    if isinstance(node, ast.Name):
        return float(values[node.id])
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, values))
    if isinstance(node, ast.BoolOp):
        result = 0.0
        for operand in node.values:
            result = _eval(operand, values)
            if bool(result) == isinstance(node.op, ast.Or):
                break
        return result
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, values)
            if not _COMPARE[type(op)](left, right):
                return 0.0
            left = right
        return 1.0
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, values) else node.orelse
        return _eval(branch, values)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        function = FUNCTIONS[node.func.id][0]
        return float(function(*(_eval(arg, values) for arg in node.args)))
    raise FormulaError(f"{type(node).__name__} is not allowed")  # unreachable after _check
