"""The languages added after the first seven: bash, PHP, Lua, Perl, Ruby, R, TypeScript
and Racket, on both backends.

bwrap runs every table: stdio (right, wrong, syntax or type error, runtime error, time
limit), memory, function tests (`asserts`, and MultiPL-E's own prompt and test shapes
for HumanEval/0, /23 and /53: completion and whole function, right and wrong) and the
hacks (exiting early, disarming assert). docker runs the stdio table, one function test
and the hacks per language (the CI budget of issue 23). /run_code is in
tests/service/test_run_code_languages.py.

The MultiPL-E items are in tests/data/multipl_e/ (see its README for their source and
licence).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.models import RewardRequest, RewardResult

VERIFIER = CodeVerifier()
DATA = Path(__file__).resolve().parents[1] / "data" / "multipl_e"
TESTS = [
    {"stdin": "1 2\n", "expected_stdout": "3\n"},
    {"stdin": "40 2\n", "expected_stdout": "42\n"},
]

# language -> {case: source}; "correct" reads two integers and prints their sum.
PROGRAMS: dict[str, dict[str, str]] = {
    "bash": {
        "correct": "read a b\necho $((a + b))\n",
        "wrong": "read a b\necho $((a * b))\n",
        "compile_error": "if then fi (\n",
        "runtime_error": "read a b\nno_such_command_here\n",
        "time_limit": "while :; do :; done\n",
    },
    "php": {
        "correct": '<?php\n[$a, $b] = array_map("intval", explode(" ", trim(fgets(STDIN))));\n'
        'echo $a + $b, "\\n";\n',
        "wrong": '<?php\necho "7\\n";\n',
        "compile_error": "<?php\nfunction (\n",
        "runtime_error": '<?php\nthrow new Exception("boom");\n',
        "time_limit": "<?php\nwhile (true) {}\n",
    },
    "lua": {
        "correct": 'local a, b = io.read("n", "n")\nprint(math.tointeger(a + b))\n',
        "wrong": "print(0)\n",
        "compile_error": "local function (\n",
        "runtime_error": 'error("boom")\n',
        "time_limit": "while true do end\n",
    },
    "perl": {
        "correct": 'my ($a, $b) = split " ", <STDIN>;\nprint $a + $b, "\\n";\n',
        "wrong": 'print "1\\n";\n',
        "compile_error": "sub {\n",
        "runtime_error": 'die "boom\\n";\n',
        "time_limit": "1 while 1;\n",
    },
    "ruby": {
        "correct": "a, b = gets.split.map(&:to_i)\nputs a + b\n",
        "wrong": "puts 5\n",
        "compile_error": "def f(\n",
        "runtime_error": 'raise "boom"\n',
        "time_limit": "loop {}\n",
    },
    "r": {
        "correct": 'x <- scan(file("stdin"), quiet = TRUE)\ncat(x[1] + x[2], "\\n", sep = "")\n',
        "wrong": 'cat("2\\n")\n',
        "compile_error": "f <- function( {\n",
        "runtime_error": 'stop("boom")\n',
        "time_limit": "repeat {}\n",
    },
    "typescript": {
        "correct": 'const [a, b]: number[] = require("fs").readFileSync(0, "utf8").trim()'
        ".split(/\\s+/).map(Number);\nconsole.log(a + b);\n",
        "wrong": "console.log(1);\n",
        # A type error fails the build, as in MultiPL-E.
        "compile_error": 'const n: number = "two";\nconsole.log(n);\n',
        "runtime_error": "const o: any = null;\no.f();\n",
        "time_limit": "for (;;) {}\n",
    },
    "racket": {
        "correct": "#lang racket\n(define a (read))\n(define b (read))\n(displayln (+ a b))\n",
        "wrong": "#lang racket\n(displayln 4)\n",
        "compile_error": "#lang racket\n(define (f x)\n",
        "runtime_error": "#lang racket\n(car '())\n",
        "time_limit": "#lang racket\n(let loop () (loop))\n",
    },
}
EXPECTED = {
    "correct": (1.0, ["passed", "passed"]),
    "wrong": (0.0, ["wrong_answer", "wrong_answer"]),
    "compile_error": (0.0, ["compile_error", "compile_error"]),
    "runtime_error": (0.0, ["runtime_error", "runtime_error"]),
    "time_limit": (0.0, ["time_limit", "time_limit"]),
}
# Only TypeScript has a build; an interpreter's syntax error is its run's error.
SYNTAX_AT_RUN = (0.0, ["runtime_error", "runtime_error"])


def judge(
    language: str, response: str, reference: dict[str, Any], backend: str, **options: Any
) -> RewardResult:
    request = RewardRequest(
        verifier="code",
        response=response,
        reference={"language": language, **reference},
        options={"backend": backend, "time_limit_s": 10, **options},
    )
    return VERIFIER.verify(request)


def labels(result: RewardResult) -> list[str]:
    return [s.label for s in result.steps or []]


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize("case", list(EXPECTED))
@pytest.mark.parametrize("language", list(PROGRAMS))
def test_stdio_table(language: str, case: str, backend: str) -> None:
    # The time-limit case gets 2 s; the others time to start R or Racket on a busy box.
    limit = 2 if case == "time_limit" else 10
    result = judge(
        language, PROGRAMS[language][case], {"tests": TESTS}, backend, time_limit_s=limit
    )
    expected = EXPECTED[case]
    if case == "compile_error" and language != "typescript":
        expected = SYNTAX_AT_RUN
    assert result.status == "ok", result
    assert (result.reward, labels(result)) == expected, result.details


# Each holds about 1 GiB, past a 256 MB limit.
MEMORY_HOGS = {
    "bash": 'x=$(head -c 1073741824 /dev/zero | tr "\\0" a)\necho ${#x}\n',
    "php": '<?php\n$s = str_repeat("a", 1 << 30);\necho strlen($s), "\\n";\n',
    "lua": 'local s = string.rep("a", 1 << 30)\nprint(#s)\n',
    "perl": 'my $s = "a" x (1 << 30);\nprint length($s), "\\n";\n',
    "ruby": 's = "a" * (1 << 30)\nputs s.size\n',
    "r": "x <- numeric(2^27)\nx[] <- 1\ncat(sum(x), '\\n')\n",
    "typescript": "const a: any[] = [];\nfor (let i = 0; i < 1024; i++) "
    "a.push(require('buffer').Buffer.alloc(1 << 20, 1));\nconsole.log(a.length);\n",
    "racket": "#lang racket\n(define v (make-bytes (expt 2 30) 1))\n(displayln (bytes-length v))\n",
}


@pytest.mark.parametrize("language", list(MEMORY_HOGS))
def test_over_the_memory_limit_is_memory_limit(language: str) -> None:
    result = judge(
        language, MEMORY_HOGS[language], {"tests": TESTS[:1]}, "bwrap", memory_mb=256,
        time_limit_s=30,
    )  # fmt: skip
    assert result.status == "ok", result
    assert labels(result) == ["memory_limit"], result.details


# --- function tests: asserts ------------------------------------------------------------

# language -> (program defining add, assert statements: one right, one wrong)
ASSERTS: dict[str, tuple[str, list[str]]] = {
    "bash": (
        "add() {\n    echo $(( $1 + $2 ))\n}\n",
        ['[[ $(add 1 2) = "3" ]]', '[[ $(add 1 2) = "4" ]]'],
    ),
    "php": (
        "<?php\nfunction add($a, $b) { return $a + $b; }\n",
        ["assert(add(1, 2) === 3);", "assert(add(1, 2) === 4);"],
    ),
    "lua": (
        "function add(a, b) return a + b end\n",
        ["assert(add(1, 2) == 3)", "assert(add(1, 2) == 4)"],
    ),
    "perl": (
        "sub add { my ($a, $b) = @_; return $a + $b; }\n",
        ["exit 1 unless add(1, 2) == 3;", "exit 1 unless add(1, 2) == 4;"],
    ),
    "ruby": (
        "def add(a, b)\n  a + b\nend\n",
        ['raise "wrong" unless add(1, 2) == 3', "exit 1 unless add(1, 2) == 4"],
    ),
    "r": (
        "add <- function(a, b) a + b\n",
        ["stopifnot(add(1, 2) == 3)", "stopifnot(add(1, 2) == 4)"],
    ),
    "typescript": (
        "function add(a: number, b: number): number { return a + b; }\n",
        ["assert.strictEqual(add(1, 2), 3);", "assert.strictEqual(add(1, 2), 4);"],
    ),
    "racket": (
        "#lang racket\n(define (add a b) (+ a b))\n",
        ["(unless (= (add 1 2) 3) (raise 'wrong))", "(check-equal? (add 1 2) 4)"],
    ),
}
# How each wrong assert fails: Ruby's `exit 1` is its own choice (no message).
WRONG_ASSERT = {lang: "wrong_answer" for lang in ASSERTS} | {"ruby": "runtime_error"}
RACKET_SETUP = "(require rackunit)"


def _asserts_reference(language: str) -> dict[str, Any]:
    _, asserts = ASSERTS[language]
    setup = RACKET_SETUP if language == "racket" else ""
    return {"asserts": asserts, "setup_code": setup}


@pytest.mark.parametrize("language", list(ASSERTS))
def test_asserts_each_run_alone(language: str) -> None:
    program, _ = ASSERTS[language]
    result = judge(language, program, _asserts_reference(language), "bwrap")
    assert result.status == "ok", result
    assert labels(result) == ["passed", WRONG_ASSERT[language]], result.details
    assert result.reward == 0.5


# --- function tests: MultiPL-E ------------------------------------------------------------


def multipl_e(language: str) -> list[dict[str, str]]:
    items: list[dict[str, str]] = json.loads((DATA / f"{language}.json").read_text())["items"]
    return items


MULTIPL_E = [
    pytest.param(language, index, answer, id=f"{language}-{item['name']}-{answer}")
    for language in PROGRAMS
    for index, item in enumerate(multipl_e(language))
    for answer in ("right", "wrong", "whole_right", "whole_wrong")
]


def _multipl_e_judge(language: str, index: int, answer: str, backend: str) -> RewardResult:
    item = multipl_e(language)[index]
    reference = {"prompt": item["prompt"], "test_code": item["tests"]}
    if language == "python":  # pragma: no cover - the table holds no Python
        reference["entry_point"] = item["entry_point"]
    return judge(language, item[answer], reference, backend)


@pytest.mark.parametrize(("language", "index", "answer"), MULTIPL_E)
def test_multipl_e_items(language: str, index: int, answer: str) -> None:
    result = _multipl_e_judge(language, index, answer, "bwrap")
    assert result.status == "ok", result
    if answer.endswith("right"):
        assert labels(result) == ["passed"], result.details
    else:
        assert labels(result) == ["wrong_answer"], result.details


@pytest.mark.parametrize("language", list(PROGRAMS))
def test_multipl_e_on_docker(language: str) -> None:
    right = _multipl_e_judge(language, 0, "right", "docker")
    wrong = _multipl_e_judge(language, 0, "whole_wrong", "docker")
    assert (labels(right), labels(wrong)) == (["passed"], ["wrong_answer"]), (right, wrong)


# --- hacks: exit early, disarm assert -------------------------------------------------------

# A has_close_elements that ends the process with success before the test can fail
# it, and one that disarms the assertions the suite uses, as MultiPL-E completions.
EXIT_EARLY = {
    "bash": "    exit 0\n",
    "php": "    exit(0);\n}\n",
    "lua": "  os.exit(0)\nend\n",
    "perl": "    exit 0;\n}\n",
    "ruby": "  exit!(0)\nend\n",
    "r": "\n    quit(save = 'no', status = 0)\n}\n",
    "typescript": "  process.exit(0);\n  return true;\n}\n",
    "racket": "  (exit 0))\n",
}
DISARM = {
    "bash": "    echo true\n}\nexit() { :; }\nset() { :; }\n#",
    "php": "    ini_set('zend.assertions', '0');\n    return true;\n}\n",
    "lua": "  return true\nend\nassert = function() end\nlocal lu = require('luaunit')\n"
    "lu.assertEquals = function() end\n",
    "perl": "    return 1;\n}\nsub eq_deeply { return 1; }\n",
    "ruby": "  true\nend\nmodule Test; module Unit; module Assertions; "
    "def assert_equal(*a); end; end; end; end\n",
    "r": "\n    TRUE\n}\nstopifnot <- function(...) invisible(NULL)\nisTRUE <- function(x) TRUE\n",
    "typescript": "  require('node:assert').deepEqual = () => {};\n  return true;\n}\n",
    "racket": "  #t)\n(define (check-equal? a b) (void))\n",
}


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize("hack", ["exit_early", "disarm"])
@pytest.mark.parametrize("language", list(PROGRAMS))
def test_hacks_score_zero(language: str, hack: str, backend: str) -> None:
    item = multipl_e(language)[0]
    response = (EXIT_EARLY if hack == "exit_early" else DISARM)[language]
    reference = {"prompt": item["prompt"], "test_code": item["tests"]}
    result = judge(language, response, reference, backend)
    assert result.status == "ok", result
    assert result.reward == 0.0, result.details


def test_aliases_name_the_languages() -> None:
    for alias, language in [("sh", "bash"), ("ts", "typescript"), ("rb", "ruby"), ("R", "r")]:
        result = judge(alias, PROGRAMS[language]["correct"], {"tests": TESTS}, "bwrap")
        assert result.reward == 1.0, (alias, result.details)


def test_health_reports_each_language() -> None:
    """/readyz and `rewardgate doctor` show `code.toolchain.<id>` for every language."""
    from rewardgate.sandbox.languages import LANGUAGES

    health = CodeVerifier().health()
    assert {f"toolchain.{lang}" for lang in LANGUAGES} <= set(health)
    assert all(health[f"toolchain.{lang}"] == "ok" for lang in LANGUAGES), health
