"""A proxy's bare 5xx is retried (on another base URL when there is one); the
gateway's own enveloped 5xx and every verdict are not.

The real app sits behind `Proxy`, an ASGI front that answers like nginx or Ray
Serve's proxy does when an upstream dies: a 5xx with an HTML or plain-text body, no
rewardgate envelope. The base URL's host picks which front a request meets.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from rewardgate.clients import AsyncRewardClient, RetriesExhausted, Retry
from rewardgate.clients.errors import error_from_response
from rewardgate.clients.retry import from_proxy
from rewardgate.verifiers.errors import RewardgateError
from tests.clients.support import echo

NGINX_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


class Proxy:
    """Hosts in `broken` answer `status` with `body` (`left` times, -1: for ever);
    other hosts reach the app. Counts the scoring requests each host received."""

    def __init__(
        self, app: ASGIApp, broken: set[str], status: int, body: bytes, left: int = -1
    ) -> None:
        self.app, self.broken, self.status, self.body, self.left = app, broken, status, body, left
        self.seen: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = dict(scope.get("headers", [])).get(b"host", b"").decode()
        if scope["type"] == "http" and scope["path"] == "/v1/rewards":
            self.seen[host] += 1
            if host in self.broken and self.left != 0:
                self.left -= 1
                headers = [(b"content-type", b"text/html")]
                await send(
                    {"type": "http.response.start", "status": self.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": self.body})
                return
        await self.app(scope, receive, send)


def client(proxy: Proxy, *urls: str, **options: Any) -> AsyncRewardClient:
    options.setdefault("retry", Retry(backoff_s=0.01, retry_for=20))
    transport = httpx.ASGITransport(app=proxy)
    return AsyncRewardClient(list(urls), transport=transport, **options)


ITEMS = [echo(str(k), "3", id=f"i{k}") for k in range(8)]


@pytest.mark.parametrize(
    ("status", "body"),
    [(502, NGINX_502), (500, b"Internal Server Error"), (504, b"upstream timed out"), (500, b"")],
)
async def test_a_bare_5xx_is_retried_until_the_batch_scores(make_app, status, body) -> None:
    proxy = Proxy(await make_app(), {"lb.test"}, status, body, left=3)
    async with client(proxy, "http://lb.test", batch_size=4, concurrency=1) as rewards:
        results = await rewards.score_batch(ITEMS)
    assert [(r.id, r.status, r.reward) for r in results] == [
        (f"i{k}", "ok", float(k == 3)) for k in range(8)
    ]
    assert proxy.seen["lb.test"] == 2 + 3  # two parts, three refused tries


async def test_a_bare_5xx_goes_to_another_base_url(make_app) -> None:
    proxy = Proxy(await make_app(), {"down.test"}, 502, NGINX_502)
    async with client(proxy, "http://down.test", "http://up.test", batch_size=1) as rewards:
        results = await rewards.score_batch(ITEMS)
    assert [r.status for r in results] == ["ok"] * 8
    # The broken one is passed over after its first 502: each item was scored once
    # by the healthy one, and the broken one saw at most one try per cool-down.
    assert proxy.seen["up.test"] == 8
    assert proxy.seen["down.test"] == 1


async def test_the_gateways_own_5xx_is_not_retried(make_app) -> None:
    envelope = orjson.dumps({"error": {"code": "internal", "message": "engine is not started"}})
    proxy = Proxy(await make_app(), {"gw.test"}, 500, envelope)
    async with client(proxy, "http://gw.test") as rewards:
        with pytest.raises(RewardgateError) as caught:
            await rewards.score_batch(ITEMS[:2])
    assert caught.value.code == "internal" and not isinstance(caught.value, RetriesExhausted)
    assert proxy.seen["gw.test"] == 1


def test_only_a_5xx_without_the_envelope_counts_as_a_proxys() -> None:
    assert from_proxy(error_from_response(502, NGINX_502))
    assert from_proxy(error_from_response(500, b""))
    assert from_proxy(error_from_response(504, b"{}"))
    assert not from_proxy(error_from_response(500, b'{"error":{"code":"x","message":"m"}}'))
    assert not from_proxy(error_from_response(404, b"not found"))
    assert not from_proxy(error_from_response(400, b"bad"))
    assert Retry().retriable(error_from_response(504, b"gateway timeout"))
    assert not Retry().retriable(
        error_from_response(500, b'{"error":{"code":"internal","message":"m"}}')
    )
