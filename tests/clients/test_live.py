"""Both clients against real server processes: HTTP, retries, auth, several base URLs."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from rewardgate.clients import (
    AsyncRewardClient,
    ConnectionFailed,
    PayloadTooLarge,
    RetriesExhausted,
    Retry,
    RewardClient,
    Unauthorized,
    rewards,
)
from rewardgate.clients.base import JSON_HEADERS
from tests.clients.support import echo, metrics_of, request_count
from tests.conftest import free_port

FAST = Retry(backoff_s=0.01, max_backoff_s=0.05)


def test_sync_client_scores_streams_and_uploads(live_server, tmp_path) -> None:
    server = live_server(workers=2, max_items_per_request=8)
    items = [echo(str(i % 2), answer="1", id=str(i)) for i in range(20)]
    path = tmp_path / "asset.bin"
    path.write_bytes(b"\x00\x01" * 70_000)
    with RewardClient(server.url, retry=FAST) as client:
        assert client.score("echo", "42", {"answer": "42"}).reward == 1.0
        results = client.score_batch(items, concurrency=3)
        assert [r.id for r in results] == [str(i) for i in range(20)]
        assert rewards(results) == [float(i % 2) for i in range(20)]
        streamed = dict(client.stream(items))
        assert sorted(streamed) == list(range(20))
        assert all(streamed[i].id == str(i) for i in range(20))
        assert {"echo", "math", "code"} <= {v.name for v in client.verifiers()}
        sha = client.upload_asset(path)
        assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
        assert client.upload_asset(path.read_bytes()) == sha
        with pytest.raises(PayloadTooLarge):
            client._send(
                "POST",
                "/v1/rewards",
                content=b'{"items": [' + b"1," * 8 + b"1]}",
                headers=JSON_HEADERS,
            )
    assert request_count(metrics_of(server.url), 200, route="/v1/assets") == 1


async def test_async_client_against_a_server_process(live_server) -> None:
    server = live_server(workers=2)
    items = [echo(str(i), answer="7", id=str(i)) for i in range(50)]
    async with AsyncRewardClient(server.url, retry=FAST) as client:
        results = await client.score_batch(items, batch_size=16)
        streamed = {index: result async for index, result in client.stream(items)}
        single = await client.score("echo", "7", {"answer": "7"})
    assert [r.reward for r in results] == [float(i == 7) for i in range(50)]
    assert sorted(streamed) == list(range(50)) and streamed[7].reward == 1.0
    assert single.reward == 1.0


def test_sync_client_waits_out_429_and_raises_401_at_once(live_server) -> None:
    server = live_server(
        max_inflight=1,
        max_items_per_request=1,
        admission_wait_s=0,
        api_keys="key-one-0123456789abcdef",
    )
    with RewardClient(server.url, api_key="wrong", retry=FAST) as client:
        with pytest.raises(Unauthorized) as caught:
            client.score("echo", "42", {"answer": "42"})
        assert caught.value.code == "unauthorized"
    with RewardClient(server.url, api_key="key-one-0123456789abcdef", retry=FAST) as client:
        busy = threading.Thread(target=client.score, args=("sleepy", "x", {"seconds": 0.6}))
        busy.start()
        time.sleep(0.3)  # the sleepy item holds the one slot
        start = time.monotonic()
        assert client.score("echo", "42", {"answer": "42"}).reward == 1.0
        waited = time.monotonic() - start
        busy.join()
    metrics = metrics_of(server.url, api_key="key-one-0123456789abcdef")
    assert request_count(metrics, 401, route="unmatched") == 1
    assert request_count(metrics, 429) == 1
    assert waited >= 1.0


def test_requests_spread_over_base_urls_and_skip_a_dead_one(live_server) -> None:
    first, second = live_server(), live_server()
    dead = f"http://127.0.0.1:{free_port()}"
    with RewardClient([dead, first.url, second.url], retry=FAST) as client:
        start = time.monotonic()
        for i in range(12):
            assert client.score("echo", str(i), {"answer": "3"}).reward == float(i == 3)
        elapsed = time.monotonic() - start
    counts = [request_count(metrics_of(s.url), 200) for s in (first, second)]
    assert counts == [6, 6]  # in turn, the dead one passed over once it refused
    assert elapsed < 5  # the dead URL cost one refused connect, no backoff


async def test_async_spreads_too_and_gives_up_when_every_url_is_dead(live_server) -> None:
    first, second = live_server(), live_server()
    async with AsyncRewardClient([first.url, second.url], retry=FAST) as client:
        results = await client.score_batch([echo(str(i)) for i in range(40)], batch_size=5)
    assert len(results) == 40
    counts = [request_count(metrics_of(s.url), 200) for s in (first, second)]
    assert counts == [4, 4], counts  # 8 batches, taken in turn

    dead = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    async with AsyncRewardClient(dead, retry=Retry(attempts=3, backoff_s=0.01)) as client:
        with pytest.raises(RetriesExhausted) as caught:
            await client.score("echo", "1", {"answer": "1"})
    assert isinstance(caught.value.last, ConnectionFailed)
