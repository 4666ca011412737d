"""The `code` verifier's function-call formats in the real sandbox: HumanEval (the whole
set, through the engine), MBPP, pytest files and APPS / TACO / verl ground truth.

HumanEval: tests/data/code/HumanEval.jsonl.gz, MIT (see HumanEval.LICENSE).
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rewardgate.testing import EngineHarness
from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.models import RewardRequest, RewardResult

HUMANEVAL = Path(__file__).resolve().parent.parent / "data" / "code" / "HumanEval.jsonl.gz"
VERIFIER = CodeVerifier()


def score(response: str, reference: Any, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="code", response=response, reference=reference, options=options
    )
    return VERIFIER.verify(request)


def humaneval() -> list[dict[str, Any]]:
    with gzip.open(HUMANEVAL, "rt") as f:
        return [json.loads(line) for line in f]


def labels(result: RewardResult) -> list[str | None]:
    return [step.label for step in result.steps or []]


# --- HumanEval ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_humaneval_canonical_pass_and_stubs_fail(
    verifier_engine: Callable[..., EngineHarness], backend: str
) -> None:
    rows = humaneval()
    assert len(rows) == 164
    items = []
    for row in rows:
        reference = {"test_code": row["test"], "entry_point": row["entry_point"]}
        for suffix, response in (
            ("", row["prompt"] + row["canonical_solution"]),
            ("-stub", row["prompt"] + "    return None\n"),
        ):
            items.append(
                {
                    "verifier": "code",
                    "id": row["task_id"] + suffix,
                    "response": response,
                    "reference": reference,
                    "options": {"backend": backend},
                }
            )
    engine = verifier_engine(CodeVerifier, workers=2)
    started = time.monotonic()
    results = engine.score(items)
    elapsed = time.monotonic() - started
    canonical, stubs = results[::2], results[1::2]
    assert [(r.id, r.status, r.error, r.details) for r in canonical if r.reward != 1.0] == []
    assert [
        (r.id, r.status, r.error, r.details) for r in stubs if not (r.ok and r.reward == 0)
    ] == []
    assert elapsed < 90, elapsed


def test_humaneval_prompt_helpers_are_trusted() -> None:
    # HumanEval/32 checks find_zero's root with the prompt's poly(); a response that
    # redefines poly to return 0 must not pass when the prompt is given.
    row = humaneval()[32]
    hack = row["prompt"] + "    return 0.0\n\n\ndef poly(xs, x):\n    return 0.0\n"
    with_prompt = {"test_code": row["test"], "entry_point": "find_zero", "prompt": row["prompt"]}
    assert score(hack, with_prompt).reward == 0.0
    assert score(row["prompt"] + row["canonical_solution"], with_prompt).reward == 1.0
    # Without the prompt the test calls the response's poly: documented limitation.
    assert score(hack, {"test_code": row["test"], "entry_point": "find_zero"}).reward == 1.0


def test_humaneval_helper_from_prompt_is_used() -> None:
    row = humaneval()[38]  # the test calls encode_cyclic, defined in the prompt
    reference = {"test_code": row["test"], "entry_point": row["entry_point"]}
    assert score(row["prompt"] + row["canonical_solution"], reference).reward == 1.0


def test_missing_entry_point() -> None:
    reference = {"test_code": "def check(c):\n    assert c(1) == 1\n", "entry_point": "f"}
    result = score("def other(x):\n    return x\n", reference)
    assert result.reward == 0.0 and labels(result) == ["wrong_answer"]
    assert "defines no f()" in result.details["failures"][0]["message"]


# --- MBPP -------------------------------------------------------------------------------------

MBPP = {
    "asserts": [
        "assert similar_elements((3, 4, 5, 6), (5, 7, 4, 10)) == (4, 5)",
        "assert similar_elements((1, 2, 3, 4), (5, 4, 3, 7)) == (3, 4)",
        "assert similar_elements((11, 12, 14, 13), (17, 15, 14, 13)) == (13, 14)",
    ],
    "setup_code": "",
}


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        (
            "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b)))\n",
            ["passed"] * 3,
        ),
        (
            "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b)))[:2]\n",
            ["passed", "passed", "passed"],
        ),
        (
            "def similar_elements(a, b):\n    return (4, 5)\n",
            ["passed", "wrong_answer", "wrong_answer"],
        ),
        (
            "def similar_elements(a, b):\n    return a[99]\n",
            ["runtime_error"] * 3,
        ),
        ("def similar_elements(a, b)\n    return a\n", ["compile_error"] * 3),
        ("import time\ndef similar_elements(a, b):\n    time.sleep(9)\n", ["time_limit"] * 3),
        ("while True:\n    pass\n", ["time_limit"] * 3),
        ("def similar_elements(a, b):\n    return bytearray(10**10)\n", ["memory_limit"] * 3),
        (
            "def similar_elements(a, b):\n    return {4, 5} if a[0] == 3 else (3, 4)\n",
            ["wrong_answer", "passed", "wrong_answer"],
        ),
    ],
    ids=[
        "correct",
        "also-correct",
        "hardcoded-first",
        "runtime",
        "syntax",
        "sleeps",
        "loops-at-import",
        "memory",
        "set-is-not-tuple",
    ],
)
def test_mbpp(program: str, expected: list[str]) -> None:
    result = score(program, MBPP, time_limit_s=1)
    assert labels(result) == expected, result.details
    assert result.reward == pytest.approx(expected.count("passed") / 3)


def test_mbpp_setup_code_runs_first() -> None:
    reference = {"asserts": ["assert area(2) == math.pi * 4"], "setup_code": "import math"}
    assert score("import math\ndef area(r):\n    return math.pi * r * r\n", reference).reward == 1.0


# --- pytest files -------------------------------------------------------------------------------

TEST_FILE = """
import pytest
from solution import add, divide


