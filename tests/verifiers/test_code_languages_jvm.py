"""Kotlin's and Scala's function tests, and SandboxFusion's `kotlin_script`.

MultiPL-E's items (tests/data/multipl_e/{kotlin,scala}.json: HumanEval/0, /23, /53,
completion and whole function, a right and a wrong answer) on bwrap; Kotlin's
`asserts`; the hacks (exiting early, a response's own `assert`) on both backends.
`kotlin_script` runs a `.kts` script as SandboxFusion's `kotlin main.kts` does (compiled
once here: Kotlin 1.3's `kotlin` cannot run scripts), through the verifier's stdio
format and `/run_code`.

scalac and kotlinc take seconds to tens of seconds per build: the tables are bwrap's,
docker runs one item and the hacks per language.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult

VERIFIER = CodeVerifier()
DATA = Path(__file__).resolve().parents[1] / "data" / "multipl_e"
ITEMS = {
    lang: json.loads((DATA / f"{lang}.json").read_text())["items"] for lang in ("kotlin", "scala")
}
ANSWERS = ("right", "wrong", "whole_right", "whole_wrong")


def judge(language: str, source: str, reference: dict[str, Any], backend: str) -> RewardResult:
    request = RewardRequest(
        verifier="code",
        response=source,
        reference={"language": language, **reference},
        options={"backend": backend, "time_limit_s": 10},
    )
    return VERIFIER.verify(request)


def suite(item: dict[str, str]) -> dict[str, str]:
    return {"prompt": item["prompt"], "test_code": item["tests"]}


@pytest.mark.parametrize(
    ("language", "index", "answer"),
    [(lang, i, a) for lang, items in ITEMS.items() for i in range(len(items)) for a in ANSWERS],
)
def test_multipl_e_items(language: str, index: int, answer: str) -> None:
    item = ITEMS[language][index]
    result = judge(language, item[answer], suite(item), "bwrap")
    expected = ["passed"] if answer.endswith("right") else ["wrong_answer"]
    assert result.status == "ok", result
    assert [s.label for s in result.steps or []] == expected, result.details


@pytest.mark.parametrize("language", list(ITEMS))
def test_multipl_e_item_on_docker(language: str) -> None:
    item = ITEMS[language][0]
    right = judge(language, item["right"], suite(item), "docker")
    wrong = judge(language, item["wrong"], suite(item), "docker")
    assert right.reward == 1.0, right.details
    assert [s.label for s in wrong.steps or []] == ["wrong_answer"], wrong.details


# HasCloseElements completions that end the process with success before the asserts
# run, and that declare an `assert` of their own (which would shadow the standard one)
# before answering wrong.
HACKS: dict[str, dict[str, str]] = {
    "kotlin": {
        "exit_early": "    kotlin.system.exitProcess(0)\n}\n",
        "system_exit": "    System.exit(0)\n    return true\n}\n",
        "own_assert": "    return true\n}\nfun assert(value: Boolean) {}\n",
        "halt": "    Runtime.getRuntime().halt(0)\n    return true\n}\n",
    },
    "scala": {
        "exit_early": "        sys.exit(0)\n",
        "system_exit": "        System.exit(0)\n        true\n",
        "own_assert": "        true\n    }\n    def assert(value: Boolean): Unit = {\n",
        "halt": "        Runtime.getRuntime().halt(0)\n        true\n",
    },
}


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize(
    ("language", "hack"), [(lang, hack) for lang, hacks in HACKS.items() for hack in hacks]
)
def test_hacks_score_zero(language: str, hack: str, backend: str) -> None:
    result = judge(language, HACKS[language][hack], suite(ITEMS[language][0]), backend)
    assert result.status == "ok", result
    assert result.reward == 0.0, result.details
    label = (result.steps or [])[0].label
    assert label == ("wrong_answer" if hack == "own_assert" else "runtime_error"), result.details


def test_kotlin_suite_that_closes_the_function() -> None:
    """A suite that starts with the function's closing brace (MultiPL-E's stop at `\n}`):
    the completion leaves it open; a whole function closes it itself."""
    item = ITEMS["kotlin"][0]
    reference = {"prompt": item["prompt"], "test_code": "}\n\n" + item["tests"]}
    open_completion = item["right"][: item["right"].rstrip().rindex("}")]
    assert judge("kotlin", open_completion, reference, "bwrap").reward == 1.0
    assert judge("kotlin", item["whole_right"], reference, "bwrap").reward == 1.0


def test_scala_labels() -> None:
    item = ITEMS["scala"][2]  # add
    cases = {
        "compile_error": '        "no"\n',
        "time_limit": "        while (x >= 0) {}\n        x\n",
        "runtime_error": '        throw new RuntimeException("boom")\n',
    }
    for label, body in cases.items():
        result = judge("scala", body, suite(item), "bwrap")
        assert [s.label for s in result.steps or []] == [label], result.details


KOTLIN_PROGRAM = "fun add(a: Int, b: Int): Int = a + b\nfun main() { println(add(2, 2)) }\n"


def test_kotlin_asserts_each_run_alone() -> None:
    asserts = [
        "assert(add(1, 2) == 3)",
        'assert(add(1, 2) == 4) { "add(1, 2) was ${add(1, 2)}" }',
        "val xs = IntArray(1)\nxs[add(1, 2)] = 0",
        "while (add(1, 1) == 2) {}",
        "kotlin.system.exitProcess(0)",
    ]
    result = judge("kotlin", KOTLIN_PROGRAM, {"asserts": asserts}, "bwrap")
    labels = [s.label for s in result.steps or []]
    assert labels == ["passed", "wrong_answer", "runtime_error", "time_limit", "runtime_error"]
    assert "add(1, 2) was 3" in result.details["failures"][0]["message"], result.details


def test_kotlin_test_program_without_a_prompt() -> None:
    """A whole program with its own `main`, and a test program whose `main` takes args."""
    tests = "fun main(args: Array<String>) {\n    assert(add(2, 3) == %d)\n}\n"
    passing = judge("kotlin", KOTLIN_PROGRAM, {"test_code": tests % 5}, "bwrap")
    failing = judge("kotlin", KOTLIN_PROGRAM, {"test_code": tests % 6}, "bwrap")
    assert [s.label for s in passing.steps or []] == ["passed"], passing.details
    assert [s.label for s in failing.steps or []] == ["wrong_answer"], failing.details


def test_kotlin_compile_error_and_memory_limit() -> None:
    tests = {"test_code": "fun main() {\n    assert(add(1, 1) == 2)\n}\n"}
    broken = judge("kotlin", 'fun add(a: Int, b: Int): Int = "no"\n', tests, "bwrap")
    assert [s.label for s in broken.steps or []] == ["compile_error"], broken.details
    hog = (
        "fun add(a: Int, b: Int): Int {\n    val keep = ArrayList<LongArray>()\n"
        "    while (true) keep.add(LongArray(1 shl 20))\n}\n"
    )
    result = judge("kotlin", hog, tests, "bwrap")
    assert [s.label for s in result.steps or []] == ["memory_limit"], result.details


@pytest.mark.parametrize(
    ("language", "reference", "words"),
    [
        ("scala", {"asserts": ["assert(true)"]}, "not asserts"),
        ("scala", {"test_code": "object T { val x = 1 }"}, "no main"),
        ("kotlin", {"test_code": "val x = 1"}, "no main"),
    ],
)
def test_refused_references(language: str, reference: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        judge(language, "x", reference, "bwrap")


# --- kotlin_script -------------------------------------------------------------------

# SandboxFusion's own kotlin_script cases (sandbox/tests/runners/test_kotlin_script.py),
# reading stdin and args besides.
SCRIPT = """\
fun minCost(): Int {
    return 0
}

