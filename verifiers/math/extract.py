"""Finding the boxed answers of a response and choosing the one that counts.

math-verify joins boxes that are close or separated by ',', 'and', 'or', ';' into one
set-valued answer, which is right for `\\boxed{1} and \\boxed{2}` but turns the
self-correction `\\boxed{5}, wait, actually \\boxed{7}` into {5, 7}. We keep its joining
rule, cut it at correction words, and choose the group ourselves, so "last" means the
final answer the model settled on whatever math-verify's pattern priorities would pick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

__all__ = ["Box", "BoxGroup", "find_boxes", "group_boxes", "nesting_depth", "select_group"]

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)\s*\{")
# math-verify's separators between boxes that form one answer (latex2sympy2_extended).
_SEPARATOR = re.compile(r"\b(?:and|or)\b|,|;")
_CORRECTION = re.compile(
    r"\b(?:wait|actually|no|not|hmm+|but|however|instead|rather|oops|sorry|mistake|wrong|"
    r"incorrect|correct(?:ion|ed)?|re-?check|double-check|let me|hold on|scratch that)\b",
    re.IGNORECASE,
)
_OPENERS = frozenset("{([")
_CLOSERS = frozenset("})]")
_BRACKET_OR_BREAK = re.compile(r"[{}()\[\]]|\n[ \t]*\n")


@dataclass(frozen=True)
class Box:
    content: str
    start: int
    end: int


@dataclass(frozen=True)
class BoxGroup:
    """Boxes read as one answer; duplicates and empty boxes removed from `contents`."""

    boxes: tuple[Box, ...]

    @cached_property
    def contents(self) -> tuple[str, ...]:
        stripped = (box.content.strip() for box in self.boxes)
        return tuple(dict.fromkeys(content for content in stripped if content))

    @cached_property
    def text(self) -> str:
        """The answer as math-verify reads a group: the contents joined by commas."""
        return ",".join(self.contents)


def find_boxes(text: str) -> list[Box]:
    """Every closed top-level `\\boxed{...}` / `\\fbox{...}`, in order.

    An unclosed box ends the scan: a response cut off by the length limit inside a box
    has given no answer there. Nested boxes belong to the box around them.
    """
    boxes: list[Box] = []
    pos = 0
    while match := _BOX_COMMAND.search(text, pos):
        depth = 1
        i = match.end()
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            i += 1
        if depth:
            break
        boxes.append(Box(text[match.end() : i - 1], match.start(), i))
        pos = i
    return boxes


def _joined(text: str, before: Box, after: Box) -> bool:
    between = text[before.end : after.start]
    if _CORRECTION.search(between):
        return False
    if len(between) < 10:
        return True
    return (
        before.content.strip() != after.content.strip()
        and len(between) < 70
        and bool(_SEPARATOR.search(between))
    )


def group_boxes(text: str, boxes: list[Box]) -> list[BoxGroup]:
    groups: list[list[Box]] = []
    for box in boxes:
        if groups and _joined(text, groups[-1][-1], box):
            groups[-1].append(box)
        else:
            groups.append([box])
    return [BoxGroup(tuple(group)) for group in groups]


def select_group(groups: list[BoxGroup], mode: str) -> BoxGroup:
    return groups[0] if mode == "first" else groups[-1]


def nesting_depth(text: str) -> int:
    """Deepest bracket nesting within a paragraph; the LaTeX parser's time grows steeply with it.

    Depth restarts at each blank line, so a few stray "(" scattered over a long
    chain of thought do not add up.
    """
    depth = deepest = 0
    for match in _BRACKET_OR_BREAK.finditer(text):
        char = match.group()
        if char in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSERS:
            depth = max(depth - 1, 0)
        else:
            depth = 0
    return deepest
