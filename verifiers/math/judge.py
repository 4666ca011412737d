"""From a response and a gold to a verdict: locate the answer, refuse hostile ones, compare.

`details["rule"]` names what decided. A reward of 1: `equivalent`,
`inequality_as_interval`, `choice_letter`. A reward of 0: `not_equivalent`,
`wrong_choice`, `no_answer`, `no_choice`, `no_box` (with `require_box`), `empty_box`,
`several_choices`, `boxed_answers_disagree` (with `reject_multiple_answers`), and the
refusals to parse `answer_too_long`, `answer_too_nested`, `answer_too_large`. Only a gold
math-verify cannot read raises (`InvalidRequest`: the request is malformed, not the
response).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.base import Verdict
from rewardgate.verifiers.math.answers import Reading, Unreadable, read_whole, unwrap
from rewardgate.verifiers.math.choice import gold_letter, letters_in, stated_letters
from rewardgate.verifiers.math.compare import find_match
from rewardgate.verifiers.math.extract import (
    BoxGroup,
    find_boxes,
    group_boxes,
    nesting_depth,
    select_group,
)
from rewardgate.verifiers.math.numbers import Ambiguous
from rewardgate.verifiers.math.numerals import install as install_numerals
from rewardgate.verifiers.math.parse import (
    Extraction,
    is_too_large,
    parse_answer,
    read_gold,
    with_imaginary_unit,
)
from rewardgate.verifiers.math.python_syntax import FUNCTIONS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rewardgate.verifiers.math.models import MathOptions

__all__ = ["judge"]

# Deeper bracket nesting than this is refused: parsing time grows steeply with depth.
MAX_NESTING = 16
_FINAL_ANSWER = re.compile(r"final answer", re.IGNORECASE)
# Evidence is cut to this many strings of this length, so a hostile answer cannot bloat it.
MAX_SHOWN_ITEMS = 20
MAX_SHOWN_CHARS = 300


def judge(response: str, answer: str, options: MathOptions) -> Verdict:
    """Score `response` against the gold `answer`; a gold that is one letter is a choice."""
    install_numerals()  # once per process: numbers read without sympy's Python parser
    gold_boxes = find_boxes(answer)
    letter = gold_letter(",".join(box.content for box in gold_boxes) if gold_boxes else answer)
    groups: list[BoxGroup] = []
    if options.boxed_match_priority >= 0:
        groups = group_boxes(response, find_boxes(response))
    if letter is not None:
        return _judge_choice(response, letter, groups, options)
    return _judge_expression(response, answer, groups, options)


def _shown(items: Sequence[Any]) -> list[str]:
    """Strings (or sympy objects, printed) for `details`, within the MAX_SHOWN limits."""
    shown = []
    for item in items[:MAX_SHOWN_ITEMS]:
        text = str(item)
        shown.append(text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "...")
    if len(items) > MAX_SHOWN_ITEMS:
        shown.append(f"... {len(items) - MAX_SHOWN_ITEMS} more")
    return shown


def _gold_shown(gold: Reading) -> tuple[str, ...]:
    """The gold's value as `details` shows it, printed once per gold (`read_gold` gives a
    GRPO group's items one reading): printing a sympy expression costs more than most
    of the checks on an answer. A matrix gold (unhashable) is printed each time."""
    try:
        return _printed_gold(gold)
    except TypeError:
        return tuple(_shown([gold.value]))


@lru_cache(maxsize=1024)
def _printed_gold(gold: Reading) -> tuple[str, ...]:
    return tuple(_shown([gold.value]))


def _zero(rule: str, details: dict[str, Any]) -> Verdict:
    return Verdict(0.0, details={**details, "rule": rule})


def _judge_choice(
    response: str, letter: str, groups: list[BoxGroup], options: MathOptions
) -> Verdict:
    details: dict[str, Any] = {"gold_letter": letter}
    if groups:
        mode = "first" if options.boxed == "first" else "last"
        group = select_group(groups, mode)
        details["answer_source"] = f"{mode}_box"
        details["extracted"] = _shown(group.contents)
        if not group.contents:
            return _zero("empty_box", details)
        letters = letters_in(group.text)
        tail = response[group.boxes[-1].end :]
        if mode == "last" and _FINAL_ANSWER.search(tail):
            stated, source = stated_letters(tail)
            if stated:
                letters, details["answer_source"] = stated, source
        if options.reject_multiple_answers:
            named = {tuple(letters_in(g.text)) for g in groups if g.contents}
            if len(named | {tuple(letters)}) > 1:
                return _zero("boxed_answers_disagree", {**details, "letters": letters})
    elif options.require_box:
        return _zero("no_box", details)
    else:
        letters, source = stated_letters(response)
        if letters:
            details["answer_source"] = source
    details["letters"] = letters
    if not letters:
        return _zero("no_choice", details)
    if len(letters) > 1:
        return _zero("several_choices", details)
    if letters[0] != letter:
        return _zero("wrong_choice", details)
    return Verdict(1.0, details={**details, "rule": "choice_letter"})


@dataclass(frozen=True)
class _Located:
    """Where the answer is: a box group, the final-answer phrase after it, or free text."""

    source: str
    text: str
    extraction: Extraction
    group: BoxGroup | None = None
    parsed: tuple[Any, ...] | None = None


def _locate(
    response: str, groups: list[BoxGroup], extraction: Extraction, options: MathOptions
) -> _Located | str:
    """The answer's location, or the rule that scores the response 0 before parsing."""
    if not groups:
        return "no_box" if options.require_box else _Located("math_verify", response, extraction)
    if options.boxed == "any":
        return _Located("math_verify", response, extraction)
    group = select_group(groups, options.boxed)
    if not group.contents:
        return "empty_box"
    tail = response[group.boxes[-1].end :]
    if options.boxed == "last" and _FINAL_ANSWER.search(tail):
        # "\\boxed{255} ... The final answer is $10,455$": the later statement is the answer.
        if nesting_depth(tail) > MAX_NESTING:
            return "answer_too_nested"
        anchored = replace(extraction, try_extract_without_anchor=False)
        parsed = parse_answer(tail, anchored)
        if parsed:
            return _Located("final_answer_phrase", tail, anchored, parsed=parsed)
    return _Located(f"{options.boxed}_box", group.text, extraction, group)


