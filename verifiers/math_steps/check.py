"""Checking relation chains with sympy, refuting only what is surely false.

A link `a op b` is

- `verified` when both sides are closed (numbers, after putting in the values of
  variables defined earlier) and the relation holds, up to the rounding the written
  decimals show (`1/3 = 0.33` holds), or when both sides are the same expression in
  their variables (an identity, checked at several points);
- `refuted` when both sides are closed and the relation is false beyond that rounding,
  or when a chain of three or more expressions in variables (`(a+b)^2 = (a+b)(a+b) =
  a^2 + b^2`), which can only be a chain of rewrites, has a link that is no identity;
- `unchecked` otherwise: an equation in unknowns (`2x + 1 = 7` is a condition, not a
  claim), something the parser cannot read, a side a nearby word qualifies ("20% of
  50 = 10"), a number too large to evaluate.

A link `x = <closed value>` defines x for later steps when x is defined nowhere else;
a second, different value for x (cases, roots, a loop) makes x unknown again instead
of refuting anything. Ambiguous notation is read every way it can be read (a digit
before `\\frac` may be a mixed number or a product) and refuted only if every reading
fails.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rewardgate.verifiers.math.extract import nesting_depth
from rewardgate.verifiers.math.judge import MAX_NESTING
from rewardgate.verifiers.math_steps.claims import Chain

__all__ = ["Definitions", "LinkResult", "agrees", "check_chain"]

# Points at which two expressions in free variables are compared for an identity.
_PROBES = (0.7317, 1.3119, 2.1173, -0.5471, 3.7093)
_RELATIVE = 1e-9
# A side of a relation longer than this is not read (a claim is a line, not a page).
MAX_MEMBER_CHARS = 300
_DECIMAL = re.compile(r"^\s*-?\d+\.(\d+)\s*(\\%)?\s*$")
_BARE_NAME = re.compile(r"^\s*([A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?)\s*$")
_MIXED = re.compile(r"(\d)\s*(\\[dt]?frac\s*\{\s*\d+\s*\}\s*\{\s*\d+\s*\})")


@dataclass(frozen=True)
class LinkResult:
    claim: str
    status: str  # verified | refuted | unchecked | definition
    reason: str
    # An equation in unknowns, (lhs, rhs, rounding of its written decimals) as sympy read
    # them: `solving.py` follows it.
    equation: tuple[Any, Any, float] | None = field(default=None, compare=False, repr=False)


@dataclass
class Definitions:
    """Variables with one known value so far, and those seen with several."""

    values: dict[str, complex] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)

    def define(self, name: str, value: complex) -> None:
        if name in self.ambiguous:
            return
        known = self.values.get(name)
        if known is None:
            self.values[name] = value
        elif not _close(known, value, 0.0):
            del self.values[name]
            self.ambiguous.add(name)

    def forget(self, name: str) -> None:
        self.values.pop(name, None)
        self.ambiguous.add(name)


def check_chain(chain: Chain, definitions: Definitions) -> list[LinkResult]:
    """Check each link of `chain`; record the definitions it makes."""
    readings = [_readings(member) for member in chain.members]
    results = []
    defined = _BARE_NAME.match(chain.members[0])
    rewrites = (
        len(chain.members) >= 3
        and all(r and all(_symbolic(x) for x in r) for r in readings)
        and not any(_BARE_NAME.match(member) for member in chain.members)
    )
    for index, op in enumerate(chain.ops):
        claim = f"{chain.members[index]} {op} {chain.members[index + 1]}"
        if index == 0 and chain.qualified_first:
            results.append(LinkResult(claim, "unchecked", "a word before it qualifies it"))
            continue
        if index == len(chain.ops) - 1 and chain.qualified_last:
            results.append(LinkResult(claim, "unchecked", "a word after it qualifies it"))
            continue
        if index == 0 and defined is not None and op == "=":
            results.append(_define(chain, readings, defined.group(1), definitions, claim))
            continue
        results.append(
            _check_link(claim, op, readings[index : index + 2], chain, index, definitions, rewrites)
        )
    return results


def _define(
    chain: Chain,
    readings: list[list[Any]],
    name: str,
    definitions: Definitions,
    claim: str,
) -> LinkResult:
    """`x = ...`: a definition of x when some later member is a closed value."""
    symbol_name = _symbol_name(name)
    for member_readings in readings[1:]:
        values = {_value(r, definitions) for r in member_readings}
        values.discard(None)
        if len(values) == 1 and not chain.listed and not chain.qualified_last:
            from sympy import Symbol

            definitions.define(symbol_name, next(iter(values)))  # type: ignore[arg-type]
            rounding = _rounding(chain.members[1], "=")
            equation = (Symbol(symbol_name), member_readings[0], rounding)
            return LinkResult(claim, "definition", f"{symbol_name} is defined", equation)
        break
    definitions.forget(symbol_name)
    return LinkResult(claim, "definition", f"{symbol_name} is not a single known value")


def _symbol_name(name: str) -> str:
    return re.sub(r"[{}\s]", "", name)


def _symbolic(expr: Any) -> bool:
    from sympy.core.function import AppliedUndef

    return bool(expr.free_symbols) and not expr.atoms(AppliedUndef)


def _check_link(
    claim: str,
    op: str,
    sides: list[list[Any]],
    chain: Chain,
    index: int,
    definitions: Definitions,
    rewrites: bool,
) -> LinkResult:
    left, right = sides
    if not left or not right:
        return LinkResult(claim, "unchecked", "not readable")
    units = (_rounding(chain.members[index], op), _rounding(chain.members[index + 1], op))
    outcomes = []
    for lhs in left:
        for rhs in right:
            outcomes.append(_compare(lhs, rhs, op, units, definitions, rewrites))
    if "holds" in outcomes:
        kind = "identity" if "identity" in outcomes else "holds"
        return LinkResult(claim, "verified", kind)
    if "identity" in outcomes:
        return LinkResult(claim, "verified", "identity")
    if outcomes and all(outcome == "fails" for outcome in outcomes):
        return LinkResult(claim, "refuted", "false")
    if outcomes and all(outcome in ("fails", "no identity") for outcome in outcomes):
        return LinkResult(claim, "refuted", "a rewrite that is no identity")
    single = op == "=" and len(left) == len(right) == 1
    equation = (left[0], right[0], units[0] + units[1]) if single else None
    return LinkResult(claim, "unchecked", "an equation in unknowns or not evaluable", equation)


def _compare(
    lhs: Any,
    rhs: Any,
    op: str,
    units: tuple[float, float],
    definitions: Definitions,
    rewrites: bool,
) -> str:
    """One of holds, identity, fails, "no identity" (in a rewrite chain), unknown."""
    a, b = _value(lhs, definitions), _value(rhs, definitions)
    if a is not None and b is not None:
        holds = _relation(a, b, op, units)
        exact = op == "=" and not any(units) and "e" not in definitions.values
        if holds and exact and _differ_exactly(lhs, rhs):
            holds = False  # equal as floats, not as numbers: 725^4 is not 276281640626
        return "holds" if holds else "fails"
    if op != "=":
        return "unknown"
    identical = _identical(lhs, rhs, definitions)
    if identical:
        return "identity"
    return "no identity" if identical is False and rewrites else "unknown"


def _differ_exactly(lhs: Any, rhs: Any) -> bool:
    """Whether two closed exact expressions (no decimals, no variables) differ at 60 digits.

    Doubles hold 16 digits, so big integers one apart look equal to `_close`.
    """
    from sympy import Float

    try:
        if lhs.free_symbols or rhs.free_symbols or lhs.has(Float) or rhs.has(Float):
            return False
        difference = abs(complex((lhs - rhs).evalf(60)))
        scale = abs(complex(lhs.evalf(60)))
    except Exception:  # not a number sympy can evaluate: no finer verdict
        return False
    return difference > 1e-40 * max(1.0, scale)


def _relation(a: complex, b: complex, op: str, units: tuple[float, float]) -> bool:
    """Whether `a op b` holds, a side written as a decimal read as rounded to its digits."""
    tolerance = units[0] + units[1]
    if op == "=":
        return _close(a, b, 0.0) or agrees(a, b, units[1]) or agrees(b, a, units[0])
    if op == "~":  # approximations are loose: within 5%, or the rounding written
        return _close(a, b, max(tolerance, 0.05 * abs(b)))
    if op == "!=":
        return not _close(a, b, 0.0)
    if abs(a.imag) > 1e-12 or abs(b.imag) > 1e-12:
        return True  # complex numbers are not ordered: nothing to refute
    x, y = a.real, b.real
    slack = tolerance + _RELATIVE * max(1.0, abs(x), abs(y))
    return {
        "<": x < y + slack,
        "<=": x <= y + slack,
        ">": x > y - slack,
        ">=": x >= y - slack,
    }[op]


def agrees(exact: complex, written: complex, unit: float) -> bool:
    """Whether `written`, a decimal with digits down to `unit`, is `exact` rounded
    (within half a unit) or cut off (truncated towards zero, within one unit)."""
    if not unit or abs((exact - written).imag) > 1e-9:
        return False
    difference = (exact - written).real
    slack = _RELATIVE * max(1.0, abs(exact))
    if abs(difference) <= 0.5 * unit + slack:
        return True
    return -slack <= difference * math.copysign(1.0, written.real) < unit + slack


def _close(a: complex, b: complex, tolerance: float) -> bool:
    return abs(a - b) <= tolerance + _RELATIVE * max(1.0, abs(a), abs(b))


def _rounding(member: str, op: str) -> float:
    """One unit of a written decimal's last digit (0 for what is not a decimal)."""
    match = _DECIMAL.match(member)
    if match is None:
        return 1.0 if op == "~" and re.fullmatch(r"\s*-?\d+\s*", member) else 0.0
    unit = 10.0 ** -len(match.group(1))
    return unit / 100 if match.group(2) else unit


