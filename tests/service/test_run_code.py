"""POST /run_code with the request bodies verl's sandbox_fusion reward sends.

verl (`verl/utils/reward_score/sandbox_fusion/utils.py`) posts one body per test case,
`{compile_timeout, run_timeout, code, stdin, memory_limit_MB, language, files: {},
fetch_files: []}` (older releases leave out `memory_limit_MB`), and turns the answer
into True / False / -1 (no verdict) / -2 (runtime error) / -3 (timeout) / -4 (compile
error). `verl_outcome` below applies those rules, so each case checks what a trainer
pointed at rewardgate would score.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.verifiers.test_code_languages import PROGRAMS

SUM_STDIN = "40 2\n"
SUM_STDOUT = "42"


def verl_body(code: str, language: str, stdin: str, timeout: int = 5) -> dict[str, Any]:
    """The JSON verl's call_sandbox_api posts (same keys, same order)."""
    return {
        "compile_timeout": timeout,
        "run_timeout": timeout,
        "code": code,
        "stdin": stdin,
        "memory_limit_MB": 1024,
        "language": language,
        "files": {},
        "fetch_files": [],
    }


def verl_outcome(answer: dict[str, Any], expected: str) -> bool | int:
    """verl's check_correctness verdict for one case, from the API's answer."""
    status = answer.get("status")
    compiled, ran = answer.get("compile_result"), answer.get("run_result")
    if status == "SandboxError":
        return -1
    if status == "Failed":
        if compiled and (
            compiled["status"] in ("Error", "TimeLimitExceeded")
            or (compiled["status"] == "Finished" and compiled.get("return_code") != 0)
        ):
            return -4
        if ran:
            if ran["status"] == "TimeLimitExceeded":
                return -3
            if ran["status"] == "Error" or ran.get("return_code") != 0:
                return -2
        return -1
    if status == "Success" and ran and ran["status"] == "Finished":
        return str(ran.get("stdout") or "").rstrip("\n") == expected.rstrip("\n")
    return -1


