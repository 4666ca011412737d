"""`<answer>...</answer>` spans, found in linear time.

`re.finditer(r"<answer>(.*?)</answer>", text, re.S)`, as the papers write it, is
quadratic on a response of many unclosed `<answer>` tags (80 KB of them take
seconds), which a policy under RL will find. This scan gives the same spans, in the
same order, in one pass: the leftmost opening, the first closing after it, and on from
there. The grounding, preference and symbolic-regression verifiers read with it too.
"""

from __future__ import annotations

__all__ = ["answer_tags", "first_answer", "last_answer", "tag_contents"]

OPEN, CLOSE = "<answer>", "</answer>"


def tag_contents(text: str, name: str) -> list[str]:
    """The contents of every `<name>...</name>`, as `<name>(.*?)</name>` (re.S) finds them."""
    opening, closing = f"<{name}>", f"</{name}>"
    found = []
    pos = 0
    while (start := text.find(opening, pos)) >= 0:
        end = text.find(closing, start + len(opening))
        if end < 0:
            break
        found.append(text[start + len(opening) : end])
        pos = end + len(closing)
    return found


def answer_tags(text: str) -> list[str]:
    """The contents of every `<answer>...</answer>`, as the lazy regex finds them."""
    return tag_contents(text, "answer")


def first_answer(text: str) -> str | None:
    start = text.find(OPEN)
    if start < 0:
        return None
    end = text.find(CLOSE, start + len(OPEN))
    return None if end < 0 else text[start + len(OPEN) : end]


def last_answer(text: str) -> str | None:
    """The last of `answer_tags(text)`, found with the same scan but no list."""
    start = text.find(OPEN)
    last = None
    while start >= 0:
        end = text.find(CLOSE, start + 8)
        if end < 0:
            break
        last = text[start + 8 : end]
        start = text.find(OPEN, end + 9)
    return last