def _judge_expression(
    response: str, answer: str, groups: list[BoxGroup], options: MathOptions
) -> Verdict:
    extraction = Extraction.of(options)
    gold = read_gold(answer, extraction, options.decimal_comma)
    details: dict[str, Any] = {"gold_parsed": list(_gold_shown(gold))}
    if gold.rules:
        details["gold_reading"] = list(gold.rules)
    located = _locate(response, groups, extraction, options)
    if isinstance(located, str):
        if groups:
            details["extracted"] = _shown(select_group(groups, options.boxed).contents)
        return _zero(located, details)
    details["answer_source"] = located.source
    if located.group is not None:
        details["extracted"] = _shown(located.group.contents)
        refusal = _refusal(located.group.text, options)
    else:
        refusal = _refusal(located.text, options, whole_text=True)
    if refusal:
        return _zero(refusal, details)
    preds = _read_answer(located, options)
    if isinstance(preds, str):
        return _zero(preds, details)
    if located.group is None:
        details["extracted"] = _shown([preds[0].text])
    if any(is_too_large(item) for pred in preds for item in pred.objects):
        return _zero("answer_too_large", details)
    if not gold.bare_list and not options.decimal_comma:
        preds = [*preds, *_decimal_comma_readings(preds[0])]
    preds = [with_imaginary_unit(pred, extraction) for pred in preds]
    details["pred_parsed"] = _shown([pred.value for pred in preds])
    if preds[0].rules:
        details["pred_reading"] = list(preds[0].rules)
    others = [g for g in groups if g is not located.group and g.contents]
    if options.reject_multiple_answers and not _all_agree(preds, others, extraction, options):
        return _zero("boxed_answers_disagree", details)
    match = find_match(gold, preds, options)
    if match is None:
        return _zero("not_equivalent", details)
    matched_gold, matched_pred, rule = match
    shown_gold = _gold_shown(gold) if matched_gold is gold.value else _shown([matched_gold])
    matched = [*shown_gold, *_shown([matched_pred])]
    return Verdict(1.0, details={**details, "rule": rule, "matched": matched})