@pytest.fixture(params=["bwrap", "docker"])
def client(request: pytest.FixtureRequest, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(sandbox_backend=request.param, workers=2)


EXPECTED = {"correct": True, "wrong": False, "compile_error": -4, "runtime_error": -2}
# SandboxFusion's ids for ours: C runs as "c" (SandboxFusion compiles it as cpp).
LANGUAGE_IDS = {"python": "python", "c": "c", "cpp": "cpp", "java": "java",
                "nodejs": "nodejs", "rust": "rust", "go": "go"}  # fmt: skip


@pytest.mark.parametrize("case", [*EXPECTED, "time_limit"])
@pytest.mark.parametrize("language", list(PROGRAMS))
def test_verl_scores_each_language(client: TestClient, language: str, case: str) -> None:
    timeout = 2 if case == "time_limit" else 10
    body = verl_body(PROGRAMS[language][case], LANGUAGE_IDS[language], SUM_STDIN, timeout)
    body["compile_timeout"] = 30  # a cold javac on a busy machine can take 2 s itself
    response = client.post("/run_code", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {
        "status", "message", "compile_result", "run_result", "executor_pod_name", "files",
    }  # fmt: skip
    expected = EXPECTED.get(case, -3)
    if language in ("python", "nodejs") and case == "compile_error":
        expected = -2  # no build step: the interpreter's syntax error is a run error
    if language == "java" and case == "wrong":
        expected = -4  # its `public class Solution` in Main.java, as SandboxFusion builds it
    assert verl_outcome(answer, SUM_STDOUT) == expected, answer


def test_shapes_of_each_stage(make_client: Callable[..., TestClient]) -> None:
    client = make_client(sandbox_backend="bwrap")
    ok = client.post("/run_code", json=verl_body(PROGRAMS["cpp"]["correct"], "cpp", "1 2")).json()
    assert ok["status"] == "Success" and ok["message"] == "" and ok["files"] == {}
    assert ok["compile_result"]["status"] == "Finished"
    assert ok["compile_result"]["return_code"] == 0
    run = ok["run_result"]
    assert (run["status"], run["return_code"], run["stdout"], run["stderr"]) == (
        "Finished", 0, "3\n", "",
    )  # fmt: skip
    assert isinstance(run["execution_time"], float)

    broken = verl_body(PROGRAMS["cpp"]["compile_error"], "cpp", "")
    failed = client.post("/run_code", json=broken).json()
    assert failed["status"] == "Failed" and failed["run_result"] is None
    assert failed["compile_result"]["return_code"] != 0
    assert "error" in failed["compile_result"]["stderr"]

    slow = verl_body("import time\ntime.sleep(30)\n", "python", "", timeout=1)
    late = client.post("/run_code", json=slow).json()
    assert late["status"] == "Failed" and late["compile_result"] is None
    assert late["run_result"]["status"] == "TimeLimitExceeded"
    assert late["run_result"]["return_code"] is None


def test_older_verl_body_without_memory_limit(make_client: Callable[..., TestClient]) -> None:
    body = verl_body("print(input()[::-1])", "python", "abc")
    del body["memory_limit_MB"]
    answer = make_client().post("/run_code", json=body).json()
    assert verl_outcome(answer, "cba") is True, answer


def test_verl_function_call_wrapper(make_client: Callable[..., TestClient]) -> None:
    """With `fn_name`, verl wraps the program: JSON arguments on stdin, one a line; the
    result printed as JSON (like its wrapper, shortened here)."""
    generation = "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n" + (
        "        for i, x in enumerate(nums):\n            if target - x in seen:\n"
        "                return [seen[target - x], i]\n            seen[x] = i\n"
    )
    wrapper = (
        "import sys, json\n" + generation + "\n_args = [json.loads(line) for line in "
        "sys.stdin.read().split('\\n')]\nprint(json.dumps(getattr(Solution(), 'twoSum')(*_args)))\n"
    )
    body = verl_body(wrapper, "python", json.dumps([2, 7, 11, 15]) + "\n" + json.dumps(9))
    answer = make_client().post("/run_code", json=body).json()
    assert verl_outcome(answer, "[0, 1]") is True, answer


def test_files_are_placed_in_the_work_dir(make_client: Callable[..., TestClient]) -> None:
    body = verl_body("print(open('data/in.txt').read().upper())", "python", "")
    body["files"] = {"data/in.txt": base64.b64encode(b"hello").decode(), "skip.txt": None}
    answer = make_client().post("/run_code", json=body).json()
    assert answer["run_result"]["stdout"] == "HELLO\n", answer


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize(
    ("language", "code"),
    [
        (
            "python",
            "import os\nos.makedirs('out', exist_ok=True)\n"
            "open('out/r.txt', 'w').write('r' * 3)\nraise SystemExit(3)",
        ),
        (
            "cpp",
            '#include <fstream>\nint main() { std::ofstream("out/r.txt") << "rrr"; return 3; }',
        ),
    ],
)
def test_fetch_files_come_back_after_the_run(
    make_client: Callable[..., TestClient], backend: str, language: str, code: str
) -> None:
    """What the program wrote is fetched; its exit status stays its own; files that do
    not exist are left out."""
    body = verl_body(code, language, "")
    body["files"] = {"out/keep.txt": base64.b64encode(b"kept").decode()}
    body["fetch_files"] = ["out/r.txt", "out/keep.txt", "missing.txt"]
    answer = make_client(sandbox_backend=backend).post("/run_code", json=body).json()
    assert answer["run_result"]["return_code"] == 3, answer
    assert answer["files"] == {
        "out/r.txt": base64.b64encode(b"rrr").decode(),
        "out/keep.txt": base64.b64encode(b"kept").decode(),
    }


def test_memory_limit_is_applied(make_client: Callable[..., TestClient]) -> None:
    body = verl_body("x = bytearray(400 << 20)\nprint('held')", "python", "")
    body["memory_limit_MB"] = 128
    answer = make_client().post("/run_code", json=body).json()
    assert answer["status"] == "Failed" and answer["run_result"]["return_code"] != 0, answer


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"language": "julia"}, "'julia' (a SandboxFusion id) has no toolchain"),
        ({"files": {"../up.txt": "eA=="}}, "relative path"),
        ({"files": {"a.txt": "not base64!"}}, "not base64"),
        ({"run_timeout": 0}, "run_timeout"),
        ({"fetch_files": ["/etc/passwd"]}, "fetch_files"),
    ],
    ids=["unsupported-language", "path-outside-workdir", "bad-base64", "zero-timeout", "fetch-abs"],
)
def test_bad_requests_are_400_with_the_error_envelope(
    make_client: Callable[..., TestClient], change: dict[str, Any], message: str
) -> None:
    body = {**verl_body("print(1)", "python", ""), **change}
    response = make_client().post("/run_code", json=body)
    assert response.status_code in (400, 422), response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message"}
    assert message in error["message"]


def test_a_backend_that_is_down_is_a_sandbox_error(make_client: Callable[..., TestClient]) -> None:
    client = make_client(sandbox_backend="docker", docker_image="rg/none:never")
    answer = client.post("/run_code", json=verl_body("print(1)", "python", "")).json()
    assert answer["status"] == "SandboxError" and "rg/none:never" in answer["message"]
    assert verl_outcome(answer, "1") == -1


def test_run_code_is_guarded_by_api_keys(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys="key-one-0123456789abcdef")
    body = verl_body("print(1)", "python", "")
    assert client.post("/run_code", json=body).status_code == 401
    answer = client.post(
        "/run_code", json=body, headers={"Authorization": "Bearer key-one-0123456789abcdef"}
    )
    assert answer.json()["status"] == "Success"
