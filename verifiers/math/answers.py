"""Reading one answer text whole: a gold, a box's content, a response that is only an answer.

math-verify finds answers inside prose, and when it cannot convert what it found it
falls back to smaller matches: the last number of `-111888*x**9 + ... - 197784*x`, the
`\\frac{1}{2}` of `\\frac{1}{2}ab`. Compared against a gold read the same way, two
fragments match and a wrong answer is paid. Here a text is read as the whole
expression it is, or not at all (`Unreadable`); `Reading.rules` names every rule beyond
plain LaTeX that the reading needed, for `details`.

Readers, in order: numbers with commas and spaces (`numbers.py`: lists, thousands,
decimal commas), a list split at top-level commas (items may carry labels, `b = -3`),
a set-builder set (`\\{x \\mid -2 \\le x < 1\\}`), Python syntax (`python_syntax.py`),
then LaTeX through latex2sympy with math-verify's normalisation (units, `\\text`,
degrees), never its fragment fallbacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from rewardgate.verifiers.math.numbers import read_numbers
from rewardgate.verifiers.math.python_syntax import NotPython, looks_like_python, read_python

__all__ = ["MAX_ITEMS", "Reading", "Unreadable", "read_whole", "split_items", "unwrap"]

MAX_ITEMS = 64
_OUTER = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_BRACKETS = {"(": ")", "[": "]", "{": "}"}
_SYMBOL = r"[A-Za-z](?:_\{?\w{1,3}\}?|\d{1,2})?"
_LABEL = re.compile(
    rf"\s*({_SYMBOL}|\(\s*{_SYMBOL}(?:\s*,\s*{_SYMBOL})+\s*\))\s*=(?!=)\s*(.+)", re.DOTALL
)
_SET_BUILDER = re.compile(
    r"\\\{\s*([A-Za-z])\s*(?:\\in\s*\\mathbb\s*\{?R\}?\s*)?(?:\\mid|\\vert|\||:|\\colon)\s*"
    r"(.+?)\s*\\\}",
    re.DOTALL,
)
_UNICODE = {"\u2212": "-", "\u00b0": "^\\circ", "\u00d7": "\\times ", "\u00b7": "\\cdot "}
_DEGREES = re.compile(r"\\degree\b|\^\s*\{\s*\\circ\s*\}|\^\s*\\circ\b")
_UNIT_START = re.compile(r"\s|\\(?:text|mathrm|mbox|,|;|:|!|\s)|~")
_SPACING = re.compile(r"\\(?:quad|qquad|[,;:! ])")
# sympy prints `\\operatorname{atan}`: the LaTeX reader knows `\\arctan`.
_OPERATOR_NAME = re.compile(r"\\operatorname\s*\{\s*([A-Za-z]+)\s*\}")
_OPERATORS = {"atan": "arctan", "asin": "arcsin", "acos": "arccos", "acot": "arccot"}
_NEGATIVE_SPACE = re.compile(r"\\!\s*")
_SEMICOLON = re.compile(r";")
_WORD_JOIN = r"(?:\\(?:quad|qquad)\s*)*(?:\\text\s*\{\s*(?:and|or)\s*\}|\b(?:and|or)\b)"
_ITEM_SEPARATOR = re.compile(rf",|\s*{_WORD_JOIN}\s*(?:\\(?:quad|qquad)\s*)*")
_INNER_DOLLAR = re.compile(r"(?<!\\)\$")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_THOUSANDS_BEFORE = re.compile(r"(?:^|[^\d.,])\d{1,3}(?:,\d{3})*$")
_THOUSANDS_AFTER = re.compile(r"\d{3}(?:\.\d+)?(?![\d.])")
_CURRENCY = re.compile(r"^(?:\\\$|\$|€|£|¥|\\euro\s*|\\pounds\s*)\s*(?=[\d.+-])")


class Unreadable(ValueError):
    """The text is not one whole answer this module can read; the message says why."""


@dataclass(frozen=True)
class Reading:
    """An answer read whole.

    `value` is the one sympy object (a bare list reads as the set math-verify makes of
    it); `items` are the written elements of a list, tuple or set (`1, 3, 5`,
    `(1, 3)`, `\\{1, 3\\}`), each read whole, with `labels` where items were written
    `b = -3`; `bare_list` marks a comma list without brackets, which a gold compares
    element by element.
    """

    text: str
    value: Any
    rules: tuple[str, ...] = ()
    items: tuple[Any, ...] | None = None
    labels: tuple[str | None, ...] | None = None
    bare_list: bool = False
    alternatives: tuple[Any, ...] = ()

    def mapped(self, function: Any) -> Reading:
        """The reading with `function` applied to every sympy object in it."""
        items = None if self.items is None else tuple(function(i) for i in self.items)
        return replace(
            self,
            value=function(self.value),
            items=items,
            alternatives=tuple(function(a) for a in self.alternatives),
        )

    @property
    def objects(self) -> tuple[Any, ...]:
        """Everything read, for size checks: the value, the items and the alternatives."""
        return (self.value, *(self.items or ()), *self.alternatives)


def unwrap(text: str) -> str:
    """The text without outer math delimiters, one enclosing box and a final period."""
    text = _NEGATIVE_SPACE.sub("", text.strip())
    text = _OPERATOR_NAME.sub(lambda m: "\\" + _OPERATORS.get(m.group(1), m.group(1)), text)
    for char, replacement in _UNICODE.items():
        text = text.replace(char, replacement)
    changed = True
    while changed:
        changed = False
        for opener, closer in _OUTER:
            if len(text) > len(opener) + len(closer) and text.startswith(opener):
                inside = text[len(opener) : -len(closer)]
                if text.endswith(closer) and (opener[-1] != "$" or "$" not in inside):
                    text, changed = inside.strip(), True
        box = _BOXED.match(text)
        if box and _closing(text, box.end() - 1) == len(text) - 1:
            text, changed = text[box.end() : -1].strip(), True
        if text.endswith(".") and not re.search(r"\d\.$", text):
            text, changed = text[:-1].strip(), True
        currency = _CURRENCY.match(text)
        if currency:
            text, changed = text[currency.end() :], True
    # `$21,16$ or $11$`: dollar signs left inside only delimit math; `16$`: a currency.
    return _INNER_DOLLAR.sub("", text).strip()


def read_whole(text: str, decimal_comma: bool = False) -> Reading:
    """The whole `text` as one answer.

    Raises `Unreadable` when it is not one, and `numbers.Ambiguous` when the number
    rules give it two readings.
    """
    return _read_whole(unwrap(text), decimal_comma)


@lru_cache(maxsize=4096)
def _read_whole(text: str, decimal_comma: bool) -> Reading:
    if not text:
        raise Unreadable("empty")
    numbers = read_numbers(text, decimal_comma)
    if numbers is not None:
        values = tuple(_number(n) for n in numbers.numbers)
        if len(values) == 1:
            return Reading(text, values[0], numbers.rules)
        return _list(text, values, (None,) * len(values), numbers.rules, bare=True)
    parts = split_items(text)
    if len(parts) > 1:
        return _read_list(text, parts, decimal_comma, bare=True)
    inner = _bracketed(text)
    if inner is not None and len(split_items(inner)) > 1:
        listed = _read_list(text, split_items(inner), decimal_comma, bare=False)
        return replace(listed, value=_single(text)[0], rules=listed.rules[:-1])
    value, rules = _single(text)
    if "plus_minus" in rules:
        items = tuple(value.args)
        return Reading(text, value, rules, items, (None,) * len(items), bare_list=True)
    return Reading(text, value, rules)


def _read_list(text: str, parts: list[str], decimal_comma: bool, bare: bool) -> Reading:
    if len(parts) > MAX_ITEMS:
        raise Unreadable(f"more than {MAX_ITEMS} items")
    values: list[Any] = []
    labels: list[str | None] = []
    rules: list[str] = []
    for part in parts:
        label, body = _label(_SPACING.sub(" ", part).strip())
        item = _read_whole(unwrap(body), decimal_comma)
        rules.extend(item.rules)
        if item.bare_list and "plus_minus" in item.rules:
            values.extend(item.items or ())
            labels.extend([label] * len(item.items or ()))
        elif item.bare_list:
            # `p=5,q=2; p=7,q=2`: a group between semicolons is one tuple.
            from sympy import Tuple

            values.append(Tuple(*(item.items or ())))
            labels.append(label)
        else:
            values.append(item.value)
            labels.append(label)
    if any(labels):
        rules.append("labels")
    return _list(text, tuple(values), tuple(labels), tuple(rules), bare)


def _list(
    text: str,
    values: tuple[Any, ...],
    labels: tuple[str | None, ...],
    rules: tuple[str, ...],
    bare: bool,
) -> Reading:
    from latex2sympy2_extended.sets import FiniteSet

    rules = tuple(dict.fromkeys((*rules, "list")))
    return Reading(text, FiniteSet(*values), rules, values, labels, bare_list=bare)


def _label(part: str) -> tuple[str | None, str]:
    """`b = -3` -> ("b", "-3"); a part without a one-symbol label is all body."""
    match = _LABEL.fullmatch(part)
    if match and "=" not in match.group(2):
        return re.sub(r"[{}\s]", "", match.group(1)).lower(), match.group(2)
    return None, part


def _single(text: str) -> tuple[Any, tuple[str, ...]]:
    """One expression: a set-builder set, Python syntax, or LaTeX, read whole."""
    builder = _SET_BUILDER.fullmatch(text)
    if builder:
        return _set_builder(builder.group(1), builder.group(2)), ("set_builder",)
    if looks_like_python(text):
        try:
            return read_python(text), ("python_syntax",)
        except NotPython as exc:
            if "*" in text and "\\" not in text:
                raise Unreadable(f"Python syntax: {exc}") from None
    rules = ("degrees",) if _DEGREES.search(text) else ()
    value = _labelled_plus_minus(text, _latex(text))
    if _plus_minus(text, value):
        rules = (*rules, "plus_minus")
    return value, rules


def _plus_minus(text: str, value: Any) -> bool:
    from latex2sympy2_extended.sets import FiniteSet

    return isinstance(value, FiniteSet) and ("\\pm" in text or "\u00b1" in text)


def _labelled_plus_minus(text: str, value: Any) -> Any:
    """`x = \\pm 2` is the list -2, 2: the value of the equation's right side."""
    from sympy import Eq, Symbol

    if isinstance(value, Eq) and isinstance(value.lhs, Symbol) and _plus_minus(text, value.rhs):
        return value.rhs
    return value


