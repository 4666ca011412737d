"""rewardgate against reasoning-gym's own scorers on items its generators make.

reasoning-gym (PyPI, Apache-2.0) generates procedural algebra and arithmetic items and
judges answers with each task's `score_answer`. For every item we send the gold, a
LaTeX spelling of it and near misses (one number changed, a list item dropped, added
or reordered); rewardgate must never pay an answer `score_answer` does not (no false
positive), and may differ the other way only where listed below with the reason.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import pytest
import reasoning_gym

from rewardgate.verifiers.math import MathVerifier
from rewardgate.verifiers.models import RewardRequest

TASKS = [
    "polynomial_multiplication",
    "simple_integration",
    "intermediate_integration",
    "simple_equations",
    "polynomial_equations",
    "complex_arithmetic",
    "basic_arithmetic",
    "fraction_simplification",
    "decimal_arithmetic",
    "chain_sum",
    "decimal_chain_sum",
    "gcd",
    "lcm",
    "products",
    "power_function",
]
ITEMS_PER_TASK = 5
VERIFIER = MathVerifier()
_INTEGER = re.compile(r"(?<![\d.])\d+(?![\d.])")


def variants(task: str, gold: str) -> Iterator[tuple[str, str]]:
    """(kind, answer) pairs: the gold, its LaTeX spelling, near misses."""
    yield "gold", gold
    latex = _latex(task, gold)
    if latex is not None:
        yield "latex", latex
    for count, match in enumerate(_INTEGER.finditer(gold)):
        if count == 4:
            break
        changed = str(int(match.group()) + 1)
        yield "one_number", gold[: match.start()] + changed + gold[match.end() :]
    if ", " in gold:
        items = gold.split(", ")
        yield "dropped_item", ", ".join(items[:-1])
        yield "extra_item", ", ".join([*items, "99"])
        yield "reordered", ", ".join(reversed(items))
    if gold.endswith(" + C"):
        yield "no_constant", gold[: -len(" + C")]


def _latex(task: str, gold: str) -> str | None:
    """The gold as a model would write it in LaTeX (sympy parses the trusted gold here)."""
    import sympy

    if "integration" not in task and "polynomial_multiplication" not in task:
        return None
    body = gold[: -len(" + C")] if gold.endswith(" + C") else gold
    latex = sympy.latex(sympy.parse_expr(body))
    return latex + (" + C" if body != gold else "")


# Where rewardgate gives 0 and score_answer 1, and why score_answer is the one that
# is wrong (or lenient beyond what the item's gold states).
KNOWN_DISAGREEMENTS = {
    # score_answer checks the derivative, so any constant (or none) passes; the gold
    # states `+ C`, and rewardgate compares with the gold as written.
    ("simple_integration", "no_constant"),
    ("intermediate_integration", "no_constant"),
    # score_answer rounds to a tolerance (exp(-distance) or an absolute epsilon), so a
    # changed last digit of a long decimal still scores 1; rewardgate compares to the
    # 6 decimal places of math-verify's default `float_rounding`.
    ("decimal_arithmetic", "one_number"),
    ("power_function", "one_number"),
    ("polynomial_equations", "one_number"),
    ("decimal_chain_sum", "one_number"),
    # sympy prints the natural logarithm of a Python-style gold as `\\log`, which
    # LaTeX readers (latex2sympy, as math-verify) take as base 10: a notation clash.
    ("intermediate_integration", "latex"),
}


@functools.lru_cache(maxsize=1)
def cases() -> list[Any]:
    params = []
    for task in TASKS:
        dataset = reasoning_gym.create_dataset(task, size=ITEMS_PER_TASK, seed=2026)
        for index in range(ITEMS_PER_TASK):
            entry = dataset[index]
            for kind, answer in variants(task, entry["answer"]):
                params.append(
                    pytest.param(task, dataset, index, kind, answer, id=f"{task}-{index}-{kind}")
                )
    return params


@pytest.mark.slow
def test_no_false_positive_against_score_answer() -> None:
    false_positives = []
    disagreements = []
    all_cases = cases()
    for param in all_cases:
        task, dataset, index, kind, answer = param.values
        entry = dataset[index]
        # score_answer parses with sympy's Python reader and cannot read LaTeX; the LaTeX
        # spelling is sympy's own printing of the gold, so it is right when the gold is.
        scored = entry["answer"] if kind == "latex" else answer
        expected = dataset.score_answer(scored, entry)
        request = RewardRequest(
            verifier="math", response=f"\\boxed{{{answer}}}", reference=entry["answer"]
        )
        result = VERIFIER.verify(request)
        assert result.ok, (task, answer, result.error)
        if result.reward == 1.0 and expected < 1.0:
            false_positives.append((task, kind, entry["answer"], answer, expected))
        if result.reward == 0.0 and expected == 1.0:
            disagreements.append((task, kind, entry["answer"], answer, result.details))
    assert not false_positives
    unexplained = [d for d in disagreements if (d[0], d[1]) not in KNOWN_DISAGREEMENTS]
    assert not unexplained
    golds = sum(1 for param in all_cases if param.values[3] == "gold")
    assert golds == len(TASKS) * ITEMS_PER_TASK
    assert len(all_cases) > 2 * golds  # near misses were sent too
