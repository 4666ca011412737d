"""Function tests in every language, on both backends: MBPP-style `asserts` and
HumanEval-style `test_code` (MultiPL-E's shape for compiled languages).

One table per format: for each language a correct function, a wrong one, one that does
not compile, one that crashes and one that never returns, judged on bwrap and docker.
Then the ways a response could pass without being right: exiting 0 from inside the
function, disarming asserts, defining its own `main`, clashing imports.
"""

from __future__ import annotations

from typing import Any

import pytest

from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult

VERIFIER = CodeVerifier()
BACKENDS = ("bwrap", "docker")

# language -> (case -> program defining add(a, b)); asserts; a test program.
PROGRAMS: dict[str, dict[str, str]] = {
    "python": {
        "correct": "def add(a, b):\n    return a + b\n",
        "wrong": "def add(a, b):\n    return a - b\n",
        "compile_error": "def add(a, b)\n    return a + b\n",
        "runtime_error": "def add(a, b):\n    return [][a]\n",
        "time_limit": "def add(a, b):\n    while True:\n        pass\n",
    },
    "c": {
        "correct": "long add(long a, long b) { return a + b; }\n",
        "wrong": "long add(long a, long b) { return a - b; }\n",
        "compile_error": "long add(long a, long b) { return a + ; }\n",
        "runtime_error": "#include <stdlib.h>\nlong add(long a, long b) { abort(); }\n",
        "time_limit": "long add(long a, long b) { for (;;) { a = a * 3 + b; } return a; }\n",
    },
    "cpp": {
        "correct": "#include <vector>\nusing namespace std;\n"
        "long add(long a, long b) { vector<long> v{a, b}; return v[0] + v[1]; }\n",
        "wrong": "long add(long a, long b) { return a * b; }\n",
        "compile_error": "long add(long a, long b) { return undefined_name; }\n",
        "runtime_error": "#include <vector>\n"
        "long add(long a, long b) { std::vector<long> v; return v.at(5); }\n",
        "time_limit": "long add(long a, long b) { volatile long x = 0; while (true) x++; }\n",
    },
    "java": {
        "correct": "import java.util.*;\npublic class Solution {\n"
        "    public static long add(long a, long b) { return a + b; }\n}\n",
        "wrong": "class Solution {\n    static long add(long a, long b) { return a - b; }\n}\n",
        "compile_error": "class Solution {\n"
        "    static long add(long a, long b) { return a + ; }\n}\n",
        "runtime_error": "class Solution {\n    static long add(long a, long b) {"
        ' throw new IllegalStateException("boom"); }\n}\n',
        "time_limit": "class Solution {\n    static long add(long a, long b) {"
        " while (true) { a++; } }\n}\n",
    },
    "nodejs": {
        "correct": "function add(a, b) {\n  return a + b;\n}\n",
        "wrong": "const add = (a, b) => a * b;\n",
        "compile_error": "function add(a, b) {\n  return a + ;\n}\n",
        "runtime_error": "function add(a, b) {\n  return null.x;\n}\n",
        "time_limit": "function add(a, b) {\n  for (;;) {}\n}\n",
    },
    "rust": {
        "correct": "fn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n",
        "wrong": "fn add(a: i64, b: i64) -> i64 {\n    a - b\n}\n",
        "compile_error": 'fn add(a: i64, b: i64) -> i64 {\n    "no"\n}\n',
        "runtime_error": 'fn add(a: i64, b: i64) -> i64 {\n    panic!("boom")\n}\n',
        "time_limit": "fn add(a: i64, b: i64) -> i64 {\n    let mut x = a;\n"
        "    loop { x = x.wrapping_mul(3).wrapping_add(b); if x == 7 { return x; } }\n}\n",
    },
    "go": {
        "correct": "package main\n\nfunc add(a, b int) int {\n\treturn a + b\n}\n",
        "wrong": "func add(a, b int) int {\n\treturn a - b\n}\n",
        "compile_error": "package main\n\nfunc add(a, b int) int {\n\tx := 1\n\treturn a\n}\n",
        "runtime_error": "package main\n\nfunc add(a, b int) int {\n"
        "\tvar s []int\n\treturn s[a]\n}\n",
        "time_limit": "package main\n\nfunc add(a, b int) int {\n\tfor {\n\t\ta++\n\t}\n}\n",
    },
}
ASSERTS: dict[str, list[str]] = {
    "python": ["assert add(1, 2) == 3", "assert add(40, 2) == 42", "assert add(-5, 5) == 0"],
    "c": ["assert(add(1, 2) == 3);", "assert(add(40, 2) == 42);", "assert(add(-5, 5) == 0);"],
    "cpp": ["assert(add(1, 2) == 3);", "assert(add(40, 2) == 42);", "assert(add(-5, 5) == 0);"],
    "java": [
        "assert Solution.add(1, 2) == 3;",
        "long r = Solution.add(40, 2);\nassert r == 42 : r;",
        "assert Solution.add(-5, 5) == 0;",
    ],
    "nodejs": [
        "assert.strictEqual(add(1, 2), 3);",
        "assert.deepStrictEqual([add(40, 2)], [42]);",
        "assert(add(-5, 5) === 0);",
    ],
    "rust": [
        "assert_eq!(add(1, 2), 3);",
        "assert_eq!(add(40, 2), 42);",
        "assert!(add(-5, 5) == 0);",
    ],
    "go": [
        'if add(1, 2) != 3 { panic("add(1, 2)") }',
        'if got := add(40, 2); got != 42 { panic(fmt.Sprint("add(40, 2) = ", got)) }',
        'if add(-5, 5) != 0 { panic("add(-5, 5)") }',
    ],
}
SETUP = {"go": 'import "fmt"'}  # what the Go asserts use
TEST_CODE: dict[str, str] = {
    "python": "def check(candidate):\n    assert candidate(1, 2) == 3\n"
    "    assert candidate(40, 2) == 42\n",
    "c": "#include <assert.h>\nint main() {\n    assert(add(1, 2) == 3);\n"
    "    assert(add(40, 2) == 42);\n}\n",
    "cpp": "#include <cassert>\nint main() {\n    auto candidate = add;\n"
    "    assert(candidate(1, 2) == 3);\n    assert(candidate(40, 2) == 42);\n}\n",
    "java": "import java.util.*;\npublic class Main {\n"
    "    public static void main(String[] args) {\n"
    "        if (Solution.add(1, 2) != 3) throw new AssertionError();\n"
    "        assert Solution.add(40, 2) == 42;\n    }\n}\n",
    "nodejs": "const candidate = add;\nassert.strictEqual(candidate(1, 2), 3);\n"
    "assert.strictEqual(candidate(40, 2), 42);\n",
    "rust": "fn main() {\n    let candidate = add;\n    assert_eq!(candidate(1, 2), 3);\n"
    "    assert_eq!(candidate(40, 2), 42);\n}\n",
    "go": 'import "fmt"\n\nfunc main() {\n\tif add(1, 2) != 3 {\n'
    "\t\tpanic(fmt.Sprint(add(1, 2)))\n\t}\n"
    '\tif add(40, 2) != 42 {\n\t\tpanic("add(40, 2)")\n\t}\n}\n',
}


