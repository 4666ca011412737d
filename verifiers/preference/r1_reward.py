"""R1-Reward's reward (yfzhang114/r1_reward, `openrlhf/models/remote_rm/math_verifier_mllm.py`).

The paper trains its multimodal reward model with `0.5 * format + accuracy * (1 + 0.5 *
consistency)`:

- format: the judgement is exactly `<think>...</think><answer>...</answer>`, one of
  each tag (`verify_format`), after the chat template's end-of-sentence markers are
  removed and the text is stripped (`get_response_from_query`);
- accuracy: the first `<answer>...</answer>` (or the whole text without one), less
  phrases such as "The answer is", is the gold response's number (`"1"` / `"2"`), which
  the paper checks with math-verify (the same engine the `math` verifier wraps, so the
  answer `2-1` or `Response 1` counts as 1, as it does there);
- consistency: an LLM referee's word on whether the reasoning's conclusion agrees with
  the answer: 1, -1, or 0 when the referee gives nothing readable. The service runs no
  referee for this preset: a trainer that runs one passes its verdict per item as
  `options.consistency`; without it the term is 0, the paper's own value when its
  referee does not answer.

Where we differ from the paper's code, on purpose: an answer naming both responses (`1
or 2`, `1, 2`) earns no accuracy (the paper's math-verify call reads the last number and
credits a hedge), `[[1]]` reads as 1 (the paper's reads nothing), an accuracy check
that raises is no accuracy (the paper's code gives 1.0 for any exception), and a stated
answer over MAX_ANSWER_CHARS is not read (no accuracy; `details.reason` says so), nor
one holding an unclosed `<answer>` (the paper's check, on the one such case computed,
reads nothing either).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.base import Verdict
from rewardgate.verifiers.qa.tags import first_answer

if TYPE_CHECKING:
    from rewardgate.verifiers.math.models import MathOptions

__all__ = ["ANSWER_PREFIXES", "END_OF_SENTENCE", "r1_reward", "r1_reward_format"]

END_OF_SENTENCE = ("<|im_end|>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "<|endoftext|>")
ANSWER_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer: ",
    "Answer: ",
    "The best option is",
    "The correct option is",
    "Best answer:",
    "Best option:",
)
# A stated answer longer than this (a judgement with no `<answer>` is read whole) is not
# read: the paper expects "1" or "2", and reading a long text costs the `math` verifier's
# whole extraction.
MAX_ANSWER_CHARS = 4_000
# The paper's pattern; it runs only once each tag is known to occur once, which keeps it
# linear (one candidate for each lazy group).
_FORMAT = re.compile(r"^<think>.*?</think><answer>.*?</answer>$", re.DOTALL)


def judgement_text(response: str) -> str:
    """The judgement as the paper's server sees it: end-of-sentence markers out, stripped."""
    for marker in END_OF_SENTENCE:
        response = response.replace(marker, "")
    return response.strip()


def r1_reward_format(text: str) -> bool:
    """`verify_format`: exactly one `<think>` and one `<answer>`, in the paper's layout."""
    return (
        text.count("<think>") == 1
        and text.count("<answer>") == 1
        and _FORMAT.match(text) is not None
    )


def stated_answer(text: str) -> str:
    """The first `<answer>` (else the whole text), stripped, less the paper's phrases."""
    tagged = first_answer(text)
    answer = (tagged if tagged is not None else text).strip()
    for prefix in ANSWER_PREFIXES:
        answer = answer.replace(prefix, "")
    return answer


@lru_cache(maxsize=1)
def _math_options() -> MathOptions:
    from rewardgate.verifiers.math.models import MathOptions

    return MathOptions()


def answer_is(answer: str, gold: int) -> tuple[bool, str | None]:
    """Whether the stated answer reads as the gold response's number, and why not if unread.

    An answer still holding an `<answer>` tag (one never closed) is not read: the paper's
    check reads nothing there either, and the `math` verifier's own tag regex is
    quadratic on such text.
    """
    if len(answer) > MAX_ANSWER_CHARS:
        return False, f"answer of {len(answer)} characters, over {MAX_ANSWER_CHARS}"
    if "<answer>" in answer:
        return False, "unclosed <answer>"
    from rewardgate.verifiers.math.judge import judge

    return judge(answer, str(gold), _math_options()).reward >= 1.0, None


def r1_reward(response: str, gold: int, consistency: int | None) -> Verdict:
    """The paper's reward and its three terms in `details`."""
    text = judgement_text(response)
    formatted = r1_reward_format(text)
    answer = stated_answer(text)
    correct, unread = answer_is(answer, gold)
    accuracy = 1.0 if correct else 0.0
    reward = 0.5 * float(formatted) + accuracy * (1 + 0.5 * (consistency or 0))
    details: dict[str, Any] = {
        "preferred": gold,
        "answer": answer[:300],
        "format": formatted,
        "correct": correct,
        "consistency": consistency,
    }
    if unread is not None:
        details["reason"] = unread
    return Verdict(reward, details=details)
