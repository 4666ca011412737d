"""Tests of the `code` verifier: extraction, comparison, references, and stdio programs
(Python, C, C++) run in the real bubblewrap sandbox.

The function-call formats are in test_code_formats.py, reward hacks in test_code_hacks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rewardgate.sandbox.api import ExecResult
from rewardgate.testing import EngineHarness
from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.code.compare import compare
from rewardgate.verifiers.code.extract import extract_program
from rewardgate.verifiers.errors import InvalidRequest, SandboxError
from rewardgate.verifiers.models import RewardRequest, RewardResult

VERIFIER = CodeVerifier()


def score(response: str, reference: Any, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="code", response=response, reference=reference, options=options
    )
    return VERIFIER.verify(request)


def labels(result: RewardResult) -> list[str | None]:
    return [step.label for step in result.steps or []]


# --- extraction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "language", "program"),
    [
        ("print(1)", "python", "print(1)"),
        ("text\n```python\nprint(1)\n```\nmore", "python", "print(1)\n"),
        ("```py\na\n```\n```python3\nb\n```", "python", "b\n"),
        ("```python\na\n```\n```text\nb\n```", "python", "a\n"),
        ("```\nuntagged\n```", "python", "untagged\n"),
        ("```cpp\nx\n```\n```python\ny\n```", "cpp", "x\n"),
        ("```c++\nx\n```", "cpp", "x\n"),
        ("```C\nint main(){}\n```", "c", "int main(){}\n"),
        ("```python\ncut off", "python", "cut off"),
        ("````python\n```inner```\n````", "python", "```inner```\n"),
    ],
    ids=[
        "no-fence-whole-text",
        "one-block",
        "last-of-two-tags",
        "language-beats-later-other-tag",
        "untagged",
        "cpp-over-python",
        "c++-tag",
        "uppercase-tag",
        "unclosed-final-fence",
        "longer-fence",
    ],
)
def test_extract_program(response: str, language: str, program: str) -> None:
    assert extract_program(response, language) == program


# --- comparison ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "actual", "expected", "equal"),
    [
        ("exact", "1\n", "1\n", True),
        ("exact", "1", "1\n", False),
        ("lines", "1  \n2\n\n\n", "1\n2", True),
        ("lines", "1\n 2", "1\n2", False),
        ("lines", "1\r\n2\r\n", "1\n2\n", True),
        ("tokens", "1   2\n3", "1 2 3", True),
        ("tokens", "0.3333333", "0.33333333", True),
        ("tokens", "0.34", "0.33", False),
        ("tokens", "1 2", "1 2 3", False),
        ("apps", "  YES \n\n NO", "YES\nNO\n", True),
        ("apps", "1.000001\n2", "1.0\n2", True),
        ("apps", "1.1", "1.0", False),
    ],
)
def test_compare(mode: str, actual: str, expected: str, equal: bool) -> None:
    assert compare(mode, actual, expected, 1e-6) is equal


# --- references and options ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "options", "field"),
    [
        ({}, {}, "reference"),
        ({"tests": []}, {}, "reference.stdio.tests"),
        ({"tests": [{"stdin": ""}]}, {}, "reference.stdio.tests.0.expected_stdout"),
        ({"tests": [{"expected_stdout": "1"}], "language": "bf"}, {}, "reference.stdio.language"),
        ({"test_code": "def check(", "entry_point": "f"}, {}, "reference.humaneval.test_code"),
        ({"test_code": "pass"}, {}, "reference.humaneval.entry_point"),
        ({"asserts": ["assert f(1) == 1"], "setup_code": "("}, {}, "reference.mbpp.setup_code"),
        ({"test_code": "int f();", "language": "c"}, {}, "reference.humaneval.test_code"),
        ({"inputs": ["1"], "outputs": []}, {}, "reference.apps.outputs"),
        ({"inputs": ["1", "2"], "outputs": ["1"]}, {}, "reference.apps"),
        (
            {"inputs": ["1"], "outputs": ["1"], "fn_name": "f", "language": "c"},
            {},
            "reference.apps",
        ),
        ("not json", {}, "reference"),
        ({"tests": [{"expected_stdout": "1"}]}, {"mode": "most"}, "options.mode"),
        ({"tests": [{"expected_stdout": "1"}]}, {"time_limit_s": 0}, "options.time_limit_s"),
        ({"tests": [{"expected_stdout": "1"}]}, {"compare": {"checker": "("}}, "options.compare"),
    ],
)
def test_bad_reference_names_the_field(reference: Any, options: Any, field: str) -> None:
    with pytest.raises(InvalidRequest, match=field.replace(".", r"\.")):
        VERIFIER.prepare(reference, options)


def test_language_aliases_and_verl_json_string() -> None:
    prepared = VERIFIER.prepare({"tests": [{"expected_stdout": ""}], "language": "C++"}, None)
    assert prepared.reference.root.language == "cpp"
    prepared = VERIFIER.prepare('{"inputs": ["1"], "outputs": ["1"], "fn_name": "f"}', None)
    assert prepared.reference.root.fn_name == "f"


def test_budget_covers_every_test() -> None:
    tests = [{"stdin": "", "expected_stdout": ""}] * 20
    prepared = VERIFIER.prepare({"tests": tests, "language": "cpp"}, {"time_limit_s": 2})
    assert VERIFIER.budget_s(prepared.reference, prepared.options, 30.0) >= 20 * 2 + 30
    prepared = VERIFIER.prepare({"tests": tests}, {"timeout_s": 7})
    assert VERIFIER.budget_s(prepared.reference, prepared.options, 30.0) == 7


# --- stdio programs in the sandbox ----------------------------------------------------------

SUM_TESTS = [
    {"stdin": "1 2\n", "expected_stdout": "3\n"},
    {"stdin": "40 2\n", "expected_stdout": "42"},
    {"stdin": "-5 5\n", "expected_stdout": "0\n"},
]
PROGRAMS = {
    "python": {
        "correct": "a, b = map(int, input().split())\nprint(a + b)\n",
        "wrong_answer": "a, b = map(int, input().split())\nprint(a - b)\n",
        "compile_error": "def main(:\n    pass\n",
        "runtime_error": "raise ValueError('boom')\n",
        "time_limit": "while True:\n    pass\n",
        "memory_limit": "x = bytearray(10**10)\n",
    },
    "c": {
        "correct": '#include <stdio.h>\nint main(){int a,b;scanf("%d %d",&a,&b);'
        'printf("%d\\n",a+b);return 0;}\n',
        "wrong_answer": '#include <stdio.h>\nint main(){int a,b;scanf("%d %d",&a,&b);'
        'printf("%d\\n",a*b);return 0;}\n',
        "compile_error": "int main() { return x; }\n",
        "runtime_error": "int main(){ int *p = 0; *p = 1; return 0; }\n",
        "time_limit": "int main(){ volatile int x = 0; for(;;) x++; }\n",
    },
    "cpp": {
        "correct": "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;"
        "std::cout<<a+b<<'\\n';}\n",
        "wrong_answer": "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;"
        "std::cout<<a+b+1<<'\\n';}\n",
        "compile_error": "#include <vector>\nint main(){ std::vector<int> v = 3; }\n",
        "runtime_error": '#include <stdexcept>\nint main(){ throw std::runtime_error("x"); }\n',
        "time_limit": "int main(){ volatile long x = 0; for(;;) x++; }\n",
        "memory_limit": "#include <vector>\nint main(){ std::vector<char> v(20000000000ULL);"
        " return v[5]; }\n",
    },
}
STDIO_CASES = [
    pytest.param(language, kind, program, id=f"{language}-{kind}")
    for language, programs in PROGRAMS.items()
    for kind, program in programs.items()
]


@pytest.mark.parametrize(("language", "kind", "program"), STDIO_CASES)
def test_stdio_programs(language: str, kind: str, program: str) -> None:
    fence = {"python": "python", "c": "c", "cpp": "cpp"}[language]
    response = f"Here you go:\n```{fence}\n{program}```\n"
    result = score(response, {"tests": SUM_TESTS, "language": language}, time_limit_s=1)
    assert result.status == "ok"
    expected = "passed" if kind == "correct" else kind
    assert labels(result) == [expected] * 3, result.details
    assert result.reward == (1.0 if kind == "correct" else 0.0)


# Python stdio programs run in a fork of the trusted runner (no interpreter start per
# test); each must see what a fresh `python3 solution.py` would show it.
FRESH_PYTHON = [
    ("main-guard", "def main():\n    print(input()[::-1])\n"
     "if __name__ == '__main__':\n    main()\n", "abc\n", "cba\n"),
    ("argv-and-file", "import sys, os\nprint(sys.argv, __file__, os.getcwd())\n", "",
     "['solution.py'] solution.py /sandbox\n"),
    ("binary-stdin", "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])\n",
     "xyz", "zyx"),
    ("many-lines", "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n",
     "\n".join(map(str, range(10000))), "49995000\n"),
    ("int-str-limit", "try:\n    int('1' * 5000)\nexcept ValueError:\n    print('limited')\n",
     "", "limited\n"),
    ("thread-joined-at-exit", "import threading, time\n"
     "def late():\n    time.sleep(0.1)\n    print('late')\n"
     "threading.Thread(target=late).start()\nprint('early')\n", "", "early\nlate\n"),
    ("deep-recursion", "import sys\nsys.setrecursionlimit(10**5)\n"
     "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nprint(f(20000))\n", "", "20000\n"),
    ("fresh-main-module", "import sys\nprint(sorted(k for k in vars(sys.modules['__main__']) "
     "if not k.startswith('__')))\n", "", "['sys']\n"),
    ("sys-exit-zero-keeps-output", "print('out')\nimport sys\nsys.exit(0)\n", "", "out\n"),
    ("unflushed-output-at-exit", "import sys\nsys.stdout.write('no newline')\n", "",
     "no newline"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("program", "stdin", "stdout"),
    [pytest.param(*case[1:], id=case[0]) for case in FRESH_PYTHON],
)
def test_python_stdio_sees_a_fresh_interpreter(program: str, stdin: str, stdout: str) -> None:
    test = {"stdin": stdin, "expected_stdout": stdout}
    result = score(program, {"tests": [test]}, compare="exact")
    assert labels(result) == ["passed"], result.details


@pytest.mark.parametrize(
    ("program", "stderr_has"),
    [
        ("x = 1\nraise KeyError('gone')\n", 'File "solution.py", line 2'),
        ("import sys\nsys.exit('bad input')\n", "bad input"),
        ("import sys\nsys.exit(3)\n", ""),
        ("import os\nos._exit(4)\n", ""),
    ],
    ids=["traceback", "exit-message", "exit-code", "os-exit"],
)
def test_python_stdio_failures_read_as_under_python3(program: str, stderr_has: str) -> None:
    result = score(program, {"tests": [SUM_TESTS[0]]})
    assert labels(result) == ["runtime_error"], result.details
    stderr = result.details["failures"][0].get("stderr", "")
    assert stderr_has in stderr and "runner.py" not in stderr, result.details


def test_fraction_all_or_nothing_and_details() -> None:
    program = "a, b = map(int, input().split())\nprint(a + b if a > 0 else 7)\n"
    reference = {"tests": SUM_TESTS}
    result = score(program, reference)
    assert result.reward == pytest.approx(2 / 3)
    assert labels(result) == ["passed", "passed", "wrong_answer"]
    assert result.details["failures"][0]["diff"] == {"line": 1, "actual": "7", "expected": "0"}
    assert score(program, reference, mode="all_or_nothing").reward == 0.0


@pytest.mark.parametrize(
    ("compare_mode", "output", "reward"),
    [
        ("exact", "3\n", 1.0),
        ("exact", "3 \n", 0.0),
        ("lines", "3   \n\n", 1.0),
        ("tokens", "3.0000000001", 1.0),
        ("tokens", "3.1", 0.0),
    ],
)
def test_compare_modes(compare_mode: str, output: str, reward: float) -> None:
    program = f"print({output!r}, end='')"
    result = score(program, {"tests": [SUM_TESTS[0]]}, compare=compare_mode)
    assert result.reward == reward


def test_checker_decides() -> None:
    # Any permutation of the expected numbers is accepted.
    checker = (
        "import sys\n"
        "exp = sorted(open(sys.argv[2]).read().split())\n"
        "act = sorted(open(sys.argv[3]).read().split())\n"
        "sys.exit(0 if exp == act else 1)\n"
    )
    reference = {"tests": [{"stdin": "", "expected_stdout": "1 2 3"}] * 2}
    options = {"compare": {"checker": checker}}
    assert score("print(3, 1, 2)", reference, **options).reward == 1.0
    result = score("print(3, 1, 1)", reference, **options)
    assert result.reward == 0.0 and labels(result) == ["wrong_answer"] * 2


def test_max_tests_keeps_the_longest_inputs() -> None:
    tests = [{"stdin": "x" * n, "expected_stdout": str(n)} for n in (1, 50, 5, 30)]
    result = score("print(len(input()))", {"tests": tests}, max_tests=2)
    assert result.reward == 1.0
    assert [step.details["test"] for step in result.steps or []] == [1, 3]


def test_stop_on_first_failure_skips_the_rest() -> None:
    program = "a, b = map(int, input().split())\nprint(a * b)\n"
    result = score(program, {"tests": SUM_TESTS}, stop_on_first_failure=True)
    assert labels(result) == ["wrong_answer", "skipped", "skipped"]
    assert [step.details["test"] for step in result.steps or []] == [0, 1, 2]


def test_a_sandbox_that_cannot_start_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        name = "broken"

        def run(self, *args: Any, **kwargs: Any) -> ExecResult:
            return ExecResult(127, b"", b"python3: not found", 1.0, 0.0, 0, channel=b"")

        run_python = run

    monkeypatch.setattr("rewardgate.verifiers.code.run._backend", lambda name: Broken())
    with pytest.raises(SandboxError, match="never started"):
        score("print(3)", {"tests": [SUM_TESTS[0]]})


def test_unknown_backend_is_invalid() -> None:
    with pytest.raises(InvalidRequest, match="unknown sandbox backend"):
        score("print(3)", {"tests": [SUM_TESTS[0]]}, backend="nope")


@pytest.mark.slow
def test_slow_program_is_a_verdict_not_an_engine_timeout(
    verifier_engine: Callable[..., EngineHarness],
) -> None:
    # Eight tests of 1 s each outlast the engine's 5 s default; budget_s covers them.
    engine = verifier_engine(CodeVerifier, workers=1, timeout_s=5)
    tests = [{"stdin": "", "expected_stdout": "1"}] * 8
    item = {"verifier": "code", "response": "while True: pass", "reference": {"tests": tests},
            "options": {"time_limit_s": 1}}  # fmt: skip
    [result] = engine.score([item])
    assert result.status == "ok", result.error
    assert labels(result) == ["time_limit"] * 8
