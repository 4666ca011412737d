"""LocalClient and AsyncLocalClient: the engine in this process, no server."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from rewardgate.clients import AsyncLocalClient, LocalClient
from rewardgate.service.settings import Settings
from rewardgate.verifiers.assets import AssetStore
from rewardgate.verifiers.registry import Registry
from tests.clients.support import echo
from tests.service.probes import PROBES


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(workers=1, asset_dir=tmp_path / "assets", max_items_per_request=8)


def test_local_client_has_the_same_verbs(settings, tmp_path) -> None:
    client = LocalClient(settings, Registry(PROBES))
    assert client._async._engine is None  # nothing starts before first use
    with client:
        assert client.score("echo", "42", {"answer": "42"}, id="a").reward == 1.0
        items = [echo(str(i), answer="4", id=str(i)) for i in range(20)]
        results = client.score_batch(items)
        assert [r.reward for r in results] == [float(i == 4) for i in range(20)]
        streamed = dict(client.stream(items))
        assert sorted(streamed) == list(range(20)) and streamed[4].reward == 1.0
        assert [v.name for v in client.verifiers()] == ["echo", "faulty", "sleepy"]
        assert client.limits().max_items_per_request == 8
        path = tmp_path / "f.bin"
        path.write_bytes(b"local asset")
        sha = client.upload_asset(path)
        assert sha == hashlib.sha256(b"local asset").hexdigest()
        assert AssetStore(settings.asset_dir, 2**20, 2**30).exists(sha)
        engine = client._async._engine
        assert engine is not None and engine.running
    assert not engine.running  # the context closed the pool


def test_local_client_works_where_a_loop_is_running(settings) -> None:
    async def in_a_notebook_cell() -> float:
        with LocalClient(settings, Registry(PROBES)) as client:
            return client.score("echo", "1", {"answer": "1"}).reward

    assert asyncio.run(in_a_notebook_cell()) == 1.0


def test_local_client_waits_out_its_engines_overload(tmp_path) -> None:
    settings = Settings(workers=1, asset_dir=tmp_path, max_inflight=2, max_items_per_request=2)
    with LocalClient(settings, Registry(PROBES)) as client:
        items = [echo(str(i % 2), answer="1") for i in range(12)]
        results = client.score_batch(items, concurrency=4)
    assert [r.reward for r in results] == [float(i % 2) for i in range(12)]


async def test_async_local_client(settings) -> None:
    async with AsyncLocalClient(settings, Registry(PROBES)) as client:
        result = await client.score("sleepy", "x", {"seconds": 5}, timeout_s=0.2)
        assert result.status == "timeout"
        items = [echo("1", answer="1", id=str(i)) for i in range(10)]
        assert [r.id for r in await client.score_batch(items)] == [str(i) for i in range(10)]
        seen = [index async for index, _ in client.stream(items)]
        assert sorted(seen) == list(range(10))
        assert await client.upload_asset(b"xyz") == hashlib.sha256(b"xyz").hexdigest()
