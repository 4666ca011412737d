"""Cutting a solution into steps.

Steps are marked "Step k:" when the response marks them that way (a step may then
span lines); otherwise each non-blank line is a step, except that a display-math block
(`$$ ... $$`, `\\[ ... \\]`, `\\begin{align} ... \\end{align}`) spanning lines stays in
the step of its first line.
"""

from __future__ import annotations

import re

__all__ = ["split_steps"]

_STEP_MARKER = re.compile(r"^[ \t>#*_]*(?:step|STEP|Step)\s*\d+\s*[:.)\-]", re.M)


def split_steps(text: str) -> list[str]:
    """The steps of `text`, in order, stripped; never an empty string."""
    markers = list(_STEP_MARKER.finditer(text))
    if markers:
        starts = [m.start() for m in markers]
        pieces = [text[: starts[0]]] if text[: starts[0]].strip() else []
        pieces += [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
        return [piece.strip() for piece in pieces if piece.strip()]
    steps: list[str] = []
    pending: list[str] = []
    for line in text.splitlines():
        if pending:
            pending.append(line)
            if _closes(pending):
                steps.append("\n".join(pending).strip())
                pending = []
            continue
        if not line.strip():
            continue
        if _closes([line]):
            steps.append(line.strip())
        else:
            pending = [line]
    if pending:
        steps.append("\n".join(pending).strip())
    return [step for step in steps if step]


def _closes(lines: list[str]) -> bool:
    """Whether every display block opened in `lines` is closed there too."""
    text = "\n".join(lines)
    if text.count("$$") % 2:
        return False
    if len(re.findall(r"\\\[", text)) > len(re.findall(r"\\\]", text)):
        return False
    begins = re.findall(r"\\begin\{([a-zA-Z*]+)\}", text)
    ends = re.findall(r"\\end\{([a-zA-Z*]+)\}", text)
    return len(begins) <= len(ends)
