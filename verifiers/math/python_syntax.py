"""Answers written in Python syntax (`-3*x**2 + 1`, `sqrt(2)*pi`, `7.5e7`), read safely.

Procedural datasets (reasoning-gym, code-adjacent sets) print their golds with sympy or
Python, and models answer in kind. sympy's `parse_expr` and `sympify` would read them,
but both call `eval`, which no namespace makes safe on untrusted text (a dunder chain
reaches `object.__subclasses__()`), and this runs in a worker outside any sandbox. So
the text goes through `ast.parse(mode="eval")` only, and the tree is walked over an
allow-list: numbers, names, arithmetic, comparisons and calls to the functions in
`FUNCTIONS`; attributes, subscripts, strings, lambdas, comprehensions, keywords and
anything else are refused. sympy objects are built with `evaluate=False`, so nothing is
computed here: `judge` checks the size of what was read before anything evaluates it.

Names follow what latex2sympy does with the same answer written in LaTeX, so both
spellings compare equal: symbols are lower-cased, `e` and `E` are Euler's number, `I`
is the imaginary unit, `pi` and `oo` are what sympy prints them as.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["MAX_PYTHON_CHARS", "NotPython", "looks_like_python", "read_python"]

MAX_PYTHON_CHARS = 2000
MAX_NODES = 1000
# Single letters with an index (x, x1, x_1, x_a) and Greek letter names are symbols;
# any other word is prose, not an answer.
_SYMBOL = re.compile(r"[A-Za-z](?:_?\d{1,3}|_[A-Za-z0-9]{1,3})?")
_GREEK = frozenset(
    [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "mu",
        "nu",
        "xi",
        "omicron",
        "rho",
        "sigma",
        "tau",
        "upsilon",
        "phi",
        "chi",
        "psi",
        "omega",
    ]
)
# What marks a text as Python rather than LaTeX or plain arithmetic: `**`, `*`, a call
# of a function in FUNCTIONS, a Python-only constant name, or a number in e-notation or
# ending in a point.
_MARKERS = re.compile(
    r"\*|\b(?:sqrt|exp|log|ln|sin|cos|tan|Abs|abs|factorial|binomial|Rational|pi|oo)\b"
    r"|\d[eE][+-]?\d|\d\.(?!\d)"
)
_LATEX = re.compile(r"[\\{}$]")


class NotPython(ValueError):
    """The text is not an allowed Python expression; the message says what is refused."""


# name in the answer -> (sympy function name, fewest arguments, most arguments).
_FUNCTION_SPECS: dict[str, tuple[str, int, int | None]] = {
    "sqrt": ("sqrt", 1, 1),
    "cbrt": ("cbrt", 1, 1),
    "root": ("root", 2, 2),
    "exp": ("exp", 1, 1),
    "log": ("log", 1, 2),
    "ln": ("log", 1, 1),
    "abs": ("Abs", 1, 1),
    "Abs": ("Abs", 1, 1),
    "factorial": ("factorial", 1, 1),
    "binomial": ("binomial", 2, 2),
    "gamma": ("gamma", 1, 1),
    "floor": ("floor", 1, 1),
    "ceiling": ("ceiling", 1, 1),
    "ceil": ("ceiling", 1, 1),
    "Rational": ("Rational", 1, 2),
    "Min": ("Min", 1, None),
    "Max": ("Max", 1, None),
    "min": ("Min", 1, None),
    "max": ("Max", 1, None),
    "atan2": ("atan2", 2, 2),
    **{name: (name, 1, 1) for name in ("sin", "cos", "tan", "cot", "sec", "csc")},
    **{name: (name, 1, 1) for name in ("sinh", "cosh", "tanh", "coth")},
    **{f"a{name}": (f"a{name}", 1, 1) for name in ("sin", "cos", "tan", "cot", "sec")},
    **{f"arc{name}": (f"a{name}", 1, 1) for name in ("sin", "cos", "tan", "cot")},
    **{f"a{name}": (f"a{name}", 1, 1) for name in ("sinh", "cosh", "tanh")},
}
FUNCTIONS = frozenset(_FUNCTION_SPECS)
_CONSTANTS = {"pi": "pi", "E": "E", "e": "E", "I": "I", "oo": "oo", "inf": "oo"}

_ALLOWED = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Call,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Eq,
    ast.NotEq,
)


def looks_like_python(text: str) -> bool:
    """Whether `text` is written in Python syntax rather than LaTeX or plain arithmetic."""
    return not _LATEX.search(text) and bool(_MARKERS.search(text))


def read_python(text: str) -> Any:
    """The sympy object `text` denotes, unevaluated; `NotPython` when it is not allowed."""
    text = text.strip()
    if len(text) > MAX_PYTHON_CHARS:
        raise NotPython(f"longer than {MAX_PYTHON_CHARS} characters")
    return _read(text)


@lru_cache(maxsize=4096)
def _read(text: str) -> Any:
    # `^` is a power in math text. As Python's xor it would bind looser than `*`, making
    # `2*x^2` read as (2x)^2; written `**` it binds as a power does (sympy's convert_xor).
    text = text.replace("^", "**")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise NotPython(f"not an expression: {getattr(exc, 'msg', exc)}") from None
    for count, node in enumerate(ast.walk(tree), 1):
        if count > MAX_NODES:
            raise NotPython(f"more than {MAX_NODES} syntax nodes")
        _check(node)
    try:
        return _Builder(text).build(tree.body)
    except RecursionError:
        raise NotPython("nested too deeply") from None


def _check(node: ast.AST) -> None:
    if not isinstance(node, _ALLOWED):
        raise NotPython(f"{type(node).__name__} is not allowed")
    if isinstance(node, ast.Constant) and (
        isinstance(node.value, bool) or not isinstance(node.value, (int, float, complex))
    ):
        raise NotPython(f"only numbers are allowed, not {node.value!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise NotPython("only functions such as sqrt, exp, log, sin may be called")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise NotPython(f"{node.func.id}() takes plain arguments only")
        _, fewest, most = _FUNCTION_SPECS[node.func.id]
        if len(node.args) < fewest or (most is not None and len(node.args) > most):
            raise NotPython(f"{node.func.id}() takes {fewest}..{most or 'any'} arguments")


class _Builder:
    """Builds the sympy object of a checked tree, evaluating nothing."""

    def __init__(self, text: str) -> None:
        import sympy
        from math_verify.grader import should_treat_as_complex

        self.text = text
        self.sympy = sympy
        # Symbols carry the assumptions latex2sympy gives the same answer in LaTeX.
        self.real = not should_treat_as_complex(text)
        self.binary: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
            ast.Add: lambda a, b: sympy.Add(a, b, evaluate=False),
            ast.Sub: lambda a, b: sympy.Add(a, sympy.Mul(-1, b, evaluate=False), evaluate=False),
            ast.Mult: lambda a, b: sympy.Mul(a, b, evaluate=False),
            ast.Div: lambda a, b: sympy.Mul(a, sympy.Pow(b, -1, evaluate=False), evaluate=False),
            ast.Pow: lambda a, b: sympy.Pow(a, b, evaluate=False),
        }
        self.compare: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
            ast.Lt: lambda a, b: sympy.Lt(a, b, evaluate=False),
            ast.LtE: lambda a, b: sympy.Le(a, b, evaluate=False),
            ast.Gt: lambda a, b: sympy.Gt(a, b, evaluate=False),
            ast.GtE: lambda a, b: sympy.Ge(a, b, evaluate=False),
            ast.Eq: lambda a, b: sympy.Eq(a, b, evaluate=False),
            ast.NotEq: lambda a, b: sympy.Ne(a, b, evaluate=False),
        }

    def build(self, node: ast.expr) -> Any:
        sympy = self.sympy
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand)
            if isinstance(node.op, ast.USub):
                if isinstance(operand, sympy.Number):
                    return -operand
                return sympy.Mul(-1, operand, evaluate=False)
            return operand
        if isinstance(node, ast.BinOp):
            return self.binary[type(node.op)](self.build(node.left), self.build(node.right))
        if isinstance(node, ast.Compare):
            left = self.build(node.left)
            relations = []
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.build(comparator)
                relations.append(self.compare[type(op)](left, right))
                left = right
            if len(relations) == 1:
                return relations[0]
            from latex2sympy2_extended.logic import And

            return And(*relations)  # the chain type latex2sympy builds, so intervals read it
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            target = _FUNCTION_SPECS[node.func.id][0]
            args = [self.build(arg) for arg in node.args]
            if target == "Rational":
                if not all(isinstance(arg, sympy.Integer) for arg in args):
                    raise NotPython("Rational() takes integers")
                return sympy.Rational(*args)
            if target in ("sqrt", "cbrt"):
                exponent = sympy.Rational(1, 2 if target == "sqrt" else 3)
                return sympy.Pow(args[0], exponent, evaluate=False)
            if target == "root":
                return sympy.Pow(args[0], sympy.Pow(args[1], -1, evaluate=False), evaluate=False)
            return getattr(sympy, target)(*args, evaluate=False)
        raise NotPython(f"{type(node).__name__} is not allowed")  # unreachable after _check

    def _number(self, node: ast.Constant) -> Any:
        sympy = self.sympy
        value = node.value
        if isinstance(value, int):
            return sympy.Integer(value)
        literal = ast.get_source_segment(self.text, node) or repr(value)
        if isinstance(value, complex):
            return sympy.Mul(self._decimal(literal.rstrip("jJ")), sympy.I, evaluate=False)
        return self._decimal(literal)

    def _decimal(self, literal: str) -> Any:
        """A float literal read from its digits, so `7.5e7` and `1e400` stay exact."""
        sympy = self.sympy
        mantissa = re.split("[eE]", literal)[0]
        digits = sum(char.isdigit() for char in mantissa)
        if "." not in literal and not re.search("[eE]", literal):
            return sympy.Integer(literal)
        return sympy.Float(literal, max(15, digits))

    def _name(self, name: str) -> Any:
        sympy = self.sympy
        if name in _CONSTANTS:
            return getattr(sympy, _CONSTANTS[name])
        if name in FUNCTIONS:
            raise NotPython(f"{name} is a function; call it")
        if not (_SYMBOL.fullmatch(name) or name.lower() in _GREEK):
            raise NotPython(f"unknown name {name!r}")
        return sympy.Symbol(name.lower(), real=True) if self.real else sympy.Symbol(name.lower())