def _value(expr: Any, definitions: Definitions) -> complex | None:
    """The number `expr` stands for with the known definitions put in, else None."""
    from sympy import E
    from sympy.core.function import AppliedUndef

    from rewardgate.verifiers.math.parse import is_too_large

    try:
        if expr.atoms(AppliedUndef):
            return None
        subs: dict[Any, Any] = {}
        for symbol in expr.free_symbols:
            name = _symbol_name(symbol.name)  # `a_{10}` and `a_10` are one variable
            if name not in definitions.values:
                return None
            subs[symbol] = definitions.values[name]
        if "e" in definitions.values:
            subs[E] = definitions.values["e"]
        if subs:
            expr = expr.xreplace(subs)
        if is_too_large(expr):
            return None
        value = complex(expr.evalf(30))
    except Exception:  # sympy refuses some objects (sets, matrices, relations): not a number
        return None
    if not (math.isfinite(value.real) and math.isfinite(value.imag)):
        return None
    return value


def _identical(lhs: Any, rhs: Any, definitions: Definitions) -> bool | None:
    """Whether lhs - rhs vanishes at every probe point; None if it cannot be evaluated."""

    try:
        difference = lhs - rhs
        free = sorted(difference.free_symbols, key=lambda s: s.name)
        if not free:
            return None
        known = {
            symbol: definitions.values[_symbol_name(symbol.name)]
            for symbol in free
            if _symbol_name(symbol.name) in definitions.values
        }
        for offset, probe in enumerate(_PROBES):
            point = {
                symbol: known.get(symbol, _PROBES[(offset + i) % len(_PROBES)] * probe)
                for i, symbol in enumerate(free)
            }
            value = complex(difference.xreplace(point).evalf(30))
            if not abs(value) <= 1e-9 * max(1.0, abs(complex(lhs.xreplace(point).evalf(30)))):
                return False
        return True
    except Exception:  # what sympy cannot evaluate at a point shows nothing either way
        return None