def _set_builder(variable: str, condition: str) -> Any:
    """The interval a set-builder condition on one variable describes."""
    from rewardgate.verifiers.math.compare import as_interval

    relation = _latex(condition)
    interval = as_interval(relation)
    if interval is None:
        raise Unreadable(f"set-builder condition {condition!r} is not an interval")
    if {s.name for s in relation.free_symbols} != {variable.lower()}:
        raise Unreadable(f"set-builder condition is not on {variable}")
    return interval


def _number(text: str) -> Any:
    from sympy import Float, Integer

    return Float(text, max(15, len(text))) if "." in text else Integer(text)


@lru_cache(maxsize=2)
def _normalization(units: bool) -> Any:
    from math_verify import LatexExtractionConfig

    return replace(LatexExtractionConfig().normalization_config, boxed="last", units=units)


def _normalize(text: str) -> str:
    """math-verify's normalisation, but units are removed only where they stand apart.

    Its unit remover also eats letters glued to a number (`2ab` -> `2`,
    `\\frac{1}{2}ab` -> `\\frac{1}{2}`): that would read a fragment. A unit counts only
    after a space or as `\\text{...}`, `\\mathrm{...}` at the end.
    """
    from latex2sympy2_extended.latex2sympy2 import normalize_latex

    kept = normalize_latex(text, config=_normalization(False))
    stripped = normalize_latex(text, config=_normalization(True))
    if stripped == kept:
        return kept
    head = stripped.rstrip()
    if kept.startswith(head) and _UNIT_START.match(kept, len(head)):
        return stripped
    return kept


