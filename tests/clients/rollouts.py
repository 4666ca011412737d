"""GRPO-style rollouts for the trainer-adapter tests: 16 problems x 4 completions = 64,
and the two places an adapter scores (in-process, or a real server at $REWARDGATE_URL).

Each problem's group holds a correct boxed answer in another form than the gold, a
wrong boxed answer, a correct answer in a final-answer sentence, and a refusal, so a
group's rewards are [1, 0, 1, 0] and a mix-up of rows shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rewardgate.clients import LocalClient, RewardClient
from rewardgate.clients.connect import URL_ENV, close_shared
from tests.clients.support import metrics_of, request_count

PROBLEMS: list[tuple[str, str, str, str]] = [
    # question, gold, the gold in another form, a wrong answer
    ("What is 1/2 + 1/4?", "\\frac{3}{4}", "0.75", "\\frac{2}{6}"),
    ("What is 2 + 2?", "4", "\\sqrt{16}", "5"),
    ("Solve x^2 = 9 for x > 0.", "3", "3.0", "-3"),
    ("What is 10% of 50?", "5", "\\frac{10}{2}", "0.5"),
    ("Simplify 6/8.", "\\frac{3}{4}", "\\frac{6}{8}", "\\frac{4}{3}"),
    ("How many sides has a hexagon?", "6", "6", "8"),
    ("What is 7 * 8?", "56", "56", "54"),
    ("What is sqrt(2) squared?", "2", "\\sqrt{2}^2", "\\sqrt{2}"),
    ("Solve 2x + 1 > 5.", "x > 2", "(2, \\infty)", "x < 2"),
    ("What is 1 + 1/3?", "\\frac{4}{3}", "1\\frac{1}{3}", "\\frac{2}{3}"),
    ("What is 3^4?", "81", "81", "64"),
    ("What is 0.1 + 0.2?", "0.3", "\\frac{3}{10}", "0.4"),
    ("What is 12 / 4?", "3", "3", "4"),
    ("What is pi to two places?", "3.14", "3.14", "3.41"),
    ("What is 100 - 37?", "63", "63", "73"),
    ("What is 2^10?", "1024", "1024", "1000"),
]
GROUP_REWARDS = [1.0, 0.0, 1.0, 0.0]


@dataclass(frozen=True)
class Rollout:
    prompt: str
    completion: str
    gold: str


def math_rollouts() -> list[Rollout]:
    rollouts = []
    for question, gold, same, wrong in PROBLEMS:
        prompt = f"Solve and put the final answer in \\boxed{{}}.\n{question}\n"
        for completion in (
            f"Working it out carefully, the result is $\\boxed{{{same}}}$.",
            f"I get $\\boxed{{{wrong}}}$.",
            f"Step by step... The final answer is ${same}$.",
            "I cannot solve this.",
        ):
            rollouts.append(Rollout(prompt, completion, gold))
    return rollouts


def expected_math_rewards() -> list[float]:
    return GROUP_REWARDS * len(PROBLEMS)


def math_items(rollouts: list[Rollout]) -> list[dict[str, Any]]:
    """The same rollouts as direct client items."""
    return [{"verifier": "math", "response": r.completion, "reference": r.gold} for r in rollouts]


# verl's code datasets store APPS-style tests as a JSON string.
ADD_STDIO = json.dumps({"inputs": ["1 2\n", "5 7\n"], "outputs": ["3\n", "12\n"]})
ADD_CALL = json.dumps({"inputs": [[1, 2], [5, 7]], "outputs": [3, 12], "fn_name": "add"})
GOOD_STDIO = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
BAD_STDIO = "```python\na, b = map(int, input().split())\nprint(a * b)\n```"
GOOD_CALL = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```"
BAD_CALL = "```python\ndef add(a, b):\n    return a - b\n```"


@dataclass
class Mode:
    """Where the adapters under test score, and a direct client to compare them with."""

    name: str
    url: str | None

    def direct(self) -> RewardClient | LocalClient:
        return RewardClient(self.url) if self.url else LocalClient()

    def requests(self) -> int:
        """POST /v1/rewards answered by the server so far (0 in-process)."""
        return request_count(metrics_of(self.url), 200) if self.url else 0


MODES = ["in-process", "remote"]


def adapter_mode(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, live_server: Callable[..., Any]
) -> Iterator[Mode]:
    """Set the environment an adapter reads, as a trainer's process would have it."""
    monkeypatch.delenv("REWARDGATE_CONFIG", raising=False)
    monkeypatch.setenv("REWARDGATE_WORKERS", "1")
    monkeypatch.setenv("REWARDGATE_ASSET_DIR", str(tmp_path / "assets"))
    if name == "remote":
        url = live_server(workers=2).url
        monkeypatch.setenv(URL_ENV, url)
    else:
        url = None
        monkeypatch.delenv(URL_ENV, raising=False)
    try:
        yield Mode(name, url)
    finally:
        close_shared()
