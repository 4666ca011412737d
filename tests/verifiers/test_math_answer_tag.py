"""The math verifier's `<answer>` reading: the regex's spans, found in one pass.

`re.findall(r"<answer>(.*?)</answer>", re.S | re.I)` is quadratic on a response of many
unclosed tags (800 KB of them took minutes: a policy under RL finds such inputs); the
scan must give the same last span on every input.
"""

from __future__ import annotations

import random
import re

from rewardgate.verifiers.math.judge import _last_answer_tag

REGEX = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
PIECES = ["<answer>", "</answer>", "<ANSWER>", "</Answer>", "x", "1", " ", "\n", "<answer"]
PIECES += ["answer>", "</", "İ", "ß"]


def test_the_scan_gives_the_regexs_last_span() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14)))
        spans = REGEX.findall(text)
        assert _last_answer_tag(text) == (spans[-1] if spans else None), text


def test_many_unclosed_tags_are_read_at_once() -> None:
    assert _last_answer_tag("<answer>1 " * 100_000) is None
    assert _last_answer_tag("<answer>1 " * 100_000 + "</answer>") == "1 " + "<answer>1 " * 99_999