def judge(
    language: str, program: str, reference: dict[str, Any], backend: str, **options: Any
) -> RewardResult:
    request = RewardRequest(
        verifier="code",
        response=f"```\n{program}```",
        reference={"language": language, **reference},
        options={"backend": backend, "time_limit_s": 2, **options},
    )
    return VERIFIER.verify(request)


def asserts_of(language: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"asserts": ASSERTS[language]}
    if language in SETUP:
        ref["setup_code"] = SETUP[language]
    return ref


def program_test_of(language: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"test_code": TEST_CODE[language]}
    if language == "python":
        ref["entry_point"] = "add"
    return ref


def labels(result: RewardResult) -> tuple[float, list[str]]:
    assert result.status == "ok", result
    return result.reward, [step.label for step in result.steps or []]


ASSERT_EXPECTED = {
    "correct": (1.0, ["passed"] * 3),
    "wrong": (0.0, ["wrong_answer"] * 3),
    "compile_error": (0.0, ["compile_error"] * 3),
    "runtime_error": (0.0, ["runtime_error"] * 3),
    # Stop at the first failure: one run to the time limit is enough.
    "time_limit": (0.0, ["time_limit", "skipped", "skipped"]),
}
# Node has no compile step: a syntax error is its run's error. Python's harness sees
# the program fail to import and says so per test.
SYNTAX_AT_RUN = {"nodejs": "runtime_error"}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(ASSERT_EXPECTED))
@pytest.mark.parametrize("language", list(PROGRAMS))
def test_asserts_table(language: str, case: str, backend: str) -> None:
    result = judge(
        language,
        PROGRAMS[language][case],
        asserts_of(language),
        backend,
        stop_on_first_failure=case == "time_limit",
    )
    reward, expected = ASSERT_EXPECTED[case]
    if case == "compile_error" and language in SYNTAX_AT_RUN:
        expected = [SYNTAX_AT_RUN[language]] * 3
    assert labels(result) == (reward, expected), result.details


