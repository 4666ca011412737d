"""Fair admission: a request that does not fit waits its turn in order, for a bounded time."""

from __future__ import annotations

import asyncio

import pytest

from rewardgate.service.admission import Admission
from rewardgate.verifiers import Overloaded
from tests.service.probes import PROBES
from tests.service.test_engine import echo


def sleepy(seconds: float) -> dict[str, object]:
    return {"verifier": "sleepy", "response": "", "reference": {"seconds": seconds}}


def test_a_large_batch_is_not_overtaken_by_small_ones(verifier_engine) -> None:
    """Defect 6 of issue 17: all-or-nothing admission starved batches of 48+ items."""
    harness = verifier_engine(
        *PROBES, workers=2, max_inflight=4, admission_wait_s=30, max_waiting_items=16
    )
    order: list[str] = []

    async def batch(name: str, items: list[dict[str, object]]) -> None:
        stream = await harness.engine.open_stream(items)  # returns once admitted
        order.append(name)
        results = [result async for _, result in stream]
        assert len(results) == len(items) and all(r.status == "ok" for r in results)

    async def scenario() -> None:
        busy = asyncio.ensure_future(batch("busy", [sleepy(0.3)] * 4))
        await asyncio.sleep(0.05)
        large = asyncio.ensure_future(batch("large", [sleepy(0.3)] * 4))
        await asyncio.sleep(0.05)
        # Each small one would fit beside the running items as soon as one ends; with
        # all-or-nothing admission they kept the large batch out.
        smalls = [asyncio.ensure_future(batch(f"small{i}", [echo("42")])) for i in range(3)]
        await asyncio.gather(busy, large, *smalls)

    harness._loop.run_until_complete(scenario())
    assert order.index("large") < min(order.index(f"small{i}") for i in range(3)), order


def test_a_request_waits_in_line_no_longer_than_the_bound(verifier_engine) -> None:
    harness = verifier_engine(
        *PROBES, workers=1, max_inflight=1, admission_wait_s=0.2, retry_after_s=2
    )

    async def scenario() -> None:
        busy = asyncio.ensure_future(harness.engine.score([sleepy(1.5)]))
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded) as info:
            await harness.engine.score([echo("42")])
        assert info.value.retry_after == 2 and "waited" in info.value.message
        assert harness.engine.admission.waiting == 0
        assert (await busy)[0].status == "ok"
        assert (await harness.engine.score([echo("42")]))[0].reward == 1.0

    harness._loop.run_until_complete(scenario())


def test_the_line_is_bounded_by_items_waiting(verifier_engine) -> None:
    harness = verifier_engine(
        *PROBES, workers=1, max_inflight=2, admission_wait_s=30, max_waiting_items=2
    )

    async def scenario() -> None:
        busy = asyncio.ensure_future(harness.engine.score([sleepy(0.5)] * 2))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(harness.engine.score([echo("42")] * 2))
        await asyncio.sleep(0.05)
        assert harness.engine.admission.waiting == 2
        with pytest.raises(Overloaded):  # the line is full: refused at once
            await harness.engine.score([echo("42")])
        assert [r.reward for r in await waiting] == [1.0, 1.0]
        await busy
        assert harness.engine.inflight == 0

    harness._loop.run_until_complete(scenario())


def test_a_cancelled_waiter_leaves_the_line_and_frees_nothing_it_did_not_hold() -> None:
    async def scenario() -> None:
        gate = Admission(2, max_waiting_items=10, wait_s=30, retry_after_s=1)
        await gate.acquire(2)
        first = asyncio.ensure_future(gate.acquire(2))
        second = asyncio.ensure_future(gate.acquire(1))
        await asyncio.sleep(0.01)
        assert gate.waiting == 3
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert gate.waiting == 1 and gate.inflight == 2
        gate.release(2)
        await second
        assert (gate.inflight, gate.waiting) == (1, 0)

    asyncio.run(scenario())


def test_a_request_never_jumps_the_line() -> None:
    async def scenario() -> None:
        gate = Admission(4, max_waiting_items=10, wait_s=30, retry_after_s=1)
        await gate.acquire(3)
        large = asyncio.ensure_future(gate.acquire(4))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded):
            gate.try_acquire(1)  # room for 1, but a request is waiting ahead
        small = asyncio.ensure_future(gate.acquire(1))
        await asyncio.sleep(0.01)
        assert not small.done()
        gate.release(3)
        await large
        assert not small.done()
        gate.release(4)
        await small

    asyncio.run(scenario())