def test_add():
    assert add(2, 3) == 5


@pytest.mark.parametrize("a, b, total", [(1, 1, 2), (0, 0, 0), pytest.param(-1, 1, 0)])
def test_add_cases(a, b, total):
    assert add(a, b) == total


def test_divide():
    assert divide(1, 3) == pytest.approx(0.3333333)


def test_divide_by_zero():
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)


class TestMore:
    def test_add_strings(self):
        assert add("a", "b") == "ab"
"""


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        (
            "def add(a, b):\n    return a + b\n\ndef divide(a, b):\n    return a / b\n",
            ["passed"] * 7,
        ),
        (
            "def add(a, b):\n    return a + b\n\n"
            "def divide(a, b):\n    return a // b if b else 0\n",
            ["passed"] * 4 + ["wrong_answer", "wrong_answer", "passed"],
        ),
    ],
    ids=["correct", "integer-division"],
)
def test_pytest_file(program: str, expected: list[str]) -> None:
    result = score(program, {"test_file": TEST_FILE})
    assert labels(result) == expected, result.details
    names = [step.details.get("name") for step in result.steps or []]
    assert names[:4] == ["test_add", "test_add_cases[0]", "test_add_cases[1]", "test_add_cases[2]"]


def test_pytest_max_tests_and_stop_on_first_failure() -> None:
    program = "def add(a, b):\n    return a - b\n\ndef divide(a, b):\n    return a / b\n"
    result = score(program, {"test_file": TEST_FILE}, max_tests=3)
    assert labels(result) == ["wrong_answer", "wrong_answer", "passed"]
    result = score(program, {"test_file": TEST_FILE}, stop_on_first_failure=True)
    assert labels(result) == ["wrong_answer"] + ["skipped"] * 6


def test_pytest_file_with_broken_program_fails_every_test() -> None:
    result = score("def add(a, b) return a + b", {"test_file": TEST_FILE})
    assert result.reward == 0.0 and set(labels(result)) == {"compile_error"}


# --- APPS / TACO / verl ------------------------------------------------------------------------

APPS_STDIO = {"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "7\n"]}


@pytest.mark.parametrize(
    ("program", "reference", "reward"),
    [
        ("a, b = map(int, input().split())\nprint(a + b)", APPS_STDIO, 1.0),
        # APPS leniency: surrounding whitespace and blank lines do not matter.
        ("a, b = map(int, input().split())\nprint('\\n  ', a + b, ' ')", APPS_STDIO, 1.0),
        # verl's prelude: math names are already imported.
        ("a, b = map(int, input().split())\nprint(floor(a + b))", APPS_STDIO, 1.0),
        ("print(3)", APPS_STDIO, 0.5),
        # verl's ground_truth arrives as a JSON string.
        ("a, b = map(int, input().split())\nprint(a + b)", json.dumps(APPS_STDIO), 1.0),
        # Call-based, prime style: one JSON value per line in each input string.
        (
            "def add(a, b):\n    return a + b\n",
            {"inputs": ["1\n2", "[1]\n[2]"], "outputs": ["3", "[1, 2]"], "fn_name": "add"},
            1.0,
        ),
        # Call-based, APPS style: argument lists, outputs wrapped in a list, tuples as lists.
        (
            "def pair(a):\n    return (a, a + 1)\n",
            {"inputs": [[1], [5]], "outputs": [[[1, 2]], [[5, 6]]], "fn_name": "pair"},
            1.0,
        ),
        # LeetCode style.
        (
            "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
            "        seen = {}\n        for i, x in enumerate(nums):\n"
            "            if target - x in seen:\n                return [seen[target - x], i]\n"
            "            seen[x] = i\n",
            {
                "inputs": [[[2, 7, 11, 15], 9], [[3, 2, 4], 6]],
                "outputs": [[0, 1], [1, 2]],
                "fn_name": "twoSum",
            },
            1.0,
        ),
        (
            "def add(a, b):\n    return a - b\n",
            {"inputs": ["1\n2", "2\n0"], "outputs": ["3", "2"], "fn_name": "add"},
            0.5,
        ),
    ],
    ids=[
        "stdio",
        "stdio-lenient",
        "stdio-prelude",
        "stdio-half",
        "stdio-json-string",
        "call-prime",
        "call-apps-wrapped",
        "call-leetcode",
        "call-half",
    ],
)
def test_apps(program: str, reference: Any, reward: float) -> None:
    result = score(f"```python\n{program}\n```", reference)
    assert result.reward == reward, result.details


def test_apps_c_stdio() -> None:
    program = '#include <stdio.h>\nint main(){int a,b;scanf("%d%d",&a,&b);printf("%d\\n",a+b);}'
    result = score(f"```c\n{program}\n```", {**APPS_STDIO, "language": "c"})
    assert result.reward == 1.0


def test_apps_max_tests_calls() -> None:
    reference = {"inputs": [[1], [100000], [22]], "outputs": [[1], [0], [22]], "fn_name": "f"}
    result = score("def f(x):\n    return x\n", reference, max_tests=2)
    assert result.reward == 0.5
    assert [step.details["test"] for step in result.steps or []] == [1, 2]


def test_exceptions_cross_as_their_nearest_builtin_class() -> None:
    test_file = (
        "import pytest\nfrom solution import parse\n\n"
        "def test_rejects_bad_input():\n    with pytest.raises(ValueError, match='bad'):\n"
        "        parse('x')\n"
    )
    program = (
        "class BadInput(ValueError):\n    pass\n\ndef parse(s):\n    raise BadInput('bad: ' + s)\n"
    )
    assert score(program, {"test_file": test_file}).reward == 1.0
    result = score("def parse(s):\n    raise KeyError(s)\n", {"test_file": test_file})
    assert labels(result) == ["runtime_error"]
