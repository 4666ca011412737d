"""Numbers joined by commas and spaces: one number with separators, or a list of numbers.

The rule (documented in the README): a comma between numbers makes a list (`1, 3, 5, 15`,
`-3,0`, `2500,7500`), unless it is a thousands separator, which needs groups of exactly
three digits after a first group of one to three (`7,425,000`; `2\\,013` and `1 000`
with a thin or plain space), or `decimal_comma` is on, when a single comma between
digits is a decimal point (`1,5`). A text these rules leave with two readings, such as
`1,234` with `decimal_comma` (1.234 or 1234) or `0,500` (a decimal written with a comma,
or the list 0, 500), is `Ambiguous`; a gold that is ambiguous is refused as invalid
rather than rewarded on a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Ambiguous", "NumberList", "read_numbers"]

_NUMBER = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)"
# A separator between two digit groups: a comma (spaces around it or not), LaTeX's
# `{,}`, a thin or other LaTeX space, or plain spaces.
_SEPARATOR = r"\s*(?:,|\{,\})\s*|\s*\\[,;:!]\s*|\s*\\\s\s*|\s*~\s*|\s+"
_SEQUENCE = re.compile(rf"\s*{_NUMBER}(?:(?:{_SEPARATOR}){_NUMBER})+\s*")
_TOKEN = re.compile(rf"({_NUMBER})|({_SEPARATOR})")


class Ambiguous(ValueError):
    """The text reads two ways under the number rules; the message names both."""


@dataclass(frozen=True)
class NumberList:
    """The numbers a text holds, as plain decimal strings, and the rules that read them."""

    numbers: tuple[str, ...]
    rules: tuple[str, ...]


def read_numbers(text: str, decimal_comma: bool = False) -> NumberList | None:
    """The numbers of a text made of numbers and separators only, else None.

    Raises `Ambiguous` when the rules allow two readings; a space that is neither a
    thousands separator nor beside a comma makes the text unreadable (None is not
    returned then, since the caller would try other readers): `Ambiguous` too.
    """
    if not _SEQUENCE.fullmatch(text):
        return None
    numbers: list[str] = []
    separators: list[str] = []
    for match in _TOKEN.finditer(text.strip()):
        if match.group(1) is not None:
            numbers.append(match.group(1))
        else:
            separators.append(_kind(match.group(2)))
    readings = _readings(numbers, separators, decimal_comma)
    if not readings:
        raise Ambiguous(f"{text.strip()!r} is neither one number nor a list of numbers")
    if len(readings) > 1:
        shown = " or ".join(", ".join(r.numbers) for r in readings)
        raise Ambiguous(f"{text.strip()!r} reads as {shown}")
    return readings[0]


def _kind(separator: str) -> str:
    """`comma` (no space), `comma_space`, or `space` (a thin, LaTeX or plain space)."""
    if "\\" in separator or "," not in separator:
        return "space"
    return "comma" if separator.replace("{,}", ",") == "," else "comma_space"


def _readings(numbers: list[str], separators: list[str], decimal_comma: bool) -> list[NumberList]:
    """Every reading the rules allow, each as the final list of numbers."""
    results: list[NumberList] = []
    # Split at the commas followed or preceded by a space: those always separate items.
    items: list[tuple[list[str], list[str]]] = [([numbers[0]], [])]
    for separator, number in zip(separators, numbers[1:], strict=True):
        if separator == "comma_space":
            items.append(([number], []))
        else:
            items[-1][0].append(number)
            items[-1][1].append(separator)
    choices = [_item_readings(groups, seps, decimal_comma) for groups, seps in items]
    for combination in _product(choices):
        flat = tuple(number for part in combination for number in part[0])
        rules = tuple(dict.fromkeys(rule for part in combination for rule in part[1]))
        if len(flat) > 1:
            rules = (*rules, "list")
        results.append(NumberList(flat, rules))
    return results


def _item_readings(
    groups: list[str], separators: list[str], decimal_comma: bool
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The readings of numbers joined without spaced commas: (numbers, rules) each."""
    if not separators:
        return [((groups[0],), ())]
    readings: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    kinds = set(separators)
    if len(kinds) == 1 and _thousands(groups):
        readings.append((("".join(groups),), ("thousands_separator",)))
    if kinds != {"comma"}:
        return readings
    decimal = len(groups) == 2 and bool(re.fullmatch(r"[+-]?\d+", groups[0]))
    decimal = decimal and bool(re.fullmatch(r"\d+", groups[1]))
    if decimal_comma:
        if decimal:
            readings.append(((f"{groups[0]}.{groups[1]}",), ("decimal_comma",)))
    elif not readings:
        readings.append((tuple(groups), ()))
        if decimal and (_zero(groups[0]) or re.fullmatch(r"0\d+", groups[1])):
            # `0,500`, `1,05`: a decimal comma written without the option, or a list
            # whose item is zero-padded; both are plausible, so neither is chosen.
            readings.append(((f"{groups[0]}.{groups[1]}",), ("decimal_comma",)))
    return readings


def _thousands(groups: list[str]) -> bool:
    first, *rest = groups
    if not re.fullmatch(r"[+-]?[1-9]\d{0,2}", first):
        return False
    *middle, last = rest
    return all(re.fullmatch(r"\d{3}", group) for group in middle) and bool(
        re.fullmatch(r"\d{3}(?:\.\d+)?", last)
    )


def _zero(group: str) -> bool:
    """`0`, `-0`: an integer part that only a decimal comma explains."""
    return bool(re.fullmatch(r"[+-]?0", group))


def _product(
    choices: list[list[tuple[tuple[str, ...], tuple[str, ...]]]],
) -> list[list[tuple[tuple[str, ...], tuple[str, ...]]]]:
    combinations: list[list[tuple[tuple[str, ...], tuple[str, ...]]]] = [[]]
    for options in choices:
        combinations = [[*done, option] for done in combinations for option in options]
        if len(combinations) > 16:
            break  # more than enough to call it ambiguous
    return combinations
