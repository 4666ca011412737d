"""R1-Searcher's reward (RUCAIBox/R1-Searcher, `train/reward_server_qwen_zero.py`).

The response is the model's text after the prompt's `Assistant: <think>` (what
R1-Searcher calls the solution). Its answer is what follows the last `<answer>` up to
the next `</answer>`; the reward is the token F1 against the gold under R1-Searcher's own
normalisation (underscores and punctuation, curly quotes included, become spaces;
`True`/`False` read as yes/no; a yes/no/noanswer on either side must match exactly),
0 without both answer tags, minus 2 when the format rule fails: retrieval markers
unbalanced, the word "assistant" anywhere, anything but exactly one `</think>` and no
`<think>`, anything but one answer tag pair, retrieval markers inside the answer, more
than 10 words of answer, or CJK characters outside the retrieved documents.
"""

from __future__ import annotations

import string
from collections import Counter

__all__ = ["DOCS_CLOSE", "DOCS_OPEN", "f1", "normalize", "reward"]

# Curly quotes and the acute accent count as punctuation too.
_EXCLUDE = frozenset(string.punctuation + "\u2018\u2019\u00b4`")
DOCS_OPEN, DOCS_CLOSE = "<|begin_of_documents|>", "<|end_of_documents|>"
_MARKERS = (
    f"{DOCS_OPEN}\n",
    f"{DOCS_CLOSE}\n\n",
    "<|begin_of_query|>",
    "<|end_of_query|>",
    DOCS_OPEN,
    DOCS_CLOSE,
    f"{DOCS_OPEN}\n(1)",
)


def normalize(text: str) -> str:
    import re

    text = text.replace("_", " ").lower()
    text = "".join(" " if ch in _EXCLUDE else ch for ch in text)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def _bool(text: str) -> str:
    return {"True": "yes", "False": "no"}.get(text, text)


def f1(prediction: str, gold: str) -> float:
    mine, theirs = normalize(_bool(prediction)), normalize(_bool(gold))
    special = ("yes", "no", "noanswer")
    if (mine in special or theirs in special) and mine != theirs:
        return 0.0
    common = sum((Counter(mine.split()) & Counter(theirs.split())).values())
    if not common:
        return 0.0
    precision, recall = common / len(mine.split()), common / len(theirs.split())
    return 2 * precision * recall / (precision + recall)


def _without_documents(text: str) -> str:
    """`re.sub(r"<|begin_of_documents|>.*?<|end_of_documents|>", "", text, re.S)`, linear."""
    kept, pos = [], 0
    while (start := text.find(DOCS_OPEN, pos)) >= 0:
        end = text.find(DOCS_CLOSE, start + len(DOCS_OPEN))
        if end < 0:
            break
        kept.append(text[pos:start])
        pos = end + len(DOCS_CLOSE)
    kept.append(text[pos:])
    return "".join(kept)


def format_failures(solution: str, answer: str) -> list[str]:
    """The format rules the solution breaks (each costs the same -2 once)."""
    failures = []
    if len({solution.count(marker) for marker in _MARKERS}) != 1:
        failures.append("retrieval markers unbalanced")
    if "Assistant" in solution or "assistant" in solution:
        failures.append("says assistant")
    if solution.count("<think>") != 0 or solution.count("</think>") != 1:
        failures.append("think tags")
    if solution.count("<answer>") != 1 or solution.count("</answer>") != 1:
        failures.append("answer tags")
    if "begin_of_query" in answer or "begin_of_documents" in answer:
        failures.append("retrieval inside the answer")
    if len(answer.split()) > 10:
        failures.append("answer over 10 words")
    if any("\u4e00" <= ch <= "\u9fff" for ch in _without_documents(solution)):
        failures.append("CJK outside documents")
    return failures


def reward(solution: str, golds: tuple[str, ...]) -> tuple[float, dict[str, object]]:
    """R1-Searcher's reward (best F1 over the gold aliases) and its parts."""
    answer = solution.split("<answer>")[-1].split("</answer>")[0].strip()
    score = max(f1(answer, gold) for gold in golds)
    if "<answer>" not in solution or "</answer>" not in solution:
        score = 0.0
    failures = format_failures(solution, answer)
    details: dict[str, object] = {"answer": answer[:300], "f1": score, "format": failures}
    return (score - 2 if failures else score), details