def _readings(member: str) -> list[Any]:
    """Every sympy reading of a member (two for `2\\frac{1}{2}`), none if unreadable."""
    texts = [member]
    if _MIXED.search(member):
        texts.append(_MIXED.sub(r"\1 \\cdot \2", member))
    readings = []
    for text in texts:
        parsed = _parse(text)
        if parsed is not None:
            readings.append(parsed)
    return readings


@lru_cache(maxsize=4096)
def _parse(text: str) -> Any | None:
    """latex2sympy's reading of one member, or None; no `eval` of model text anywhere."""
    from latex2sympy2_extended import latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig
    from latex2sympy2_extended.math_normalization import NormalizationConfig
    from sympy import Basic, Symbol

    text = text.strip().rstrip(".,;:").strip()
    if len(text) > MAX_MEMBER_CHARS or nesting_depth(text) > MAX_NESTING:
        return None  # parsing time grows steeply with size and depth; no claim is this big
    if not text or re.search(
        r"\\pm|\\mp|\\in(?![a-z])|\\subset|\\cup|\\cap|\\mid|\.\.\.|\\ldots|\\cdots", text
    ):
        return None
    if re.search(r"\d\s+\d", text):
        return None  # "3 4": a product, a sum or a typo; latex2sympy guesses
    bare = _BARE_NAME.match(text)
    if bare is not None:
        return Symbol(_symbol_name(bare.group(1)))
    # latex2sympy reads a number before parentheses as a sum (3(4) -> 7): make it a product.
    text = re.sub(r"(\d|\))\s*(?=\()", r"\1 \\cdot ", text)
    try:
        parsed = latex2sympy(
            text,
            normalization_config=NormalizationConfig(
                basic_latex=True,
                units=False,
                malformed_operators=False,
                nits=False,
                boxed="all",
                equations=False,
            ),
            conversion_config=ConversionConfig(
                interpret_as_mixed_fractions=True,
                interpret_simple_eq_as_assignment=False,
                interpret_contains_as_eq=False,
                lowercase_symbols=False,
            ),
        )
    except Exception:  # the parser raises plain Exceptions for what it cannot read
        return None
    return parsed if isinstance(parsed, Basic) and not parsed.is_Relational else None
