"""AsyncRewardClient against the real app in-process (httpx.ASGITransport)."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from rewardgate.clients import (
    InvalidRequest,
    Overloaded,
    PayloadTooLarge,
    RetriesExhausted,
    Retry,
    RewardRequest,
    Unauthorized,
    rewards,
)
from rewardgate.clients.base import JSON_HEADERS
from tests.clients.support import echo, in_process, request_count


async def test_score_one(make_app) -> None:
    async with in_process(await make_app()) as client:
        right = await client.score("echo", "42", {"answer": "42"}, id="a")
        wrong = await client.score("echo", "41", {"answer": "42"})
        bad = await client.score("echo", "41", {"answr": "42"})
    assert (right.id, right.status, right.reward, right.version) == ("a", "ok", 1.0, "1")
    assert (wrong.status, wrong.reward) == ("ok", 0.0)
    assert bad.status == "invalid" and "reference.answer" in (bad.error or "")


async def test_options_and_fallback_reach_the_verifier(make_app) -> None:
    async with in_process(await make_app()) as client:
        slow = await client.score(
            "sleepy", "x", {"seconds": 5}, fallback_reward=-0.5, timeout_s=0.3
        )
    assert (slow.status, slow.reward) == ("timeout", -0.5)


async def test_batch_keeps_order_across_requests_split_to_the_servers_limit(make_app) -> None:
    app = await make_app(max_items_per_request=4)
    items = [echo(str(i % 3), answer="1", id=f"i{i}") for i in range(11)]
    items[5] = RewardRequest(verifier="echo", response="1", reference={"answer": "1"}, id="m")
    async with in_process(app) as client:
        results = await client.score_batch(items, batch_size=256, concurrency=3)
        assert (await client.limits()).max_items_per_request == 4
    assert [r.id for r in results] == [f"i{i}" if i != 5 else "m" for i in range(11)]
    assert rewards(results) == [1.0 if i % 3 == 1 or i == 5 else 0.0 for i in range(11)]
    assert request_count(app.state.metrics.render(), 413) == 0
    assert request_count(app.state.metrics.render(), 200) == 3  # 4 + 4 + 3 items


async def test_batch_too_big_in_bytes_is_split_on_413(make_app) -> None:
    app = await make_app(max_body_bytes=1024)
    items = [echo("x" * 100, answer="x" * 100, id=str(i)) for i in range(12)]
    async with in_process(app) as client:
        results = await client.score_batch(items)
    assert [r.id for r in results] == [str(i) for i in range(12)]
    assert all(r.reward == 1.0 for r in results)
    assert request_count(app.state.metrics.render(), 413, route="unmatched") >= 1


async def test_one_item_too_big_raises_payload_too_large(make_app) -> None:
    async with in_process(await make_app(max_body_bytes=1024)) as client:
        with pytest.raises(PayloadTooLarge) as caught:
            await client.score("echo", "x" * 2000, {"answer": "x"})
    assert caught.value.code == "payload_too_large"
    assert "1024 bytes" in caught.value.message and caught.value.http_status == 413


async def test_stream_yields_every_result_with_its_input_index(make_app) -> None:
    app = await make_app(max_items_per_request=4)
    items = [echo(str(i), answer="3", id=f"i{i}") for i in range(10)] + [{"verifier": "nope"}]
    async with in_process(app) as client:
        streamed = [scored async for scored in client.stream(items)]
    assert sorted(index for index, _ in streamed) == list(range(11))
    by_index = dict(streamed)
    assert by_index[3].reward == 1.0 and by_index[3].id == "i3"
    assert by_index[10].status == "invalid"


async def test_verifiers_and_limits(make_app) -> None:
    async with in_process(await make_app(max_items_per_request=9)) as client:
        names = [v.name for v in await client.verifiers()]
        limits = await client.limits()
    assert names == ["echo", "faulty", "sleepy"]
    assert limits.max_items_per_request == 9


async def test_upload_asset_hashes_locally_and_skips_what_the_server_has(
    make_app, tmp_path
) -> None:
    app = await make_app()
    data = b"a database, say" * 1000
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    async with in_process(app) as client:
        sha = await client.upload_asset(data)
        assert sha == hashlib.sha256(data).hexdigest()
        assert app.state.assets.exists(sha)
        assert await client.upload_asset(path) == sha
        other = await client.upload_asset(path.read_bytes() + b"!")
    metrics = app.state.metrics.render()
    assert request_count(metrics, 200, route="/v1/assets") == 2  # the repeat was not sent
    assert request_count(metrics, 200, route="/v1/assets/{sha256}") == 1
    assert app.state.assets.exists(other)


async def test_401_is_raised_at_once_with_the_servers_code(make_app, monkeypatch) -> None:
    monkeypatch.delenv("REWARDGATE_API_KEY", raising=False)
    app = await make_app(api_keys="key-one-0123456789abcdef,key-two-0123456789abcdef")
    async with in_process(app) as client:
        start = time.monotonic()
        with pytest.raises(Unauthorized) as caught:
            await client.score("echo", "42", {"answer": "42"})
    assert time.monotonic() - start < 0.5
    assert (caught.value.code, caught.value.http_status) == ("unauthorized", 401)
    assert caught.value.message == "missing or invalid bearer token"
    assert request_count(app.state.metrics.render(), 401, route="unmatched") == 1

    async with in_process(app, api_key="key-two-0123456789abcdef") as client:
        assert (await client.score("echo", "42", {"answer": "42"})).reward == 1.0
    monkeypatch.setenv("REWARDGATE_API_KEY", "key-one-0123456789abcdef")
    async with in_process(app) as client:
        assert (await client.score("echo", "42", {"answer": "42"})).reward == 1.0


async def test_400_is_not_retried(make_app) -> None:
    app = await make_app()
    async with in_process(app) as client:
        with pytest.raises(InvalidRequest) as caught:
            await client._send("POST", "/v1/rewards", content=b"{not json", headers=JSON_HEADERS)
    assert caught.value.code == "invalid_request" and "not JSON" in caught.value.message
    assert caught.value.request_id  # type: ignore[attr-defined]
    assert request_count(app.state.metrics.render(), 400) == 1


async def _saturate(app, seconds: float, client) -> asyncio.Task:
    """Fill the app's one admission slot with a sleeping item."""
    task = asyncio.ensure_future(client.score("sleepy", "x", {"seconds": seconds}))
    while app.state.engine.inflight == 0:
        await asyncio.sleep(0.01)
    return task