TEST_CODE_EXPECTED = {
    "correct": (1.0, ["passed"]),
    "wrong": (0.0, ["wrong_answer"]),
    "compile_error": (0.0, ["compile_error"]),
    "runtime_error": (0.0, ["runtime_error"]),
    "time_limit": (0.0, ["time_limit"]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(TEST_CODE_EXPECTED))
@pytest.mark.parametrize("language", [lang for lang in PROGRAMS if lang != "python"])
def test_test_code_table(language: str, case: str, backend: str) -> None:
    result = judge(language, PROGRAMS[language][case], program_test_of(language), backend)
    reward, expected = TEST_CODE_EXPECTED[case]
    if case == "compile_error" and language in SYNTAX_AT_RUN:
        expected = [SYNTAX_AT_RUN[language]]
    assert labels(result) == (reward, expected), result.details


# Programs that end the process with status 0 from inside add(): every test fails.
EXITS = {
    "c": "#include <stdlib.h>\nlong add(long a, long b) { exit(0); }\n",
    "cpp": "#include <cstdlib>\nlong add(long a, long b) { std::_Exit(0); }\n",
    "java": "class Solution {\n"
    "    static long add(long a, long b) { System.exit(0); return 0; }\n}\n",
    "nodejs": "function add(a, b) {\n  process.exit(0);\n}\n",
    "rust": "fn add(a: i64, b: i64) -> i64 {\n    std::process::exit(0)\n}\n",
    "go": 'package main\n\nimport "os"\n\nfunc add(a, b int) int {\n\tos.Exit(0)\n\treturn 0\n}\n',
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("language", list(EXITS))
def test_exiting_zero_inside_the_function_fails(language: str, backend: str) -> None:
    for reference in (asserts_of(language), program_test_of(language)):
        reward, got = labels(judge(language, EXITS[language], reference, backend))
        assert reward == 0.0
        assert set(got) == {"runtime_error"}


# Programs that try to make every assert pass; each is wrong (add returns 7).
DISARMED = {
    "c-ndebug": (
        "c",
        "#define NDEBUG\n#include <assert.h>\nlong add(long a, long b) { return 7; }\n",
    ),
    "c-assert-macro": (
        "c",
        "#define assert(x) ((void)0)\nlong add(long a, long b) { return 7; }\n",
    ),
    "cpp-ndebug": (
        "cpp",
        "#define NDEBUG 1\n#include <cassert>\nlong add(long a, long b) { return 7; }\n",
    ),
    "nodejs-replace-method": (
        "nodejs",
        "const a = require('assert');\n"
        "try { a.strictEqual = () => {}; a.deepStrictEqual = () => {}; }"
        " catch (e) {}\nfunction add(a, b) { return 7; }\n",
    ),
    "nodejs-shadow-assert": (
        "nodejs",
        "var assert = () => {};\nfunction add(a, b) { return 7; }\n",
    ),
    "java-disable-assertions": (
        "java",
        "class Solution {\n    static {\n"
        "        ClassLoader.getSystemClassLoader().setDefaultAssertionStatus(false);\n    }\n"
        "    static long add(long a, long b) { return 7; }\n}\n",
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(DISARMED))
def test_asserts_cannot_be_disarmed(name: str, backend: str) -> None:
    language, program = DISARMED[name]
    reward, got = labels(judge(language, program, asserts_of(language), backend))
    assert reward == 0.0
    assert "passed" not in got


# Correct programs with their own main (models often add one with examples), package
# and import lines the tests' own imports repeat.
WITH_MAIN = {
    "c": "#include <stdio.h>\nlong add(long a, long b) { return a + b; }\n"
    'int main(void) { printf("%ld\\n", add(1, 2)); return 1; }\n',
    "cpp": "#include <iostream>\nlong add(long a, long b) { return a + b; }\n"
    "int main() { std::cout << add(1, 2) << std::endl; }\n",
    "java": "package com.example;\n\nimport java.util.*;\n\npublic class Main {\n"
    "    public static void main(String[] args) { System.out.println(Solution.add(1, 2)); }\n}\n"
    "class Solution {\n    public static long add(long a, long b) { return a + b; }\n}\n",
    "nodejs": "export function add(a, b) { return a + b; }\nconsole.log(add(1, 2));\n"
    "export { add };\n",
    "rust": "use std::collections::HashMap;\n\nfn add(a: i64, b: i64) -> i64 {\n"
    "    let m: HashMap<i64, i64> = HashMap::new();\n    a + b + m.len() as i64\n}\n\n"
    'fn main() {\n    println!("{}", add(1, 2));\n}\n',
    "go": 'package main\n\nimport (\n\t"fmt"\n\t"strings"\n)\n\nfunc add(a, b int) int {\n'
    '\treturn a + b + len(strings.TrimSpace(""))\n}\n\nfunc main() {\n\tfmt.Println(add(1, 2))\n'
    "}\n",
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("language", list(WITH_MAIN))
def test_programs_with_their_own_main_pass(language: str, backend: str) -> None:
    for reference in (asserts_of(language), program_test_of(language)):
        if language == "java" and "test_code" in reference:
            continue  # both would declare class Main
        result = judge(language, WITH_MAIN[language], reference, backend)
        assert labels(result)[0] == 1.0, result.details


def test_each_assert_runs_alone() -> None:
    """A crash in one test costs only that test; the fraction counts the rest."""
    program = (
        "#include <stdlib.h>\nlong add(long a, long b) { if (a == 40) abort(); return a + b; }\n"
    )
    reward, got = labels(judge("c", program, asserts_of("c"), "bwrap"))
    assert got == ["passed", "runtime_error", "passed"]
    assert reward == pytest.approx(2 / 3)


def test_max_tests_compiles_the_longest() -> None:
    result = judge("rust", PROGRAMS["rust"]["correct"], asserts_of("rust"), "bwrap", max_tests=1)
    assert labels(result) == (1.0, ["passed"])
    assert result.steps is not None and result.steps[0].details["test"] == 1


def test_go_panics_of_the_program_are_runtime_errors() -> None:
    """Go has no assert: a panic in the tests' own frame is a wrong answer, one in the
    program's code (a deliberate panic too) a runtime error."""
    program = 'package main\n\nfunc add(a, b int) int {\n\tpanic("no")\n}\n'
    assert labels(judge("go", program, asserts_of("go"), "bwrap"))[1] == ["runtime_error"] * 3


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ({"language": "python", "test_code": "def check(c): pass"}, "entry_point.*required"),
        ({"language": "python", "asserts": ["assert add(1, 2) =="]}, "not valid Python"),
        ({"language": "java", "test_code": "class T { void main() {} }"}, "no main"),
        ({"language": "c", "test_code": "void f() {} // int main() {"}, "no main"),
        ({"language": "go", "test_code": "func helper(t *testing.T) {}"}, "no main"),
        ({"language": "cobol", "asserts": ["x"]}, "language"),
    ],
)
def test_malformed_references_are_invalid(reference: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        VERIFIER.prepare(reference, None)


# MultiPL-E's shape: the prompt opens the function, the completion continues it and the
# tests first close it. `has_close_elements` (HumanEval/0).
MULTIPL_E: dict[str, dict[str, str]] = {
    "cpp": {
        "prompt": "#include<assert.h>\n#include<bits/stdc++.h>\n// Any two numbers closer than"
        " threshold?\nbool has_close_elements(std::vector<float> numbers, float threshold) {\n",
        "completion": "    for (size_t i = 0; i < numbers.size(); i++)\n"
        "        for (size_t j = 0; j < i; j++)\n"
        "            if (std::abs(numbers[i] - numbers[j]) < threshold) return true;\n"
        "    return false;\n",
        "tests": "}\nint main() {\n    auto candidate = has_close_elements;\n"
        "    assert(candidate((std::vector<float>({(float)1.0f, (float)2.0f, (float)3.9f,"
        " (float)4.0f, (float)5.0f, (float)2.2f})), (0.3f)) == (true));\n"
        "    assert(candidate((std::vector<float>({(float)1.0f, (float)2.0f, (float)3.9f,"
        " (float)4.0f, (float)5.0f, (float)2.2f})), (0.05f)) == (false));\n}\n",
    },
    "java": {
        "prompt": "import java.util.*;\nimport java.lang.*;\n\nclass Problem {\n"
        "    // Any two numbers closer than threshold?\n"
        "    public static boolean hasCloseElements(ArrayList<Float> numbers, float threshold) {\n",
        "completion": "        for (int i = 0; i < numbers.size(); i++)\n"
        "            for (int j = 0; j < i; j++)\n"
        "                if (Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;\n"
        "        return false;\n",
        "tests": "    }\n    public static void main(String[] args) {\n"
        "    assert(hasCloseElements((new ArrayList<Float>(Arrays.asList((float)1.0f, (float)2.0f,"
        " (float)3.9f, (float)4.0f, (float)5.0f, (float)2.2f))), (0.3f)) == (true));\n"
        "    assert(hasCloseElements((new ArrayList<Float>(Arrays.asList((float)1.0f, (float)2.0f,"
        " (float)3.9f, (float)4.0f, (float)5.0f, (float)2.2f))), (0.05f)) == (false));\n"
        "    }\n\n}\n",
    },
    "nodejs": {
        "prompt": "//Any two numbers closer than threshold?\n"
        "function has_close_elements(numbers, threshold){\n",
        "completion": "  for (let i = 0; i < numbers.length; i++)\n"
        "    for (let j = 0; j < i; j++)\n"
        "      if (Math.abs(numbers[i] - numbers[j]) < threshold) return true;\n"
        "  return false;\n",
        "tests": "}\n\nconst assert = require('node:assert');\n\n\nfunction test() {\n"
        "  let candidate = has_close_elements;\n"
        "  assert.deepEqual(candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3),true);\n"
        "  assert.deepEqual(candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05),false);\n}\n"
        "\ntest();\n",
    },
    "go": {
        "prompt": 'package has_close_elements_test\n\nimport (\n    "testing"\n    "fmt"\n)\n\n'
        "// Any two numbers closer than threshold?\n"
        "func has_close_elements(numbers []float64, threshold float64) bool {\n",
        "completion": "    for i := range numbers {\n        for j := 0; j < i; j++ {\n"
        "            d := numbers[i] - numbers[j]\n"
        "            if d < threshold && -d < threshold { return true }\n"
        "        }\n    }\n    return false\n",
        "tests": "}\n\nfunc TestHas_Close_Elements(t *testing.T) {\n"
        "  candidate := has_close_elements\n"
        "\ttype test struct {\n\t\tactual   interface{}\n\t\texpected interface{}\n\t}\n"
        "   tests := []test{\n"
        "     { actual: candidate([]float64{1.0, 2.0, 3.9, 4.0, 5.0, 2.2}, 0.3),"
        " expected: true },\n"
        "     { actual: candidate([]float64{1.0, 2.0, 3.9, 4.0, 5.0, 2.2}, 0.05),"
        " expected: false },\n"
        "   }\n\n\tfor i, tc := range tests {\n"
        '\t\tt.Run(fmt.Sprintf("test num % d", i), func(t *testing.T) {\n'
        '\t\t\tif fmt.Sprintf("%v", tc.actual) != fmt.Sprintf("%v", tc.expected) {\n'
        "\t\t\t\tt.Errorf(\"expected '%s', got '%s'\", tc.expected, tc.actual)\n"
        "\t\t\t}\n\t\t})\n\t}\n}\n",
    },
    "rust": {
        "prompt": "/// Any two numbers closer than threshold?\n"
        "fn has_close_elements(numbers: Vec<f64>, threshold: f64) -> bool {\n",
        "completion": "    for i in 0..numbers.len() {\n        for j in 0..i {\n"
        "            if (numbers[i] - numbers[j]).abs() < threshold { return true; }\n"
        "        }\n    }\n    false\n",
        "tests": "}\n\nfn main() {\n    let candidate = has_close_elements;\n"
        "    assert_eq!(candidate(vec![1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3), true);\n"
        "    assert_eq!(candidate(vec![1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05), false);\n}\n",
    },
}


def _full_function(item: dict[str, str]) -> str:
    """What a chat model answers: the signature restated, the function closed."""
    signature = item["prompt"].rstrip("\n").splitlines()[-1]
    return f"{signature}\n{item['completion']}}}\n"


def test_go_test_functions_that_fail_say_why() -> None:
    item = MULTIPL_E["go"]
    wrong = item["completion"].replace("< threshold", "> threshold")
    result = judge("go", wrong, {"prompt": item["prompt"], "test_code": item["tests"]}, "bwrap")
    assert labels(result) == (0.0, ["wrong_answer"])
    assert result.steps is not None
    assert "--- FAIL: TestHas_Close_Elements" in result.steps[0].details["message"]


def test_a_java_response_restating_the_whole_class() -> None:
    """What chat models answer to MultiPL-E's Java prompt: the class, closed, around the
    method; the tests' own closing braces for both give way."""
    item = MULTIPL_E["java"]
    signature = item["prompt"].rstrip("\n").splitlines()[-1]
    whole = (
        f"import java.util.*;\n\nclass Problem {{\n{signature}\n{item['completion']}    }}\n}}\n"
    )
    reference = {"prompt": item["prompt"], "test_code": item["tests"]}
    assert labels(judge("java", whole, reference, "bwrap")) == (1.0, ["passed"])
    wrong = whole.replace("< threshold", "> threshold")
    assert labels(judge("java", wrong, reference, "bwrap")) == (0.0, ["wrong_answer"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("language", list(MULTIPL_E))
def test_multipl_e_items_score_as_the_benchmark_does(language: str, backend: str) -> None:
    item = MULTIPL_E[language]
    reference = {"prompt": item["prompt"], "test_code": item["tests"]}
    wrong = item["completion"].replace("< threshold", "> threshold")
    for response, expected in (
        (item["completion"], 1.0),  # a completion of the prompt
        (_full_function(item), 1.0),  # the whole function
        (wrong, 0.0),
    ):
        result = judge(language, response, reference, backend)
        assert labels(result)[0] == expected, (response, result.details)
