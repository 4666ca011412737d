"""A verifier → URL map: each item goes to its verifier's pool, results in input order.

One real app stands behind a front that counts, by Host, which pool each item reached.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import httpx
import orjson
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from rewardgate.clients.routing import AsyncRoutedClient, RoutedClient, split_by_route
from tests.clients.support import echo
from tests.clients.test_retry_budget import _SyncASGI


class Pools:
    """Counts the items of each verifier that reached each host."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.items: Counter[tuple[str, str]] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/rewards":
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"])[b"host"].decode()
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        for item in orjson.loads(body)["items"]:
            self.items[host, item.get("verifier", "?")] += 1
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()  # waits as the real one does
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


ROUTES = {"sleepy": "http://code-pool.test", "*": ["http://math-a.test", "http://math-b.test"]}


def mixed() -> list[dict[str, Any]]:
    sleepy = {"verifier": "sleepy", "response": "", "reference": {"seconds": 0}}
    return [
        {**sleepy, "id": f"s{i}"} if i % 3 == 0 else echo(str(i % 4), "1", id=f"e{i}")
        for i in range(30)
    ]


def expected() -> list[tuple[str, float]]:
    return [(f"s{i}", 1.0) if i % 3 == 0 else (f"e{i}", float(i % 4 == 1)) for i in range(30)]


async def test_async_items_reach_their_verifiers_pool_in_input_order(make_app) -> None:
    pools = Pools(await make_app())
    transport = httpx.ASGITransport(app=pools)
    async with AsyncRoutedClient(ROUTES, transport=transport, batch_size=4) as client:
        results = await client.score_batch(mixed())
        one = await client.score("sleepy", "", {"seconds": 0})
    assert [(r.id, r.reward) for r in results] == expected()
    assert one.status == "ok"
    assert pools.items["code-pool.test", "sleepy"] == 10 + 1
    assert pools.items["math-a.test", "echo"] + pools.items["math-b.test", "echo"] == 20
    assert pools.items["math-a.test", "echo"] > 0 and pools.items["math-b.test", "echo"] > 0
    assert pools.items["code-pool.test", "echo"] == 0
    assert pools.items["math-a.test", "sleepy"] + pools.items["math-b.test", "sleepy"] == 0


async def test_sync_items_reach_their_verifiers_pool_in_input_order(make_app) -> None:
    pools = Pools(await make_app())

    def run() -> list[Any]:
        transport = _SyncASGI(pools, portal)
        with RoutedClient(ROUTES, transport=transport, batch_size=4) as client:
            return client.score_batch(mixed(), concurrency=1)

    async with anyio.from_thread.BlockingPortal() as portal:
        results = await anyio.to_thread.run_sync(run)
    assert [(r.id, r.reward) for r in results] == expected()
    assert pools.items["code-pool.test", "sleepy"] == 10
    assert pools.items["code-pool.test", "echo"] == 0


def test_a_verifier_without_a_route_is_refused_before_sending() -> None:
    routes = {"code": ("http://code",), "math": ("http://math",)}
    with pytest.raises(ValueError, match="no route for verifier"):
        split_by_route([{"verifier": "code"}, {"verifier": "sql"}], routes)
    groups = split_by_route([{"verifier": "math"}, {"nothing": 1}, {"verifier": "code"}], routes)
    # An item without a verifier goes to the first pool, whose server answers it invalid.
    assert groups == {("http://math",): [0], ("http://code",): [1, 2]}