async def test_429_is_retried_after_the_servers_retry_after(make_app) -> None:
    app = await make_app(
        max_inflight=1, max_items_per_request=1, retry_after_s=1, admission_wait_s=0
    )
    async with in_process(app, retry=Retry(backoff_s=0.01, max_backoff_s=0.02)) as client:
        busy = await _saturate(app, 0.6, client)
        start = time.monotonic()
        result = await client.score("echo", "42", {"answer": "42"})
        waited = time.monotonic() - start
        assert (await busy).status == "ok"
    assert result.reward == 1.0
    # Turned away once, then it waited out Retry-After: 1 (not its 10 ms backoff).
    assert request_count(app.state.metrics.render(), 429) == 1
    assert 1.0 <= waited < 2.0


async def test_exhausted_retries_carry_the_last_answer(make_app) -> None:
    app = await make_app(max_inflight=1, max_items_per_request=1, admission_wait_s=0)
    retry = Retry(attempts=3, max_retry_after_s=0.05)
    async with in_process(app, retry=retry) as client:
        busy = await _saturate(app, 1.0, client)
        with pytest.raises(RetriesExhausted) as caught:
            await client.score("echo", "42", {"answer": "42"})
        busy.cancel()
    assert caught.value.attempts == 3
    assert isinstance(caught.value.last, Overloaded)
    assert caught.value.last.code == "overloaded" and "in flight" in caught.value.last.message
    assert request_count(app.state.metrics.render(), 429) == 3
