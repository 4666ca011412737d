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
