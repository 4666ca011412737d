"""The API surface's smaller promises (issue 17, defects 4 and 10): API keys that
cannot silently turn auth off, memory caps on every sandboxed run, and a request cut
by the graceful shutdown answered in the envelope with a retriable 503."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from rewardgate.service.settings import MIN_API_KEY_CHARS, MIN_RUN_MEMORY_MB, Settings
from tests.service.live import start_server, stop_server
from tests.service.test_engine import echo

KEY = "surface-key-0123456789abcdef"
JSON = {"content-type": "application/json"}


# -- API keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [" , ", ",", " ,, , ", "\t,\n"], ids=repr)
def test_keys_that_name_no_key_are_refused_not_read_as_auth_off(monkeypatch, value: str) -> None:
    monkeypatch.setenv("REWARDGATE_API_KEYS", value)
    with pytest.raises(ValidationError, match="names no key"):
        Settings()


@pytest.mark.parametrize("value", ["k1", "short-key", f"{KEY},tiny"], ids=["2", "9", "one-short"])
def test_short_keys_are_refused(monkeypatch, value: str) -> None:
    monkeypatch.setenv("REWARDGATE_API_KEYS", value)
    with pytest.raises(ValidationError, match=f"at least {MIN_API_KEY_CHARS}"):
        Settings()


def test_keys_given_as_arguments_are_checked_too() -> None:
    with pytest.raises(ValidationError):
        Settings(api_keys=("",))
    with pytest.raises(ValidationError):
        Settings(api_keys=(f" {KEY}",))
    assert Settings(api_keys=(KEY,)).api_keys == (KEY,)


@pytest.mark.parametrize("value", ["", "   "], ids=["empty", "blank"])
def test_an_empty_variable_is_auth_off(monkeypatch, value: str) -> None:
    monkeypatch.setenv("REWARDGATE_API_KEYS", value)
    assert Settings().api_keys == ()


def test_the_start_says_whether_auth_is_on(make_client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="rewardgate.http"):
        make_client()
        make_client(api_keys=KEY)
    messages = [r.getMessage() for r in caplog.records if r.name == "rewardgate.http"]
    assert any(m.startswith("auth OFF") for m in messages), messages
    assert any(m.startswith("auth on: 1 API key") for m in messages), messages


# -- memory caps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "cap"),
    [
        ({"max_run_memory_mb": 4096, "run_memory_budget_mb": 64_000, "workers": 2}, 4096),
        ({"max_run_memory_mb": 4096, "run_memory_budget_mb": 4096, "workers": 2}, 1024),
        ({"max_run_memory_mb": 512, "run_memory_budget_mb": 8192, "workers": 1}, 512),
        (
            {"max_run_memory_mb": 4096, "run_memory_budget_mb": 1024, "workers": 64},
            MIN_RUN_MEMORY_MB,
        ),
    ],
    ids=["per-run-cap", "budget-shared", "small-cap", "floor"],
)
def test_the_cap_fits_every_concurrent_run_in_the_budget(
    settings: dict[str, Any], cap: int
) -> None:
    assert Settings(**settings).run_memory_cap_mb() == cap


def test_the_default_cap_respects_the_hosts_memory() -> None:
    from rewardgate.service.settings import host_memory_budget_mb

    settings = Settings(workers=2)
    cap = settings.run_memory_cap_mb()
    assert cap <= settings.max_run_memory_mb
    assert cap * 2 * settings.workers <= max(host_memory_budget_mb(), 2 * 2 * MIN_RUN_MEMORY_MB)


def test_run_code_refuses_memory_over_the_cap(make_client) -> None:
    client = make_client(max_run_memory_mb=512)
    body = {"code": "print(1)", "language": "python", "memory_limit_MB": 3072}
    answer = client.post("/run_code", json=body)
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert "memory_limit_MB" in message and "512" in message
    # Clients can read the cap in force before sending anything.
    assert client.get("/v1/verifiers").json()["limits"]["max_run_memory_mb"] == 512


def test_run_code_without_a_limit_runs_under_the_cap(make_client) -> None:
    """SandboxFusion's -1 ("no limit") used to mean 2048 MB whatever the server had."""
    client = make_client(max_run_memory_mb=128)
    grab = "x = bytearray(400 << 20)\nprint('allocated')"
    body = {"code": grab, "language": "python", "memory_limit_MB": -1, "run_timeout": 20}
    answer = client.post("/run_code", json=body).json()
    assert answer["status"] in ("Failed", "Success"), answer
    assert "allocated" not in (answer["run_result"]["stdout"] or ""), answer


def test_code_verifier_refuses_memory_over_the_cap(make_client) -> None:
    client = make_client(installed=True, max_run_memory_mb=1024)
    tests = {"asserts": ["assert f() == 1"]}
    items = [
        {
            "verifier": "code",
            "response": "def f(): return 1",
            "reference": tests,
            "options": {"memory_mb": 16384},
        },
    ]
    [result] = client.post("/v1/rewards", json={"items": items}).json()["results"]
    assert result["status"] == "invalid", result
    assert "memory_mb" in result["error"] and "1024" in result["error"]


def test_code_verifier_lowers_its_default_to_the_cap() -> None:
    from rewardgate.service.app import verifier_env
    from rewardgate.verifiers.registry import Registry

    env = verifier_env(Settings(max_run_memory_mb=256, workers=1))
    code = Registry.from_entry_points(env=env).get("code")
    prepared = code.prepare({"asserts": ["assert True"]}, {})
    assert prepared.options.memory_mb == 256
    within = code.prepare({"asserts": ["assert True"]}, {"memory_mb": 200})
    assert within.options.memory_mb == 200


# -- a request cut by the shutdown ------------------------------------------------------------


@pytest.mark.slow
def test_a_request_cut_by_the_shutdown_gets_a_retriable_503_envelope(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=1, graceful_timeout_s=1)
    outcome: dict[str, Any] = {}

    def post() -> None:
        item = {"verifier": "sleepy", "response": "", "reference": {"seconds": 30}}
        try:
            outcome["response"] = httpx.post(
                f"{server.url}/v1/rewards", json={"items": [item]}, timeout=60
            )
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=post)
    thread.start()
    deadline = time.monotonic() + 20
    while "rewardgate_queue_depth 1.0" not in _metrics(server.url):
        assert time.monotonic() < deadline, "the item never started"
        time.sleep(0.05)
    stop_server(server, signal.SIGTERM, timeout_s=60)
    thread.join(timeout=60)
    response = outcome.get("response")
    assert response is not None, outcome
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert response.json()["error"]["code"] == "shutting_down"
    assert "Internal Server Error" not in server.logs()


def _metrics(url: str) -> str:
    try:
        return httpx.get(f"{url}/metrics", timeout=2).text
    except httpx.HTTPError:
        return ""


def test_ndjson_accept_and_json_charset_are_accepted(make_client) -> None:
    client = make_client()
    body = {"items": [echo("42")]}
    charset = {"content-type": "application/json; charset=utf-8"}
    assert client.post("/v1/rewards", json=body, headers=charset).status_code == 200
    streamed = client.post("/v1/rewards", json=body, headers={"accept": "application/x-ndjson"})
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith(
        "application/x-ndjson"
    )
