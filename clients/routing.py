"""Scoring each verifier on its own pool of replicas: a verifier → URL map.

Heavy verifiers (code in sandboxes, CAD, rendering) need many more cores than math
does, so a deployment may give them their own replicas (sandbox hosts) beside a pool
for the light ones. The client then sends each item to its verifier's pool:

    with RoutedClient({"code": "http://code-pool:8000", "*": "http://math-pool:8000"}) as c:
        results = c.score_batch(items)          # one list, in input order

A route's value is one URL or a list (the client spreads over them and retries a dead
one elsewhere, as `RewardClient` does with several URLs); `"*"` is the pool for every
verifier not named. An item whose verifier has no route and no `"*"` is a
configuration error, raised before anything is sent. An item without a readable
verifier goes to the `"*"` pool (or the first), whose server answers it `invalid`.
Assets are uploaded to every pool, since any of them may need them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from rewardgate.clients.aio import AsyncRewardClient
from rewardgate.clients.base import AssetSource, AsyncClosing, Closing, Item
from rewardgate.clients.sync import RewardClient
from rewardgate.verifiers.models import RewardRequest, RewardResult

__all__ = ["DEFAULT_ROUTE", "AsyncRoutedClient", "RoutedClient", "split_by_route"]

DEFAULT_ROUTE = "*"

C = TypeVar("C", RewardClient, AsyncRewardClient)


def _urls(value: str | Sequence[str]) -> tuple[str, ...]:
    urls = (value,) if isinstance(value, str) else tuple(value)
    if not urls:
        raise ValueError("a route names no URL")
    return tuple(url.rstrip("/") for url in urls)


def _verifier_of(item: Item) -> str | None:
    if isinstance(item, RewardRequest):
        return item.verifier
    name = item.get("verifier") if isinstance(item, Mapping) else None
    return name if isinstance(name, str) else None


def split_by_route(
    items: Sequence[Item], route_of: Mapping[str, tuple[str, ...]]
) -> dict[tuple[str, ...], list[int]]:
    """The indices of `items` grouped by the pool (tuple of URLs) that scores them."""
    fallback = route_of.get(DEFAULT_ROUTE) or next(iter(route_of.values()))
    groups: dict[tuple[str, ...], list[int]] = {}
    unrouted: set[str] = set()
    for index, item in enumerate(items):
        name = _verifier_of(item)
        if name is None:
            pool = fallback
        elif name in route_of:
            pool = route_of[name]
        elif DEFAULT_ROUTE in route_of:
            pool = route_of[DEFAULT_ROUTE]
        else:
            unrouted.add(name)
            continue
        groups.setdefault(pool, []).append(index)
    if unrouted:
        raise ValueError(
            f"no route for verifier(s) {sorted(unrouted)}; add them or a {DEFAULT_ROUTE!r} route"
        )
    return groups


class _Routes(Generic[C]):
    """One client per distinct pool; what the sync and async twins share."""

    def __init__(self, routes: Mapping[str, str | Sequence[str]]) -> None:
        if not routes:
            raise ValueError("give at least one route")
        self.route_of = {name: _urls(value) for name, value in routes.items()}
        self.clients: dict[tuple[str, ...], C] = {}

    def client_for(self, verifier: str) -> C:
        [pool] = split_by_route([{"verifier": verifier}], self.route_of)
        return self.clients[pool]

    @staticmethod
    def merge(
        n: int, groups: dict[tuple[str, ...], list[int]], parts: list[list[RewardResult]]
    ) -> list[RewardResult]:
        results: list[RewardResult | None] = [None] * n
        for indices, part in zip(groups.values(), parts, strict=True):
            for index, result in zip(indices, part, strict=True):
                results[index] = result
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.route_of!r})"


class RoutedClient(_Routes[RewardClient], Closing):
    """`RewardClient` over several pools, each verifier to its own (see the module).

    `options` go to every pool's `RewardClient` (api_key, retry, timeout, ...).
    """

    def __init__(self, routes: Mapping[str, str | Sequence[str]], **options: Any) -> None:
        super().__init__(routes)
        for pool in set(self.route_of.values()):
            self.clients[pool] = RewardClient(list(pool), **options)

    def score(self, verifier: str, response: str, reference: Any = None, **kw: Any) -> RewardResult:
        return self.client_for(verifier).score(verifier, response, reference, **kw)

    def score_batch(self, items: Sequence[Item], **options: Any) -> list[RewardResult]:
        """Results in input order; the pools are scored side by side."""
        groups = split_by_route(items, self.route_of)
        if not groups:
            return []
        with ThreadPoolExecutor(len(groups), thread_name_prefix="rewardgate-route") as pool:
            futures = [
                pool.submit(self.clients[p].score_batch, [items[i] for i in indices], **options)
                for p, indices in groups.items()
            ]
            parts = [future.result() for future in futures]
        return self.merge(len(items), groups, parts)

    def upload_asset(self, source: AssetSource) -> str:
        """Upload to every pool (skipping those that already have it); the SHA-256."""
        shas = {client.upload_asset(source) for client in self.clients.values()}
        [sha] = shas
        return sha

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


class AsyncRoutedClient(_Routes[AsyncRewardClient], AsyncClosing):
    """`AsyncRewardClient` over several pools, each verifier to its own."""

    def __init__(self, routes: Mapping[str, str | Sequence[str]], **options: Any) -> None:
        super().__init__(routes)
        for pool in set(self.route_of.values()):
            self.clients[pool] = AsyncRewardClient(list(pool), **options)

    async def score(
        self, verifier: str, response: str, reference: Any = None, **kw: Any
    ) -> RewardResult:
        return await self.client_for(verifier).score(verifier, response, reference, **kw)

    async def score_batch(self, items: Sequence[Item], **options: Any) -> list[RewardResult]:
        """Results in input order; the pools are scored side by side."""
        groups = split_by_route(items, self.route_of)
        parts = await asyncio.gather(
            *(
                self.clients[p].score_batch([items[i] for i in indices], **options)
                for p, indices in groups.items()
            )
        )
        return self.merge(len(items), groups, list(parts))

    async def upload_asset(self, source: AssetSource) -> str:
        """Upload to every pool (skipping those that already have it); the SHA-256."""
        shas = {await client.upload_asset(source) for client in self.clients.values()}
        [sha] = shas
        return sha

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
