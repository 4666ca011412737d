"""Reading a score out of the judge's text."""

from __future__ import annotations

import json
import re

__all__ = ["read_label", "read_score", "to_reward"]


def read_score(text: str, pattern: str) -> float | None:
    """The number of the last `pattern` match, else a JSON object's "score", else None."""
    matches = list(re.finditer(pattern, text))
    for match in reversed(matches):
        try:
            return float(match.group(1))
        except (IndexError, TypeError, ValueError):
            continue
    found = re.search(r"\{[^{}]*\}", text, re.S)
    if found is not None:
        try:
            value = json.loads(found.group())
        except ValueError:
            return None
        score = value.get("score") if isinstance(value, dict) else None
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            return float(score)
    return None


def read_label(text: str, labels: dict[str, float]) -> tuple[str, float] | None:
    """The label that occurs last in `text` (whole words, any case), with its value.

    At one position the longest label wins, so "not correct" beats "correct".
    """
    best: tuple[int, int, str] | None = None
    for label in labels:
        for match in re.finditer(rf"(?<!\w){re.escape(label)}(?!\w)", text, re.IGNORECASE):
            key = (match.end(), len(label), label)
            if best is None or key[:2] > best[:2]:
                best = key
    if best is None:
        return None
    return best[2], labels[best[2]]


def to_reward(score: float, score_range: tuple[float, float]) -> float:
    """The score mapped linearly from [worst, best] to [0, 1], clamped."""
    low, high = score_range
    return min(max((score - low) / (high - low), 0.0), 1.0)
