"""SandboxFusion's `jest`: a TypeScript test file (the solution and its `describe`/`test`
blocks) run by jest from the pinned prefix (scripts/install-jest.sh), on both backends,
through `/run_code` as SandboxFusion's own tests post it and through the code
verifier's stdio format; the nonce rule (`process.exit(0)` in the file is a failed
run); `toolchain.jest` in the code verifier's health (`/readyz`, `rewardgate doctor`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from rewardgate.sandbox.languages import toolchain_health
from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.code.extract import extract_program
from rewardgate.verifiers.models import RewardRequest

# SandboxFusion's sandbox/tests/runners/test_jest.py, shortened: a right solution, and
# the wrong one it tests (always 0).
SOLUTION = """\
import { describe, expect, test } from '@jest/globals';

function MinSubArrayLen(target: number, nums: number[]): number {
%s
}

describe('MinSubArrayLen', () => {
    test('finds minimum length of a subarray with sum >= target', () => {
        expect(MinSubArrayLen(7, [2, 3, 1, 2, 4, 3])).toBe(2);
        expect(MinSubArrayLen(15, [1, 2, 3, 4, 5])).toBe(5);
        expect(MinSubArrayLen(11, [1, 1, 1, 1, 1, 1, 1, 1])).toBe(0);
    });

    test('works with single element array', () => {
        expect(MinSubArrayLen(3, [3])).toBe(1);
        expect(MinSubArrayLen(3, [1])).toBe(0);
    });
});
"""
RIGHT = SOLUTION % (
    "    let minLength = Infinity, sum = 0, start = 0;\n"
    "    for (let end = 0; end < nums.length; end++) {\n"
    "        sum += nums[end];\n"
    "        while (sum >= target) {\n"
    "            minLength = Math.min(minLength, end - start + 1);\n"
    "            sum -= nums[start++];\n"
    "        }\n"
    "    }\n"
    "    return minLength === Infinity ? 0 : minLength;"
)
WRONG = SOLUTION % "    return 0"
# Ends jest with success from inside the function under test, before any expect fails.
EXIT_EARLY = SOLUTION % "    process.exit(0);\n    return 0;"
# Jest's own `process.exit` replaced by the real one before exiting (still no report).
REAL_EXIT = SOLUTION % "    (process as any).reallyExit(0);\n    return 0;"
ENDLESS = "import { test } from '@jest/globals';\ntest('spins', () => { while (true) {} });\n"


@pytest.fixture(params=["bwrap", "docker"])
def client(request: pytest.FixtureRequest, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(sandbox_backend=request.param)


def run(client: TestClient, code: str, timeout: float = 60) -> dict[str, Any]:
    body = {"code": code, "language": "jest", "run_timeout": timeout}
    response = client.post("/run_code", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_right_and_wrong_solutions(client: TestClient) -> None:
    passing = run(client, RIGHT)
    assert passing["status"] == "Success", passing
    assert "Tests:       2 passed, 2 total" in passing["run_result"]["stderr"], passing
    failing = run(client, WRONG)
    assert failing["status"] == "Failed", failing
    assert failing["run_result"]["status"] == "Finished", failing
    assert "Tests:       2 failed, 2 total" in failing["run_result"]["stderr"], failing


@pytest.mark.parametrize("code", [EXIT_EARLY, REAL_EXIT], ids=["process_exit", "really_exit"])
def test_exiting_early_is_a_failed_run(client: TestClient, code: str) -> None:
    answer = run(client, code)
    assert answer["status"] == "Failed", answer
    assert answer["run_result"]["return_code"] != 0, answer
    assert "before every test was seen to pass" in answer["run_result"]["stderr"], answer


def test_endless_test_times_out(make_client: Callable[..., TestClient]) -> None:
    answer = run(make_client(sandbox_backend="bwrap"), ENDLESS, timeout=8)
    assert answer["run_result"]["status"] == "TimeLimitExceeded", answer


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_code_verifier_scores_jest_files(backend: str) -> None:
    verifier = CodeVerifier()
    tests = [{"stdin": "", "expected_stdout": ""}]

    def reward(code: str) -> float | None:
        request = RewardRequest(
            verifier="code",
            response=code,
            reference={"language": "jest", "tests": tests},
            options={"backend": backend, "time_limit_s": 60, "memory_mb": 1024},
        )
        return verifier.verify(request).reward

    assert reward(RIGHT) == 1.0
    assert reward(WRONG) == 0.0
    assert reward(EXIT_EARLY) == 0.0


def test_health_reports_jest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert toolchain_health()["toolchain.jest"] == "ok"
    monkeypatch.setenv("REWARDGATE_JEST_PREFIX", str(tmp_path))
    assert "scripts/install-jest.sh" in toolchain_health()["toolchain.jest"]


def test_fenced_typescript_is_the_jest_program() -> None:
    response = f"The tests:\n```typescript\n{RIGHT}```\nand a check:\n```python\nprint(1)\n```\n"
    assert extract_program(response, "jest") == RIGHT
    assert (
        extract_program("```kts\nprintln(1)\n```\n```sh\nls\n```", "kotlin_script")
        == "println(1)\n"
    )
