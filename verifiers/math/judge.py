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
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.base import Verdict
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.math.choice import gold_letter, letters_in, stated_letters
from rewardgate.verifiers.math.compare import find_match
from rewardgate.verifiers.math.extract import (
    BoxGroup,
    find_boxes,
    group_boxes,
    nesting_depth,
    select_group,
)
from rewardgate.verifiers.math.parse import (
    Extraction,
    is_too_large,
    parse_answer,
    parse_gold,
    read_imaginary_unit,
)

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
    """Where the answer is: the text math-verify should read, and how to read it."""

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
    candidate = _as_candidate(group.text, extraction)
    return _Located(f"{options.boxed}_box", candidate, extraction, group)


def _judge_expression(
    response: str, answer: str, groups: list[BoxGroup], options: MathOptions
) -> Verdict:
    extraction = Extraction.of(options)
    gold = parse_gold(answer, extraction)
    if not gold:
        raise InvalidRequest(f"reference.answer: math-verify finds no answer in {answer!r}")
    details: dict[str, Any] = {"gold_parsed": _shown(gold)}
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
    raw = located.parsed or parse_answer(located.text, located.extraction)
    if located.group is None:
        details["extracted"] = _shown([item for item in raw[-1:] if isinstance(item, str)])
    if any(is_too_large(item) for item in raw):
        return _zero("answer_too_large", details)
    pred = read_imaginary_unit(raw, extraction)
    details["pred_parsed"] = _shown(pred)
    if not pred:
        return _zero("no_answer", details)
    others = [g for g in groups if g is not located.group and g.contents]
    if options.reject_multiple_answers and not _all_agree(pred, others, extraction, options):
        return _zero("boxed_answers_disagree", details)
    match = find_match(gold, pred, options)
    if match is None:
        return _zero("not_equivalent", details)
    matched_gold, matched_pred, rule = match
    return Verdict(
        1.0, details={**details, "rule": rule, "matched": _shown([matched_gold, matched_pred])}
    )


def _refusal(text: str, options: MathOptions, whole_text: bool = False) -> str | None:
    """Why an answer is not worth parsing, if it is not; a whole response may be long."""
    if not whole_text and len(text) > options.max_answer_chars:
        return "answer_too_long"
    if nesting_depth(text) > MAX_NESTING:
        return "answer_too_nested"
    return None


def _as_candidate(text: str, extraction: Extraction) -> str:
    """The box content as math-verify should see it: boxed for its LaTeX reader, else bare."""
    return f"\\boxed{{{text}}}" if "latex" in extraction.targets else text


def _all_agree(
    pred: tuple[Any, ...], others: list[BoxGroup], extraction: Extraction, options: MathOptions
) -> bool:
    """Whether every other boxed answer is equivalent to the one that counts."""
    for other in others:
        if _refusal(other.text, options):
            return False
        raw = parse_answer(_as_candidate(other.text, extraction), extraction)
        if any(is_too_large(item) for item in raw):
            return False
        if find_match(pred, read_imaginary_unit(raw, extraction), options) is None:
            return False
    return True
