"""`/run_code` as SandboxFusion answers it, through SandboxFusion's own PyPI client.

SandboxFusion's client package (`sandbox-fusion`: `run_code`, `run_concurrent` at its
default 20 threads, `run_code_async`) talks to a real server; programs whose answer
depends on the build commands (Java's `-ea`, C++'s `-std=c++17` without `-O2`, Rust's
edition, Java's `Main.java`) answer as on SandboxFusion, while `/v1/rewards` keeps
rewardgate's commands; every endpoint reads one table of language ids; SandboxFusion's
other routes answer a clear 501.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sandbox_fusion
from starlette.testclient import TestClient

from rewardgate.service.routes.sandbox_fusion_unsupported import UNSUPPORTED
from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.code.models import StdioReference
from rewardgate.verifiers.models import RewardRequest
from tests.service.inprocess_server import serve_app

USES_RESOURCES = ()

JAVA_ASSERT = (
    "public class Main { public static void main(String[] a) {"
    ' int x = 1; assert x == 2 : "x is not 2"; System.out.println("unchecked"); } }\n'
)
CPP_FLAGS = (
    '#include <iostream>\nint main() {\n#ifdef __OPTIMIZE__\n std::cout << "O2 ";\n#else\n'
    ' std::cout << "O0 ";\n#endif\n std::cout << __cplusplus << std::endl; }\n'
)
# `async` is a keyword from Rust 2018 on: this compiles only under rustc's default, 2015.
RUST_2015 = 'fn main() { let async = 2015; println!("{}", async); }\n'
JAVA_SOLUTION = (
    'public class Solution { public static void main(String[] a) { System.out.println("ran"); } }\n'
)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("sandbox_fusion"), workers=2) as base:
        yield base


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(workers=2)


def run(client: TestClient, code: str, language: str, **extra: Any) -> dict[str, Any]:
    body = {"code": code, "language": language, "compile_timeout": 30, "run_timeout": 10}
    response = client.post("/run_code", json={**body, **extra})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def reward(language: str, source: str, expected: str) -> tuple[float, str]:
    """The code verifier's (that is /v1/rewards') verdict on one stdio test."""
    request = RewardRequest(
        verifier="code",
        response=source,
        reference={"language": language, "tests": [{"stdin": "", "expected_stdout": expected}]},
        options={"time_limit_s": 10},
    )
    result = CodeVerifier().verify(request)
    assert result.status == "ok", result.error
    return result.reward, result.steps[0].label if result.steps else ""


# --- SandboxFusion's own client ----------------------------------------------------


def test_sandbox_fusion_client_run_code(url: str) -> None:
    request = sandbox_fusion.RunCodeRequest(
        code="print(input()[::-1])", language="python", stdin="abc"
    )
    answer = sandbox_fusion.run_code(request, endpoint=url)
    assert answer.status == sandbox_fusion.RunStatus.Success
    assert answer.run_result is not None and answer.run_result.stdout == "cba\n"


def test_sandbox_fusion_client_run_concurrent_at_its_defaults(url: str) -> None:
    requests = [
        sandbox_fusion.RunCodeRequest(
            code="print(int(input()) ** 2)", language="python", stdin=str(k)
        )
        for k in range(40)
    ]
    answers = sandbox_fusion.run_concurrent(
        sandbox_fusion.run_code, kwargs=[{"request": r, "endpoint": url} for r in requests]
    )
    assert [a.run_result.stdout for a in answers] == [f"{k * k}\n" for k in range(40)]


async def test_sandbox_fusion_async_client(url: str) -> None:
    request = sandbox_fusion.RunCodeRequest(code="print(6 * 7)", language="python")
    answer = await sandbox_fusion.run_code_async(request, endpoint=url)
    assert answer.status == sandbox_fusion.RunStatus.Success
    assert answer.run_result is not None and answer.run_result.stdout == "42\n"


def test_sandbox_fusion_client_reads_the_501(url: str) -> None:
    with pytest.raises(Exception, match="not supported by rewardgate"):
        sandbox_fusion.get_prompts(
            sandbox_fusion.GetPromptsRequest(
                dataset="humaneval_python", config=sandbox_fusion.TestConfig()
            ),
            endpoint=url,
        )
    safe = sandbox_fusion.submit_safe(
        sandbox_fusion.SubmitRequest(
            dataset="humaneval_python", id=0, completion="x", config=sandbox_fusion.TestConfig()
        ),
        endpoint=url,
        max_attempts=1,
    )
    assert safe.accepted is False


# --- SandboxFusion's commands on /run_code, rewardgate's on /v1/rewards -----------------


def test_java_runs_with_assertions_on(client: TestClient) -> None:
    answer = run(client, JAVA_ASSERT, "java")
    assert answer["status"] == "Failed"
    assert answer["run_result"]["return_code"] != 0
    assert "AssertionError" in answer["run_result"]["stderr"]


def test_cpp_builds_as_sandbox_fusion_does(client: TestClient) -> None:
    answer = run(client, CPP_FLAGS, "cpp")
    assert answer["status"] == "Success", answer
    assert answer["run_result"]["stdout"].split() == ["O0", "201703"]
    assert reward("cpp", CPP_FLAGS, "O2 201703\n") == (1.0, "passed")  # ours: -O2, gnu++17


def test_rust_builds_without_an_edition(client: TestClient) -> None:
    answer = run(client, RUST_2015, "rust")
    assert answer["status"] == "Success", answer
    assert answer["run_result"]["stdout"] == "2015\n"
    assert reward("rust", RUST_2015, "2015\n") == (0.0, "compile_error")  # ours: 2021


def test_java_source_is_main_java_as_on_sandbox_fusion(client: TestClient) -> None:
    answer = run(client, JAVA_SOLUTION, "java")
    assert answer["status"] == "Failed"
    assert "Solution" in answer["compile_result"]["stderr"]
    assert reward("java", JAVA_SOLUTION, "ran\n") == (1.0, "passed")  # ours: Solution.java


# --- one table of language ids ------------------------------------------------------


@pytest.mark.parametrize("alias", ["python", "py3", "python3", "Python"])
def test_python_aliases_run(client: TestClient, alias: str) -> None:
    assert run(client, "print(1)", alias)["run_result"]["stdout"] == "1\n"


@pytest.mark.parametrize(
    ("alias", "code"),
    [
        ("c++", '#include <cstdio>\nint main(){ std::puts("1"); }\n'),
        ("js", "console.log(1)\n"),
        ("nodejs", "console.log(1)\n"),
    ],
)
def test_other_aliases_run(client: TestClient, alias: str, code: str) -> None:
    assert run(client, code, alias)["run_result"]["stdout"] == "1\n"


@pytest.mark.parametrize("language", ["python_gpu", "julia", "swift", "lean", "cuda"])
def test_sandbox_fusion_ids_without_a_toolchain_name_the_id(
    client: TestClient, language: str
) -> None:
    response = client.post("/run_code", json={"code": "x", "language": language})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert repr(language) in message and "no toolchain" in message
    with pytest.raises(ValueError, match="no toolchain"):  # /v1/rewards: the same words
        StdioReference.model_validate(
            {"language": language, "tests": [{"stdin": "", "expected_stdout": ""}]}
        )


def test_unknown_language_is_400_naming_it(client: TestClient) -> None:
    response = client.post("/run_code", json={"code": "x", "language": "cobol"})
    assert response.status_code == 400
    assert "unknown language 'cobol'" in response.json()["error"]["message"]


@pytest.mark.parametrize("alias", ["py3", "python3", "c++", "js"])
def test_v1_rewards_reads_the_same_table(alias: str) -> None:
    parsed = StdioReference.model_validate(
        {"language": alias, "tests": [{"stdin": "", "expected_stdout": ""}]}
    )
    assert parsed.language in {"python", "cpp", "nodejs"}


# --- SandboxFusion's other routes -----------------------------------------------------


@pytest.mark.parametrize("path", sorted(UNSUPPORTED))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_other_sandbox_fusion_routes_are_501_in_the_envelope(
    make_client: Callable[..., TestClient], path: str, method: str
) -> None:
    client = make_client(start=False)
    response = client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == "not_supported"
    assert path in error["message"] and "not supported by rewardgate" in error["message"]