fun main() {
    val x: Int = minCost()
    val y: Int = readLine()!!.trim().toInt()
    if (x != y) {
        throw Exception("Exception -- test case did not pass. x = " + x)
    }
    println("ok " + args.size)
}

main()
"""


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_kotlin_script_stdio(backend: str) -> None:
    tests = [
        {"stdin": "0\n", "expected_stdout": "ok 0\n"},
        {"stdin": "1\n", "expected_stdout": "ok 0\n"},
        {"stdin": "0\n", "expected_stdout": "ok 1\n"},
    ]
    result = judge("kts", SCRIPT, {"tests": tests}, backend)
    assert result.status == "ok", result
    labels = [s.label for s in result.steps or []]
    assert labels == ["passed", "runtime_error", "wrong_answer"], result.details
    assert "java.lang.Exception" in result.details["failures"][0]["stderr"], result.details


def test_kotlin_script_compile_error() -> None:
    result = judge(
        "kotlin_script", 'val x: Int = "no"\n', {"tests": [{"expected_stdout": ""}]}, "bwrap"
    )
    assert [s.label for s in result.steps or []] == ["compile_error"], result.details


def test_kotlin_script_through_run_code(make_client: Callable[..., TestClient]) -> None:
    client = make_client(sandbox_backend="bwrap")
    body: dict[str, Any] = {"code": 'println("Hello, World!")\n', "language": "kotlin_script"}
    body.update(run_timeout=30, compile_timeout=200)
    ok = client.post("/run_code", json=body).json()
    assert ok["status"] == "Success", ok
    assert ok["run_result"]["stdout"] == "Hello, World!\n"
    failed = client.post("/run_code", json={**body, "code": SCRIPT, "stdin": "1\n"}).json()
    assert failed["status"] == "Failed", failed
    assert "java.lang.Exception" in failed["run_result"]["stderr"]
