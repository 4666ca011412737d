"""math-verify's `parse`, called without its signal-based timeout, plus our readings.

The engine runs `judge` in a worker it kills at the item's deadline, so math-verify's
own timeouts are switched off: they use `signal.alarm` (broken outside the main thread)
and report a timeout as "no answer", which would be a silent wrong verdict. What the
deadline cannot save us from cheaply, answers built to be expensive (`9^{9^{9^9}}`,
`10^9!`), is refused here before anything evaluates them.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rewardgate.verifiers.math.answers import Reading
    from rewardgate.verifiers.math.models import ExtractionTarget, MathOptions

__all__ = [
    "Extraction",
    "is_too_large",
    "parse_answer",
    "read_gold",
    "read_imaginary_unit",
    "with_imaginary_unit",
]

# Numbers with more digits than this are refused: sympy computes them exactly.
MAX_DIGITS = 10_000
# Sums and products over more terms than this are refused: sympy may expand them.
MAX_TERMS = 10_000
_DELIMITED = re.compile(r"(?<!\\)\$|\\[(\[]|\\boxed|\\fbox")
_BARE_NUMBER = re.compile(r"\s*[+-]?[\d.,\s]*\d[\d.,\s]*%?\s*")


@dataclass(frozen=True)
class Extraction:
    """The options that change what `parse` returns (the gold cache's key)."""

    targets: tuple[ExtractionTarget, ...]
    boxed_match_priority: int
    try_extract_without_anchor: bool
    imaginary_unit: bool

    @classmethod
    def of(cls, options: MathOptions) -> Extraction:
        return cls(
            options.extraction,
            options.boxed_match_priority,
            options.try_extract_without_anchor,
            options.imaginary_unit,
        )


class _TimeoutOffNotice(logging.Filter):
    """Drops math-verify's warning that its timeouts are off: the engine's deadline rules."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


@lru_cache(maxsize=1)
def _silence_timeout_notice() -> None:
    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).addFilter(_TimeoutOffNotice())


@lru_cache(maxsize=8)
def _configs(extraction: Extraction) -> tuple[Any, ...]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig

    _silence_timeout_notice()
    anchorless = extraction.try_extract_without_anchor
    configs = {
        "latex": LatexExtractionConfig(
            try_extract_without_anchor=anchorless,
            boxed_match_priority=extraction.boxed_match_priority,
        ),
        "expr": ExprExtractionConfig(try_extract_without_anchor=anchorless),
        "string": StringExtractionConfig(try_extract_without_anchor=anchorless),
    }
    return tuple(configs[target] for target in extraction.targets)


def parse_answer(text: str, extraction: Extraction) -> tuple[Any, ...]:
    """math-verify's reading of `text`: sympy objects, then the extracted string.

    Nothing is evaluated yet; check `is_too_large` before `read_imaginary_unit`, which
    may evaluate.
    """
    from math_verify import parse

    return tuple(parse(text, _configs(extraction), parsing_timeout=None))


def read_imaginary_unit(items: tuple[Any, ...], extraction: Extraction) -> tuple[Any, ...]:
    """The items with a free `i` read as sqrt(-1); latex2sympy leaves it a plain symbol."""
    if not extraction.imaginary_unit:
        return items
    return tuple(_with_imaginary_unit(item) for item in items)


@lru_cache(maxsize=4096)
def read_gold(answer: str, extraction: Extraction, decimal_comma: bool) -> Reading:
    """The gold's reading, whole, once per process for a GRPO group sharing it.

    A gold in a box is its (last) box's content. A gold the whole-answer reader cannot
    read (prose around the math, an unusual LaTeX construct) is read by math-verify as
    before, boxed first when it has no math delimiters, since math-verify would otherwise
    pick the last number out of it; but never a Python-style gold math-verify would cut
    into numbers, and never an ambiguous list of numbers: those are invalid requests.
    """
    from rewardgate.verifiers.errors import InvalidRequest
    from rewardgate.verifiers.math.answers import Reading, Unreadable, read_whole, unwrap
    from rewardgate.verifiers.math.extract import find_boxes, group_boxes
    from rewardgate.verifiers.math.numbers import Ambiguous
    from rewardgate.verifiers.math.python_syntax import looks_like_python

    boxes = find_boxes(answer)
    text = group_boxes(answer, boxes)[-1].text if boxes else answer
    try:
        reading = read_whole(text, decimal_comma)
    except Ambiguous as exc:
        raise InvalidRequest(
            f"reference.answer is ambiguous: {exc}; write the list with spaces after its "
            "commas, or set options.decimal_comma"
        ) from None
    except Unreadable as exc:
        if looks_like_python(unwrap(text)):
            raise InvalidRequest(f"reference.answer: cannot read {text!r}: {exc}") from None
        if not _DELIMITED.search(answer) and not _BARE_NUMBER.fullmatch(answer):
            answer = f"\\boxed{{{answer}}}"
        parsed = parse_answer(answer, extraction)
        if not parsed:
            raise InvalidRequest(
                f"reference.answer: math-verify finds no answer in {answer!r}"
            ) from None
        reading = Reading(answer, parsed[0], ("math_verify",), alternatives=parsed[1:])
    return with_imaginary_unit(reading, extraction)


def with_imaginary_unit(reading: Reading, extraction: Extraction) -> Reading:
    """The reading with a free `i` read as sqrt(-1), when the option asks for it."""
    if not extraction.imaginary_unit:
        return reading
    return reading.mapped(_with_imaginary_unit)


def _with_imaginary_unit(item: Any) -> Any:
    from sympy import Basic, I, MatrixBase

    if not isinstance(item, (Basic, MatrixBase)):
        return item
    units = {symbol: I for symbol in item.free_symbols if getattr(symbol, "name", None) == "i"}
    if not units:
        return item
    try:
        return item.subs(units)
    except Exception:  # sympy cannot substitute into some containers; keep the symbol then
        return item


def is_too_large(item: Any) -> bool:
    """Whether evaluating `item` would build a number or a sum beyond our limits."""
    from sympy import Basic, Pow, Product, Sum, binomial, exp, postorder_traversal
    from sympy.functions.combinatorial.factorials import (
        FallingFactorial,
        RisingFactorial,
        factorial,
        factorial2,
        subfactorial,
    )
    from sympy.functions.special.gamma_functions import gamma

    if not isinstance(item, Basic):
        return False
    factorials = (factorial, factorial2, subfactorial, gamma, RisingFactorial, FallingFactorial)
    for node in postorder_traversal(item):
        if isinstance(node, Pow) and node.base.is_number and node.exp.is_number:
            digits = _magnitude(node.exp) * _log10(_magnitude(node.base))
        elif isinstance(node, exp) and node.args[0].is_number:
            digits = _magnitude(node.args[0]) * math.log10(math.e)
        elif isinstance(node, factorials) and node.args[0].is_number:
            digits = math.lgamma(_magnitude(node.args[0]) + 1) / math.log(10)
        elif isinstance(node, binomial) and all(arg.is_number for arg in node.args):
            n, k = (_magnitude(arg) for arg in node.args)
            digits = min(k, max(n - k, 0.0)) * _log10(n)
        elif isinstance(node, (Sum, Product)):
            if _terms(node.limits) > MAX_TERMS:
                return True
            continue
        else:
            continue
        if not digits <= MAX_DIGITS:  # also true for nan
            return True
    return False


def _magnitude(number: Any) -> float:
    """|number| as a float; inf when beyond floats or unsizeable, which refuses the answer.

    Evaluating is safe here: postorder traversal has checked the children already.
    """
    try:
        return abs(complex(number.evalf(15)))
    except Exception:
        return math.inf


def _log10(magnitude: float) -> float:
    """Digits gained per power: |log10|, so (1/2)^(10^10) counts as huge too."""
    return abs(math.log10(magnitude)) if magnitude > 0 else 0.0


def _terms(limits: Sequence[tuple[Any, ...]]) -> float:
    """Terms a sum or product with numeric bounds would expand to.

    Infinite and symbolic bounds (`\\sum_{k=0}^{n-1}`) count as one term: sympy keeps
    such sums symbolic instead of expanding them, so they bound no work.
    """
    total = 1.0
    for limit in limits:
        numeric = len(limit) == 3 and limit[1].is_number and limit[2].is_number
        if numeric and limit[1].is_finite and limit[2].is_finite:
            total *= _magnitude(limit[2] - limit[1]) + 1
    return total