def _read_answer(located: _Located, options: MathOptions) -> list[Reading] | str:
    """The response's answer read whole, or the rule that scores it 0.

    A box's content, an `<answer>` tag's content or a response that is nothing but an
    answer is read whole (`answers.read_whole`); a box holding boxes counts its last
    one. Anything else is prose, where math-verify finds the answer; what it finds must
    not be a piece of a larger Python-style expression at the end of the text
    (`- 197784*x`), which is read whole instead, or refused.
    """
    extraction = located.extraction
    if located.parsed is not None:
        return _from_math_verify(located.text, located.parsed, options, extraction)
    if located.group is None:
        return _read_prose(located.text, options, extraction)
    text = located.group.text
    for _ in range(MAX_NESTING):
        inner = find_boxes(text)
        if not inner:
            break
        text = group_boxes(text, inner)[-1].text
    if _is_bare(text, options):
        return _whole(text, options, extraction)
    # A box that holds a sentence (`\\boxed{We find that $x < 3$.}`) is read as prose.
    return _read_prose(text, options, replace(extraction, boxed_match_priority=-1))


def _read_prose(text: str, options: MathOptions, extraction: Extraction) -> list[Reading] | str:
    tag = _last_answer_tag(text)
    if tag is not None:
        text = tag
    if _is_bare(text, options):
        whole = _whole(text, options, extraction)
        if tag is not None or _converted(whole):
            return whole
    stated = _stated_answer(text)
    if stated is not None and _is_bare(stated, options):
        whole = _whole(stated, options, extraction)
        if _converted(whole):
            return whole
    return _from_math_verify(text, parse_answer(text, extraction), options, extraction)


def _from_math_verify(
    text: str, raw: tuple[Any, ...], options: MathOptions, extraction: Extraction
) -> list[Reading] | str:
    """math-verify's answer in prose, unless it is a piece of a trailing Python expression."""
    if not raw:
        return "no_answer"
    span = _trailing_python(text)
    if span is not None:
        return _whole(span, options, extraction)
    shown = next((item for item in reversed(raw) if isinstance(item, str)), str(raw[0]))
    return [Reading(shown, raw[0], ("math_verify",), alternatives=raw[1:])]


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d*[1-9]")


def _decimal_comma_readings(pred: Reading) -> list[Reading]:
    """`1000,99` against a gold that is one number: also read as a decimal comma.

    By the number rules it is the list 1000, 99, which a one-number gold never equals;
    but an answer that is one decimal written the European way names one number, so it
    is no hedge to also read it so (named `decimal_comma` in `details`). Digits ending
    in 0 after the comma (`-3,0`, `2500,7500`) are how lists are written, not decimals.
    """
    if not _DECIMAL_COMMA.fullmatch(pred.text):
        return []
    try:
        value = read_whole(pred.text, decimal_comma=True).value
    except Ambiguous:
        return []  # `32,349`: a thousands separator, already read as one
    return [Reading(pred.text, value, ("decimal_comma",))]


def _whole(text: str, options: MathOptions, extraction: Extraction) -> list[Reading] | str:
    """The text read whole; failing that, verbatim as math-verify normalises it.

    An answer neither reader can convert (`\\frac{-1 \\pm \\sqrt{13}}{4}` inside a list)
    still equals a gold written the same way, as math-verify compares such strings; a
    conversion math-verify would make of a part of it is never used.
    """
    try:
        return [read_whole(text, options.decimal_comma)]
    except Ambiguous:
        return "ambiguous_answer"
    except Unreadable:
        pass
    parsed = parse_answer(_as_candidate(text, extraction), extraction)
    verbatim = [item for item in parsed if isinstance(item, str) and _same_text(item, text)]
    if verbatim:
        return [Reading(verbatim[0], verbatim[0], ("verbatim",))]
    return "unparsable_answer"


def _same_text(one: str, other: str) -> bool:
    return re.sub(r"\s+", "", one) == re.sub(r"\s+", "", other)


def _as_candidate(text: str, extraction: Extraction) -> str:
    """The answer as math-verify should see it: boxed for its LaTeX reader, else bare."""
    return f"\\boxed{{{text}}}" if "latex" in extraction.targets else text


