"""POST /run_code in the languages added after the first seven, by SandboxFusion's ids
(`bash`, `php`, `lua`, `perl`, `ruby`, `R`, `typescript`, `racket`), on both backends,
scored as verl scores them (tests/service/test_run_code.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from tests.service.test_run_code import SUM_STDIN, SUM_STDOUT, verl_body, verl_outcome
from tests.verifiers.test_code_languages_scripted import PROGRAMS

LANGUAGE_IDS = {"bash": "bash", "php": "php", "lua": "lua", "perl": "perl", "ruby": "ruby",
                "r": "R", "typescript": "typescript", "racket": "racket"}  # fmt: skip
# verl's verdicts: True, False, -2 runtime error, -3 timeout, -4 compile error. Only
# TypeScript has a build; an interpreter's syntax error is its run's error.
EXPECTED = {"correct": True, "wrong": False, "compile_error": -2, "runtime_error": -2,
            "time_limit": -3}  # fmt: skip


@pytest.fixture(params=["bwrap", "docker"])
def client(request: pytest.FixtureRequest, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(sandbox_backend=request.param, workers=2)


@pytest.mark.parametrize("case", list(EXPECTED))
@pytest.mark.parametrize("language", list(LANGUAGE_IDS))
def test_verl_scores_each_language(client: TestClient, language: str, case: str) -> None:
    timeout = 2 if case == "time_limit" else 20
    body = verl_body(PROGRAMS[language][case], LANGUAGE_IDS[language], SUM_STDIN, timeout)
    body["compile_timeout"] = 60  # a cold tsc on a busy machine takes seconds
    response = client.post("/run_code", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    expected = EXPECTED[case]
    if language == "typescript" and case == "compile_error":
        expected = -4
    assert verl_outcome(answer, SUM_STDOUT) == expected, answer
    assert (answer["compile_result"] is not None) == (language == "typescript"), answer


def test_lua_programs_find_luaunit(make_client: Callable[..., TestClient]) -> None:
    """SandboxFusion's Lua has luaunit; so has this one (sandbox/luaunit.py)."""
    code = (
        "local lu = require('luaunit')\n"
        "function test_add() lu.assertEquals(1 + 1, 2) end\n"
        "os.exit(lu.LuaUnit.run())\n"
    )
    answer = make_client().post("/run_code", json=verl_body(code, "lua", "")).json()
    assert answer["status"] == "Success", answer
    assert "Ran 1 tests, 0 failed" in answer["run_result"]["stdout"]


COMPILED_IDS = {"csharp": "csharp", "d": "D", "scala": "scala", "kotlin": "kotlin",
                "verilog": "verilog"}  # fmt: skip


@pytest.mark.parametrize("language", list(COMPILED_IDS))
def test_compiled_languages_run(client: TestClient, language: str) -> None:
    from tests.verifiers.test_code_languages_compiled import PROGRAMS as COMPILED

    body = verl_body(COMPILED[language], COMPILED_IDS[language], "1 2\n", 20)
    body["compile_timeout"] = 60  # raised to the language's own minimum (180 s for JVMs)
    answer = client.post("/run_code", json=body).json()
    assert verl_outcome(answer, "3") is True, answer
    assert answer["compile_result"]["status"] == "Finished", answer


def test_d_ut_runs_the_unittests(make_client: Callable[..., TestClient]) -> None:
    source = "int add(int a, int b) { return a + b; }\nunittest { assert(add(1, 2) == %d); }\n"
    client = make_client()
    passing = client.post("/run_code", json=verl_body(source % 3, "D_ut", "")).json()
    failing = client.post("/run_code", json=verl_body(source % 4, "D_ut", "")).json()
    assert passing["status"] == "Success", passing
    assert failing["status"] == "Failed" and failing["run_result"]["return_code"] != 0, failing


PYTEST_FILE = "def add(a, b):\n    return a + b\n\ndef test_add():\n    assert add(1, 2) == %d\n"
GO_TEST_FILE = (
    'package main\n\nimport (\n\t"testing"\n\n\t"github.com/stretchr/testify/assert"\n)\n\n'
    "func add(a, b int) int { return a + b }\n\n"
    "func TestAdd(t *testing.T) {\n\tassert.Equal(t, %d, add(1, 2))\n}\n"
)


JUNIT_FILE = (
    "import org.junit.jupiter.api.Test;\nimport static org.junit.jupiter.api.Assertions.*;\n\n"
    "public class AddTest {\n    static int add(int a, int b) { return a + b; }\n"
    "    @Test\n    void adds() { assertEquals(%d, add(1, 2)); }\n}\n"
)


@pytest.mark.parametrize(
    ("language", "source"),
    [("pytest", PYTEST_FILE), ("go_test", GO_TEST_FILE), ("junit", JUNIT_FILE)],
)
def test_test_runner_ids(client: TestClient, language: str, source: str) -> None:
    """SandboxFusion's `pytest` (Debian's pytest), `go_test` (`go test -c`, GOPATH mode
    with Debian's testify) and `junit` (JUnit 5's console launcher): the run fails
    exactly when a test does."""
    body = verl_body(source % 3, language, "", 20)
    body["compile_timeout"] = 120
    passing = client.post("/run_code", json=body).json()
    failing = client.post("/run_code", json={**body, "code": source % 4}).json()
    assert passing["status"] == "Success", passing
    assert failing["status"] == "Failed" and failing["run_result"]["return_code"] != 0, failing


def test_java_has_javatuples(client: TestClient) -> None:
    code = (
        "import org.javatuples.Pair;\npublic class Main { public static void main(String[] a)"
        " { System.out.println(Pair.with(40, 2).getValue0() + Pair.with(40, 2).getValue1()); } }\n"
    )
    answer = client.post("/run_code", json=verl_body(code, "java", "", 20)).json()
    assert verl_outcome(answer, "42") is True, answer
