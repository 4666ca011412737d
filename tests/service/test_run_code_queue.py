"""`/run_code` under verl's default load: every test case of a problem at once.

verl's sandbox reward (vendored unchanged in tests/clients/vendor, verl 0.9.1 and
0.8.0) posts each test case in its own thread, 64 at a time by default, waits
`compile_timeout + run_timeout + 10` s for each and retries only a 504. On a 2-worker
server the runs must wait in line rather than be refused, or a correct solution
scores less than 1. `RunQueue` itself is tested with coroutines standing in for runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from rewardgate.service.routes.run_queue import QueueTimeout, RunQueue
from rewardgate.verifiers.errors import Overloaded
from tests.clients.vendor import verl_sandbox_fusion
from tests.service.inprocess_server import serve_app

USES_RESOURCES = ()

CASES = 24
TESTS = {
    "inputs": [f"{k}\n" for k in range(CASES)],
    "outputs": [f"{2 * k}\n" for k in range(CASES)],
}
CORRECT = "print(2 * int(input()))\n"
WRONG = "print(2 * int(input()) + 1)\n"
SLOW_CORRECT = "import time\ntime.sleep(2)\n" + CORRECT


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("queue"), workers=2) as base:
        yield base


def verl_score(url: str, completion: str, timeout: int = 10) -> float:
    """verl's code reward at its defaults: a semaphore of 64 (sandbox_fusion.max_concurrent),
    1024 MB, every case counted."""
    fenced = f"```python\n{completion}```"
    score, metadata = verl_sandbox_fusion.compute_score(
        f"{url}/run_code", threading.Semaphore(64), 1024, fenced, TESTS, False, timeout
    )
    statuses = {m.get("status") for m in metadata}
    assert "api_error" not in statuses, metadata
    return score


@pytest.mark.slow
def test_verl_default_path_scores_24_cases(url: str) -> None:
    assert verl_score(url, CORRECT) == 1.0
    assert verl_score(url, WRONG) == 0.0


@pytest.mark.slow
def test_verl_default_path_with_24_cases_of_2_seconds(url: str) -> None:
    """24 runs of 2 s on 2 slots: the last waits about 22 s, inside its 30 s."""
    assert verl_score(url, SLOW_CORRECT) == 1.0
    metrics = httpx.get(f"{url}/metrics").text
    assert "rewardgate_run_code_wait_seconds_count" in metrics
    assert "rewardgate_run_code_waiting 0.0" in metrics


# --- RunQueue itself -------------------------------------------------------------


async def _hold(queue: RunQueue, release: asyncio.Event, started: asyncio.Event) -> None:
    async def run() -> None:
        started.set()
        await release.wait()

    await queue.run(5.0, run)


async def test_runs_start_in_arrival_order() -> None:
    queue = RunQueue(1, max_waiting=100, margin_s=60)
    release, started = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold(queue, release, started))
    await started.wait()
    order: list[int] = []

    def runner(k: int):  # type: ignore[no-untyped-def]
        async def run() -> int:
            order.append(k)
            return k

        return run

    tasks = []
    for k in range(8):
        tasks.append(asyncio.create_task(queue.run(1.0, runner(k))))
        await asyncio.sleep(0)  # each arrives before the next
    assert queue.waiting == 8
    release.set()
    assert await asyncio.gather(*tasks) == list(range(8))
    assert order == list(range(8))
    await holder


async def test_a_run_that_cannot_start_in_time_is_504_at_once() -> None:
    queue = RunQueue(1, max_waiting=100, margin_s=0)
    release, started = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold(queue, release, started))
    await started.wait()

    async def never() -> None:
        raise AssertionError("a refused run must not execute")

    # One run ahead at the 1 s estimate, plus its own 1 s, exceeds a 1.5 s budget.
    with pytest.raises(QueueTimeout) as refused:
        await queue.run(1.5, never)
    assert refused.value.http_status == 504
    assert queue.waiting == 0
    release.set()
    await holder


async def test_a_run_whose_budget_runs_out_in_line_is_504() -> None:
    queue = RunQueue(1, max_waiting=100, margin_s=0)
    release, started = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold(queue, release, started))
    await started.wait()

    async def never() -> None:
        raise AssertionError("a run past its budget must not execute")

    with pytest.raises(QueueTimeout):
        await queue.run(2.2, never)  # admitted (1 + 1 <= 2.2), gives up after 1.2 s
    assert queue.waiting == 0
    release.set()
    await holder

    async def ok() -> str:
        return "ran"

    assert await queue.run(2.2, ok) == "ran"  # the slot was not lost


async def test_past_the_hard_bound_is_429() -> None:
    registry = CollectorRegistry()
    queue = RunQueue(1, max_waiting=2, margin_s=60, registry=registry)
    release, started = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold(queue, release, started))
    await started.wait()

    async def quick() -> None:
        return None

    waiting = [asyncio.create_task(queue.run(1.0, quick)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await queue.run(1.0, quick)
    text = generate_latest(registry).decode()
    assert "rewardgate_run_code_waiting 2.0" in text
    assert 'rewardgate_run_code_refused_total{reason="overloaded"} 1.0' in text
    release.set()
    await asyncio.gather(holder, *waiting)
    assert "rewardgate_run_code_waiting 0.0" in generate_latest(registry).decode()


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    queue = RunQueue(1, max_waiting=10, margin_s=60)
    release, started = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold(queue, release, started))
    await started.wait()

    async def quick() -> str:
        return "ran"

    gone = asyncio.create_task(queue.run(1.0, quick))
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert queue.waiting == 0
    release.set()
    await holder
    assert await queue.run(1.0, quick) == "ran"