_ANSWER_PHRASE = re.compile(
    r"(?i)\banswer\s*(?:is\s*:?|:)\s*([^\n]+?)\s*(?:\.(?=\s)|\.?$)", re.MULTILINE
)
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
# Words that may stand in a bare answer: function and constant names, LaTeX-free units
# of math. Any other word of two letters or more makes the text prose.
_WORD = re.compile(r"(?<![\\A-Za-z0-9{}])[A-Za-z]{2,}(?![A-Za-z0-9{(^_])")
_MATH_WORDS = FUNCTIONS | {"pi", "oo", "inf", "mid", "in", "or", "and", "text", "quad"}
_UNIT_WORDS = frozenset(
    [
        "cm",
        "mm",
        "km",
        "kg",
        "mg",
        "ml",
        "sec",
        "min",
        "hr",
        "hrs",
        "hours",
        "minutes",
        "seconds",
        "days",
        "deg",
        "degrees",
        "dollars",
        "cents",
        "units",
        "inches",
        "feet",
        "ft",
        "miles",
        "mph",
        "liters",
        "meters",
        "grams",
        "sq",
        "square",
        "percent",
    ]
)
# A Python-style expression: operands joined by operators, at least one of them `*`.
_PYTHON_SPAN = re.compile(
    r"[-+(]*\s*[\w.]+\)*(?:\s*(?:\*\*|[-+*/^])\s*[-+(]*\s*[\w.]+(?:\([^()]*\))?\)*)+"
)


def _converted(readings: list[Reading] | str) -> bool:
    """Whether a whole reading converted the text (not a refusal, not verbatim)."""
    return not isinstance(readings, str) and "verbatim" not in readings[0].rules


def _stated_answer(text: str) -> str | None:
    """What follows the last "answer is" / "answer:" to the end of its line, if any."""
    phrases = list(_ANSWER_PHRASE.finditer(text))
    return phrases[-1].group(1).strip() if phrases else None


_LEADING_WORDS = re.compile(r"^(?:[A-Za-z]{2,}\s+)+")


def _last_answer_tag(text: str) -> str | None:
    """The last span `re.findall(r"<answer>(.*?)</answer>", text, re.S | re.I)` gives, in
    one pass: that regex is quadratic on many unclosed tags (800 KB took minutes)."""
    last = None
    opening = _ANSWER_OPEN.search(text)
    while opening is not None:
        closing = _ANSWER_CLOSE.search(text, opening.end())
        if closing is None:
            break
        last = text[opening.end() : closing.start()]
        opening = _ANSWER_OPEN.search(text, closing.end())
    return last


def _is_bare(text: str, options: MathOptions) -> bool:
    """Whether `text` is only an answer (no prose), short enough to read whole."""
    if len(text) > options.max_answer_chars or "\n\n" in text.strip():
        return False
    words = _WORD.findall(unwrap(text))
    return all(word in _MATH_WORDS or word.lower() in _UNIT_WORDS for word in words)


def _trailing_python(text: str) -> str | None:
    """The Python-style expression the text ends with, if its last math is one."""
    spans = [m for m in _PYTHON_SPAN.finditer(text) if "*" in m.group()]
    if not spans:
        return None
    last = spans[-1]
    if re.search(r"\d", text[last.end() :]):
        return None  # more math follows: math-verify's answer is not from this span
    return _LEADING_WORDS.sub("", last.group().strip())  # `is -3*x`: the operand is prose


def _refusal(text: str, options: MathOptions, whole_text: bool = False) -> str | None:
    """Why an answer is not worth parsing, if it is not; a whole response may be long."""
    if not whole_text and len(text) > options.max_answer_chars:
        return "answer_too_long"
    if nesting_depth(text) > MAX_NESTING:
        return "answer_too_nested"
    return None


def _all_agree(
    preds: list[Reading], others: list[BoxGroup], extraction: Extraction, options: MathOptions
) -> bool:
    """Whether every other boxed answer is equivalent to the one that counts."""
    for other in others:
        if _refusal(other.text, options):
            return False
        read = _whole(other.text, options, extraction)
        if isinstance(read, str) or any(is_too_large(item) for item in read[0].objects):
            return False
        other_reading = with_imaginary_unit(read[0], extraction)
        if not any(find_match(pred, [other_reading], options) for pred in preds):
            return False
    return True