def _latex(text: str) -> Any:
    """latex2sympy on the normalised text, as math-verify converts one LaTeX match."""
    from latex2sympy2_extended import latex2sympy
    from math_verify.grader import should_treat_as_complex

    normalized = _normalize(text)
    if not normalized.strip():
        raise Unreadable("nothing left after normalisation")
    try:
        return latex2sympy(
            normalized,
            is_real=not should_treat_as_complex(normalized),
            convert_degrees=False,
            normalization_config=None,
        )
    except Exception as exc:  # latex2sympy raises bare Exceptions on any parse failure
        raise Unreadable(f"not LaTeX math: {str(exc).splitlines()[0][:120]}") from None


def split_items(text: str) -> list[str]:
    """`text` split into the items of a list, at top level (outside any bracket).

    Semicolons separate first (`p=5,q=2; p=7,q=2` is two items); without them, commas
    and the words `and` / `or` do (`21, 16 or 11`, `(5, 8) \\text{ and } (8, 5)`).
    """
    for separators in (_SEMICOLON, _ITEM_SEPARATOR):
        parts = _split_top_level(text, separators)
        if len(parts) > 1:
            return parts
    return [text]


def _split_top_level(text: str, separators: re.Pattern[str]) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and text.startswith(("\\{", "\\}"), i):
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and not (char == "," and _thousands_comma(text, i)):
            separator = separators.match(text, i)
            if separator and separator.end() > i:
                parts.append(text[start:i].strip())
                start = i = separator.end()
                continue
        if char == "\\":
            i += 1  # a command's first character is never a separator (`\\,` is a space)
        i += 1
    parts.append(text[start:].strip())
    return parts if len(parts) > 1 and all(parts) else [text]


def _thousands_comma(text: str, i: int) -> bool:
    """Whether the comma at `i` groups digits in threes (`1,000 \\text{ dollars}`)."""
    return bool(_THOUSANDS_BEFORE.search(text[:i]) and _THOUSANDS_AFTER.match(text, i + 1))


def _bracketed(text: str) -> str | None:
    """The inside of a text wrapped whole in (), [], {} or \\{\\}, else None."""
    stripped = re.sub(r"\\(?:left|right)\b", "", text).strip()
    if stripped.startswith("\\{") and stripped.endswith("\\}"):
        stripped = "{" + stripped[2:-2] + "}"
    if len(stripped) < 2 or stripped[0] not in _BRACKETS:
        return None
    if _closing(stripped, 0) != len(stripped) - 1:
        return None
    return stripped[1:-1]


def _closing(text: str, start: int) -> int:
    """Index of the bracket closing the one at `start` (any kind nests), or -1."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return -1
