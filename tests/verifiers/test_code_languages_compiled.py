"""C# (Mono), D, D's unittest mode, Scala 2.11, Kotlin 1.3 and Verilog (Icarus): stdio
tests on both backends; D's function tests (asserts, MultiPL-E's unittest suites, the
hacks) and C#'s (MultiPL-E's Debug.Assert suites, the hacks); Scala's, Kotlin's and
Verilog's are in test_code_languages_jvm.py and test_code_languages_verilog.py, and the
stdio-only ids' function formats are refused as `invalid`.

Each language builds two programs: one that fails to compile, and one whose behaviour
the input picks (the sum, an exception, an endless loop), so a single build yields
`passed`, `wrong_answer` (a wrong expected output), `runtime_error` and `time_limit`:
scalac and kotlinc take tens of seconds per build on a busy machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult

VERIFIER = CodeVerifier()
# a b -> a + b; a = 7 fails at run time; a = 8 never ends.
TESTS = [
    {"stdin": "1 2\n", "expected_stdout": "3\n"},
    {"stdin": "40 2\n", "expected_stdout": "41\n"},
    {"stdin": "7 0\n", "expected_stdout": "7\n"},
    {"stdin": "8 0\n", "expected_stdout": "8\n"},
]
LABELS = ["passed", "wrong_answer", "runtime_error", "time_limit"]

PROGRAMS: dict[str, str] = {
    "csharp": "using System;\nclass Program { static void Main() {"
    " var p = Console.ReadLine().Split(' '); long a = long.Parse(p[0]), b = long.Parse(p[1]);"
    ' if (a == 7) throw new Exception("boom"); while (a == 8) {}'
    " Console.WriteLine(a + b); } }\n",
    "d": 'import std.stdio;\nvoid main() { long a, b; readf(" %d %d", &a, &b);'
    ' if (a == 7) throw new Exception("boom"); while (a == 8) {} writeln(a + b); }\n',
    "scala": "object Solution { def main(args: Array[String]): Unit = {"
    ' val Array(a, b) = scala.io.StdIn.readLine().trim.split(" ").map(_.toLong);'
    ' if (a == 7) throw new RuntimeException("boom"); while (a == 8) {}; println(a + b) } }\n',
    "kotlin": 'fun main() { val (a, b) = readLine()!!.trim().split(" ").map { it.toLong() };'
    ' if (a == 7L) throw RuntimeException("boom"); while (a == 8L) {}; println(a + b) }\n',
    "verilog": "module main;\n  integer a, b, r;\n  initial begin\n"
    '    r = $fscanf(32\'h8000_0000, "%d %d", a, b);\n'
    '    if (a == 7) $fatal(1, "boom");\n    if (a == 8) forever #1 ;\n'
    '    $display("%0d", a + b);\n    $finish;\n  end\nendmodule\n',
}
COMPILE_ERRORS: dict[str, str] = {
    "csharp": "class Program { static void Main() { int x = ; } }\n",
    "d": "void main() { int x = ; }\n",
    "scala": 'object Main { def main(args: Array[String]): Unit = { val x: Int = "no" } }\n',
    "kotlin": 'fun main() { val x: Int = "no" }\n',
    "verilog": "module main;\n  initial begin\n    $display(;\n  end\nendmodule\n",
}


def judge(language: str, source: str, reference: dict[str, Any], backend: str) -> RewardResult:
    request = RewardRequest(
        verifier="code",
        response=source,
        reference={"language": language, **reference},
        options={"backend": backend, "time_limit_s": 5},
    )
    return VERIFIER.verify(request)


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize("language", list(PROGRAMS))
def test_stdio_labels(language: str, backend: str) -> None:
    result = judge(language, PROGRAMS[language], {"tests": TESTS}, backend)
    assert result.status == "ok", result
    assert [s.label for s in result.steps or []] == LABELS, result.details
    assert result.reward == 0.25


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize("language", list(COMPILE_ERRORS))
def test_compile_errors(language: str, backend: str) -> None:
    result = judge(language, COMPILE_ERRORS[language], {"tests": TESTS[:2]}, backend)
    assert result.status == "ok", result
    assert [s.label for s in result.steps or []] == ["compile_error"] * 2, result.details
    assert result.details["failures"][0]["stderr"], result.details  # the compiler's words


def test_d_unittest_mode_runs_the_unittests() -> None:
    """`d_ut` (SandboxFusion's D_ut) builds with -funittest: the unittest blocks run,
    and a failing one is a failed run."""
    source = "int add(int a, int b) { return a + b; }\nunittest { assert(add(1, 2) == %d); }\n"
    source += "void main() {}\n"
    tests = {"tests": [{"stdin": "", "expected_stdout": ""}]}
    passing = judge("d_ut", source % 3, tests, "bwrap")
    failing = judge("d_ut", source % 4, tests, "bwrap")
    assert [s.label for s in passing.steps or []] == ["passed"], passing.details
    assert [s.label for s in failing.steps or []] == ["runtime_error"], failing.details


@pytest.mark.parametrize("language", ["d_ut", "kotlin_script", "pytest", "go_test", "junit"])
def test_function_formats_are_invalid(language: str) -> None:
    for reference in ({"test_code": "x", "prompt": "y"}, {"asserts": ["x"]}):
        with pytest.raises(InvalidRequest, match="runs stdio tests only"):
            judge(language, "x", reference, "bwrap")


# --- D's function tests ------------------------------------------------------------------

D_ITEMS = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "multipl_e" / "d.json").read_text()
)["items"]


@pytest.mark.parametrize(
    ("index", "answer"),
    [(i, a) for i in range(len(D_ITEMS)) for a in ("right", "wrong", "whole_right", "whole_wrong")],
)
def test_d_multipl_e_items(index: int, answer: str) -> None:
    item = D_ITEMS[index]
    reference = {"prompt": item["prompt"], "test_code": item["tests"]}
    result = judge("d", item[answer], reference, "bwrap")
    expected = ["passed"] if answer.endswith("right") else ["wrong_answer"]
    assert [s.label for s in result.steps or []] == expected, result.details


def test_d_asserts_each_run_alone() -> None:
    program = "long add(long a, long b) { return a + b; }\nvoid main() {}\n"
    asserts = ["assert(add(1, 2) == 3);", "assert(add(1, 2) == 4);", "int[] a; a[1] = 0;"]
    result = judge("d", program, {"asserts": asserts}, "bwrap")
    labels = [s.label for s in result.steps or []]
    assert labels == ["passed", "wrong_answer", "runtime_error"], result.details


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_d_exiting_early_scores_zero(backend: str) -> None:
    item = D_ITEMS[0]
    reference = {"prompt": item["prompt"], "test_code": item["tests"]}
    exits = "{\n    import core.stdc.stdlib : exit;\n    exit(0);\n    return true;\n}\n"
    result = judge("d", exits, reference, backend)
    assert result.status == "ok" and result.reward == 0.0, result.details
    right = judge("d", item["right"], reference, backend)
    assert right.reward == 1.0, right.details


# --- C#'s function tests ---------------------------------------------------------------

CS_ITEMS = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "multipl_e" / "csharp.json").read_text()
)["items"]


@pytest.mark.parametrize(
    ("index", "answer"),
    [
        (i, a)
        for i in range(len(CS_ITEMS))
        for a in ("right", "wrong", "whole_right", "whole_wrong")
    ],
)
def test_csharp_multipl_e_items(index: int, answer: str) -> None:
    item = CS_ITEMS[index]
    reference = {"prompt": item["prompt"], "test_code": item["tests"]}
    result = judge("csharp", item[answer], reference, "bwrap")
    expected = ["passed"] if answer.endswith("right") else ["wrong_answer"]
    assert [s.label for s in result.steps or []] == expected, result.details


# A HasCloseElements that exits with success, and one that clears the trace listeners
# (Debug.Assert's) before answering wrong.
CS_HACKS = {
    "exit_early": "        Environment.Exit(0);\n        return true;\n",
    "disarm": "        Debug.Listeners.Clear();\n        Trace.Listeners.Clear();\n"
    "        return true;\n",
}


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize("hack", list(CS_HACKS))
def test_csharp_hacks_score_zero(hack: str, backend: str) -> None:
    item = CS_ITEMS[0]
    reference = {"prompt": item["prompt"], "test_code": item["tests"]}
    result = judge("csharp", CS_HACKS[hack], reference, backend)
    assert result.status == "ok" and result.reward == 0.0, result.details


def test_csharp_asserts_are_invalid() -> None:
    with pytest.raises(InvalidRequest, match="not asserts"):
        judge("csharp", "x", {"asserts": ["Debug.Assert(true);"]}, "bwrap")
