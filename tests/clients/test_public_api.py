"""The documented names import, and importing the client stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rewardgate.clients
from rewardgate.clients import Retry, errors, rewards
from rewardgate.clients.retry import Tries
from rewardgate.verifiers.errors import Overloaded, Unauthorized
from rewardgate.verifiers.models import RewardResult

DOCUMENTED = [
    "RewardClient",
    "AsyncRewardClient",
    "LocalClient",
    "AsyncLocalClient",
    "Retry",
    "rewards",
    "Scored",
    "VerifierInfo",
    "Limits",
    "RetriesExhausted",
    "ConnectionFailed",
    "ClientTimeout",
    "ServerError",
    "Unauthorized",
    "PayloadTooLarge",
    "Overloaded",
    "InvalidRequest",
]


def test_documented_names_are_exported() -> None:
    assert set(DOCUMENTED) <= set(rewardgate.clients.__all__)
    for name in rewardgate.clients.__all__:
        assert getattr(rewardgate.clients, name) is not None


def test_import_loads_no_server_or_domain_dependency() -> None:
    heavy = ["fastapi", "starlette", "pebble", "math_verify", "sympy", "aiohttp", "uvicorn"]
    code = (
        "import sys, rewardgate.clients\n"
        f"loaded = [m for m in {heavy!r} + ['rewardgate.service'] if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


ADAPTERS = {
    "rewardgate.clients.verl": ["compute_score", "compute_score_async", "DEFAULT_SOURCES"],
    "rewardgate.clients.trl": ["reward_func", "async_reward_func", "RewardFunc"],
    "rewardgate.clients.connect": ["connect", "shared_client", "close_shared", "URL_ENV"],
}


@pytest.mark.parametrize("module", sorted(ADAPTERS))
def test_trainer_adapters_export_their_names_and_import_light(module: str) -> None:
    heavy = ["fastapi", "starlette", "pebble", "math_verify", "sympy", "aiohttp", "uvicorn"]
    code = (
        f"import sys, {module} as m\n"
        f"assert set({ADAPTERS[module]!r}) <= set(m.__all__)\n"
        "assert all(getattr(m, name) is not None for name in m.__all__)\n"
        f"print(','.join(n for n in {heavy!r} + ['rewardgate.service'] if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def result(status: str, reward: float) -> RewardResult:
    return RewardResult(verifier="echo", status=status, reward=reward)  # type: ignore[arg-type]


def test_rewards_abstains_on_non_ok_results() -> None:
    results = [result("ok", 1.0), result("invalid", 0.0), result("timeout", -1.0)]
    assert rewards(results) == [1.0, None, None]
    assert rewards(results, abstain=False) == [1.0, 0.0, -1.0]


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "cls", "code"),
    [
        (
            401,
            b'{"error": {"code": "unauthorized", "message": "m"}}',
            None,
            Unauthorized,
            "unauthorized",
        ),
        (429, b'{"error": {"code": "overloaded", "message": "m"}}', "3", Overloaded, "overloaded"),
        (
            405,
            b'{"error": {"code": "method_not_allowed", "message": "m"}}',
            None,
            errors.ServerError,
            "method_not_allowed",
        ),
        (502, b"<html>bad gateway</html>", None, errors.ServerError, "http_502"),
        (404, b"", None, errors.NotFound, "http_404"),
    ],
    ids=["auth", "overload", "unknown-code", "proxy-html", "head-without-body"],
)
def test_answers_become_the_trees_errors(status, body, retry_after, cls, code) -> None:
    exc = errors.error_from_response(status, body, retry_after, "rid")
    assert type(exc) is cls
    assert (exc.code, exc.http_status, exc.request_id) == (code, status, "rid")  # type: ignore[attr-defined]
    assert exc.message
    if retry_after:
        assert exc.retry_after == 3.0  # type: ignore[attr-defined]


def test_retry_policy_retries_only_what_may_succeed_later() -> None:
    policy = Retry(attempts=3, backoff_s=1.0, max_backoff_s=3.0)
    answer = errors.error_from_response
    assert policy.retriable(answer(429, b"", "1"))
    assert policy.retriable(answer(503, b""))
    assert policy.retriable(errors.ConnectionFailed("refused"))
    assert not policy.retriable(answer(401, b""))
    assert not policy.retriable(answer(400, b""))
    assert not policy.retriable(answer(413, b""))
    assert not policy.retriable(errors.ClientTimeout("slow"))
    assert [0.5 <= policy.backoff(0) <= 1.0, 1.5 <= policy.backoff(5) <= 3.0] == [True, True]
    assert 2.0 <= policy.delay(0, answer(429, b"", "2")) <= 2.2  # Retry-After wins
    tries = Tries(policy)
    assert tries.failed(errors.ConnectionFailed("x"), elsewhere=True) == 0.0
    tries.failed(errors.ConnectionFailed("x"))
    with pytest.raises(errors.RetriesExhausted):
        tries.failed(errors.ConnectionFailed("x"))
