"""Worker outcomes reach the event loop in batches (service/completions.py): every
waiter resolves, a burst of outcomes costs the loop one wake-up, and a waiter cancelled
meanwhile neither breaks the delivery nor touches its job's future."""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import Future
from typing import Any

from rewardgate.service.completions import Completions


class CountingWakeups:
    """Counts the loop's `call_soon_threadsafe` calls (the wake-ups), then calls it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.calls = 0
        self._original = loop.call_soon_threadsafe
        loop.call_soon_threadsafe = self  # type: ignore[method-assign]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._original(*args, **kwargs)


async def test_a_burst_of_outcomes_from_a_thread_wakes_the_loop_once() -> None:
    loop = asyncio.get_running_loop()
    wakeups = CountingWakeups(loop)
    completions = Completions(loop)
    futures: list[Future[int]] = [Future() for _ in range(500)]
    waiters = [completions.waiter(f) for f in futures]
    order = list(range(500))
    random.Random(0).shuffle(order)

    def resolve() -> None:  # a slot thread settling a whole message, in any order
        for i in order:
            if i % 7 == 0:
                futures[i].set_exception(ValueError(i))
            else:
                futures[i].set_result(i)

    thread = threading.Thread(target=resolve)
    thread.start()
    thread.join()  # all resolved before the loop runs again
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=10)
    assert wakeups.calls == 1
    for i, future in enumerate(futures):
        if i % 7 == 0:
            assert isinstance(future.exception(), ValueError)
        else:
            assert future.result() == i


async def test_outcomes_resolved_while_the_loop_delivers_are_not_lost() -> None:
    completions = Completions(asyncio.get_running_loop())
    futures: list[Future[int]] = [Future() for _ in range(2000)]
    waiters = [completions.waiter(f) for f in futures]

    def resolve() -> None:  # interleaved with deliveries on the loop
        for i, future in enumerate(futures):
            future.set_result(i)
            if i % 50 == 0:
                threading.Event().wait(0.001)

    thread = threading.Thread(target=resolve)
    thread.start()
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=20)
    thread.join()
    assert [f.result() for f in futures] == list(range(2000))


async def test_a_cancelled_waiter_is_skipped_and_the_others_still_resolve() -> None:
    completions = Completions(asyncio.get_running_loop())
    futures: list[Future[int]] = [Future() for _ in range(3)]
    waiters = [completions.waiter(f) for f in futures]
    waiters[1].cancel()
    for i, future in enumerate(futures):
        future.set_result(i)
    await asyncio.wait_for(asyncio.gather(waiters[0], waiters[2]), timeout=10)
    assert waiters[1].cancelled()
    assert futures[1].result() == 1  # the job's own future is the caller's to cancel


async def test_a_future_already_done_resolves_its_waiter() -> None:
    completions = Completions(asyncio.get_running_loop())
    future: Future[str] = Future()
    future.set_result("done")
    await asyncio.wait_for(completions.waiter(future), timeout=10)
    assert future.result() == "done"


async def test_a_group_resolves_once_all_are_in_and_reports_each_arrival_once() -> None:
    completions = Completions(asyncio.get_running_loop())
    futures: list[Future[int]] = [Future() for _ in range(300)]
    arrivals: list[list[int]] = []
    group = completions.group(futures, arrivals.append)
    order = list(range(300))
    random.Random(1).shuffle(order)

    def resolve(part: list[int]) -> None:
        for i in part:
            futures[i].set_result(i)

    first, second = order[:200], order[200:]
    await asyncio.to_thread(resolve, first)
    await asyncio.sleep(0)
    assert not group.done()
    await asyncio.to_thread(resolve, second)
    await asyncio.wait_for(group, 10)
    arrived = [i for turn in arrivals for i in turn]
    assert len(arrived) == 300 and sorted(arrived) == list(range(300))  # each, once
    assert set(first) <= set(arrived[: len(first)])  # reported as they came in


async def test_a_group_of_nothing_is_done_and_a_cancelled_group_reports_nothing() -> None:
    completions = Completions(asyncio.get_running_loop())
    assert completions.group([]).done()
    futures: list[Future[int]] = [Future() for _ in range(3)]
    arrivals: list[list[int]] = []
    group = completions.group(futures, arrivals.append)
    group.cancel()
    for future in futures:
        future.set_result(0)
    other: Future[int] = Future()
    waiter = completions.waiter(other)
    other.set_result(1)
    await asyncio.wait_for(waiter, 10)  # delivery goes on for the others
    assert arrivals == [] and all(f.result() == 0 for f in futures)


async def test_a_failing_arrival_callback_fails_its_group_not_the_delivery() -> None:
    completions = Completions(asyncio.get_running_loop())

    def broken(_: list[int]) -> None:
        raise ValueError("a bug in the batch")

    bad: Future[int] = Future()
    good: Future[int] = Future()
    group = completions.group([bad], broken)
    waiter = completions.waiter(good)
    bad.set_result(0)
    good.set_result(0)
    await asyncio.wait_for(waiter, 10)
    try:
        await asyncio.wait_for(group, 10)
    except ValueError as exc:
        assert "a bug in the batch" in str(exc)
    else:
        raise AssertionError("the group should fail")
