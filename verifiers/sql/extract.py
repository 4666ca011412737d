"""Finding the query in a model's output, and SQL-R1's format check.

The generic rule: the last fenced ```sql block, else the whole text; a trailing `;`
is tolerated. SQL-R1's rule (used when a reward weighs the format stage): exactly one
`<think>...</think>` followed by exactly one `<answer>...</answer>`, and the query is
the last ```sql block inside the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewardgate.verifiers.qa.tags import tag_contents

__all__ = ["Format", "check_format", "extract_query", "strip_query"]

_SQL_BLOCK = re.compile(r"```sql(?!\w)[ \t]*\n?(.*?)```", re.S | re.I)
# SQL-R1's own patterns (verl/utils/reward_score/synsql.py): case-sensitive `sql` fence.
_R1_SQL_BLOCK = re.compile(r"```sql(.*?)```", re.S)
_R1_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def strip_query(text: str) -> str:
    """The query without surrounding blanks and trailing semicolons."""
    return text.strip().rstrip(";").strip()


def extract_query(response: str) -> str:
    """The last ```sql block, else the whole response; "" when nothing is left."""
    blocks = _SQL_BLOCK.findall(response)
    return strip_query(blocks[-1] if blocks else response)


@dataclass(frozen=True)
class Format:
    """SQL-R1's verdict on the layout, and the parts its length bonus measures."""

    ok: bool
    query: str  # as SQL-R1 measures it: whitespace collapsed, semicolon kept
    think: str
    answer: str
    why: str | None = None


def check_format(response: str) -> Format:
    """SQL-R1's `validate_response_structure`: each tag once, in order, SQL in the answer."""
    # SQL-R1's `<answer>(.*?)</answer>` and `<think>(.*?)</think>` spans, read in one
    # pass: the regexes are quadratic on many unclosed tags.
    answers = tag_contents(response, "answer")
    thinks = tag_contents(response, "think")
    answer = answers[-1].strip() if answers else ""
    think = thinks[-1].strip() if thinks else ""
    counts = {tag: response.count(tag) for tag in _R1_TAGS}
    wrong = [tag for tag, count in counts.items() if count != 1]
    if wrong:
        return Format(False, "", think, answer, f"tags not exactly once: {', '.join(wrong)}")
    positions = [response.find(tag) for tag in _R1_TAGS]
    if positions != sorted(positions):
        return Format(False, "", think, answer, "expected <think>...</think><answer>...</answer>")
    blocks = _R1_SQL_BLOCK.findall(answer)
    # SQL-R1 collapses whitespace before running the query and measuring its length.
    query = re.sub(r"\s+", " ", blocks[-1].strip()) if blocks else ""
    if not query:
        return Format(False, "", think, answer, "no ```sql block in the answer")
    return Format(True, query, think, answer)
