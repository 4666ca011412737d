"""Multiple-choice answers: a gold that is one capital letter is compared as a letter.

math-verify reads `(B)` as the symbol b and a bare `B` as nothing at all, and its string
extraction takes any A-D it sees without an anchor, so a response that merely lists the
choices can match. Here a letter counts only from a box, an answer phrase ("the answer
is (B)") or a response that is nothing but the letter, and naming several letters there
is no answer.
"""

from __future__ import annotations

import re

__all__ = ["gold_letter", "letters_in", "plain", "stated_letters"]

_WRAPPER = re.compile(r"\\(?:text|textbf|textrm|textit|mathrm|mathbf|mathit|mbox)\s*\{([^{}]*)\}")
_DELIMITERS = re.compile(r"\\[()\[\]]|\$|\*\*")
_LONE_LETTER = re.compile(r"\(?([A-Z])\)?")
_LETTER = re.compile(r"(?<![A-Za-z\\])[A-Z](?![A-Za-z])")
_RUN_OF_LETTERS = re.compile(r"[A-Z]{2,}")
_ITEM = r"\(?[A-Z]\)?(?![A-Za-z])"
_LIST_SEPARATOR = r"\s*(?:,\s*(?:and|or)?|and|or|/|&)\s*"
_ANSWER_PHRASE = re.compile(
    r"(?i:answer|(?:correct|right|best)\s+(?:option|choice))(?:\s+[a-z]+){0,5}?\s*[:=]?\s*"
    rf"({_ITEM}(?:{_LIST_SEPARATOR}{_ITEM})*)"
)
# A choice label such as "(B)", "B)" or "B." after the phrase: the phrase heads a list of
# the choices (a restated question), not an answer.
_CHOICE_LABEL = re.compile(r"(?:^|\s)\(?[A-Z][).:]")


def plain(text: str) -> str:
    """The text with math delimiters, bold markers and text-style wrappers removed."""
    previous = None
    while previous != text:
        previous, text = text, _WRAPPER.sub(r"\1", text)
    return _DELIMITERS.sub("", text).strip()


def gold_letter(gold: str) -> str | None:
    """The choice letter when the gold (or its boxes' content) is one: `B`, `(B)`, `\\text{B}`."""
    match = _LONE_LETTER.fullmatch(plain(gold).rstrip(".").strip())
    return match.group(1) if match else None


def letters_in(text: str) -> list[str]:
    """The distinct choice letters named in a box's content, in order (`ABCD` names four)."""
    text = plain(text)
    found = _LETTER.findall(text)
    if not found and _RUN_OF_LETTERS.fullmatch(text):
        found = list(text)
    return list(dict.fromkeys(found))


def stated_letters(response: str) -> tuple[list[str], str]:
    """Letters given without a box, and how they were found ("answer_phrase", "bare_letter").

    The last answer phrase wins, as the last box does; an empty list means no answer.
    """
    text = plain(response)
    phrases = [
        match
        for match in _ANSWER_PHRASE.finditer(text)
        if not _CHOICE_LABEL.search(text, match.end(), _line_end(text, match.end()))
    ]
    if phrases:
        return letters_in(phrases[-1].group(1)), "answer_phrase"
    match = _LONE_LETTER.fullmatch(text.rstrip(".").strip())
    return ([match.group(1)] if match else []), "bare_letter"


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end
