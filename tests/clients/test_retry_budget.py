"""The clients' retry budget is time, not a count of tries.

A server under sustained load turns clients away for as long as the load lasts; a
client that gives up after a handful of quick tries loses work the server would have
done a moment later. These tests put the real app behind a gate that answers 429 (in
the envelope, as the app's own admission does) to the first N requests.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from rewardgate.clients import AsyncRewardClient, RetriesExhausted, Retry, RewardClient
from rewardgate.clients import retry as retry_module
from rewardgate.clients.errors import error_from_response
from rewardgate.clients.retry import DEFAULT_RETRY_FOR_S, Tries
from rewardgate.verifiers.errors import Overloaded
from tests.clients.support import IN_PROCESS, echo


class TurnAway:
    """Answers the first `refusals` scoring requests 429 with `Retry-After`, then
    lets requests through to the app; counts what it refused."""

    def __init__(self, app: ASGIApp, refusals: int, retry_after: str = "0") -> None:
        self.app = app
        self.left = refusals
        self.refused = 0
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/rewards" and self.left != 0:
            self.left -= 1
            self.refused += 1
            body = orjson.dumps({"error": {"code": "overloaded", "message": "busy"}})
            headers = [
                (b"content-type", b"application/json"),
                (b"retry-after", self.retry_after.encode()),
            ]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


ITEMS = [echo(str(k), "3") for k in range(6)]


async def test_async_client_rides_out_sustained_429_with_its_defaults(make_app) -> None:
    """Twenty refusals in a row: more than any fixed count of quick tries allowed."""
    gate = TurnAway(await make_app(), refusals=20)
    transport = httpx.ASGITransport(app=gate)
    async with AsyncRewardClient(IN_PROCESS, transport=transport, batch_size=2) as client:
        results = await client.score_batch(ITEMS)
    assert [r.reward for r in results] == [0, 0, 0, 1, 0, 0]
    assert gate.refused == 20


async def test_sync_client_rides_out_sustained_429_with_its_defaults(make_app) -> None:
    import anyio

    gate = TurnAway(await make_app(), refusals=20)

    def run() -> list[Any]:
        # The sync client needs a sync transport: a real server would do, but the
        # app's own event loop is this test's, so a thread drives the ASGI app.
        transport = _SyncASGI(gate, portal)
        with RewardClient(IN_PROCESS, transport=transport, batch_size=3) as client:
            return client.score_batch(ITEMS, concurrency=1)

    async with anyio.from_thread.BlockingPortal() as portal:
        results = await anyio.to_thread.run_sync(run)
    assert [r.reward for r in results] == [0, 0, 0, 1, 0, 0]
    assert gate.refused == 20


async def test_a_spent_budget_raises_with_the_last_answer_never_a_score(make_app) -> None:
    gate = TurnAway(await make_app(), refusals=-1)  # for ever
    transport = httpx.ASGITransport(app=gate)
    policy = Retry(retry_for=0.3)
    async with AsyncRewardClient(IN_PROCESS, transport=transport, retry=policy) as client:
        with pytest.raises(RetriesExhausted) as caught:
            await client.score_batch(ITEMS[:2])
    assert isinstance(caught.value.last, Overloaded)
    # Time, not a count, ended it: far more tries than the old six were made.
    assert caught.value.attempts == gate.refused > 6


def test_the_default_budget_is_minutes() -> None:
    assert Retry().retry_for == DEFAULT_RETRY_FOR_S >= 60
    assert Retry().attempts is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_waits_are_cut_to_the_deadline_and_then_it_gives_up(monkeypatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(retry_module.time, "monotonic", clock)
    tries = Tries(Retry(retry_for=10.0, max_retry_after_s=60.0))
    busy = error_from_response(429, b"", "4")
    assert 4.0 <= tries.failed(busy) <= 4.4  # Retry-After honoured
    clock.now += 8.0
    assert tries.failed(busy) == pytest.approx(2.0)  # only 2 s of budget left
    clock.now += 2.0
    with pytest.raises(RetriesExhausted) as caught:
        tries.failed(busy)
    assert caught.value.attempts == 3 and caught.value.last is busy


def test_no_budget_retries_for_ever_and_attempts_still_cap(monkeypatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(retry_module.time, "monotonic", clock)
    endless = Tries(Retry(retry_for=None, max_backoff_s=1.0))
    busy = error_from_response(503, b"")
    for _ in range(1000):
        clock.now += 3600
        assert 0 <= endless.failed(busy) <= 1.0
    capped = Tries(Retry(attempts=2, retry_for=None))
    capped.failed(busy)
    with pytest.raises(RetriesExhausted):
        capped.failed(busy)


def test_a_bad_budget_is_refused() -> None:
    with pytest.raises(ValueError):
        Retry(retry_for=-1)
    with pytest.raises(ValueError):
        Retry(attempts=0)


class _SyncASGI(httpx.BaseTransport):
    """A sync httpx transport into an ASGI app running on another thread's loop."""

    def __init__(self, app: ASGIApp, portal: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def send() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=content
            )
            response = await self.inner.handle_async_request(forwarded)
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            return response.status_code, response.headers.raw, body

        status, headers, body = self.portal.call(send)
        return httpx.Response(status, headers=headers, content=body, request=request)


@pytest.mark.slow
def test_sync_client_waits_for_a_server_that_is_not_up_yet(tmp_path) -> None:
    """Connection refused for longer than six quick tries last: the call still lands."""
    import threading
    import time

    from tests.conftest import free_port
    from tests.service.live import start_server, stop_server

    port = free_port()
    outcome: dict[str, Any] = {}

    def call() -> None:
        with RewardClient(f"http://127.0.0.1:{port}") as client:
            try:
                outcome["results"] = client.score_batch(ITEMS)
            except Exception as exc:  # reported below, with what it was
                outcome["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(7.0)  # past the old budget of six tries (about 3-6 s of backoff)
    assert thread.is_alive(), outcome
    server = start_server(tmp_path, port=port)
    try:
        thread.join(timeout=120)
    finally:
        stop_server(server)
    assert "error" not in outcome, outcome
    assert [r.reward for r in outcome["results"]] == [0, 0, 0, 1, 0, 0]
