"""`JobFuture` behaves as `concurrent.futures.Future` wherever the pool, the engine, the
watchdog and asyncio use a job's future (service/job_future.py)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, InvalidStateError
from typing import Any

import pytest

from rewardgate.service.job_future import JobFuture

Step = Callable[[Future[Any]], Any]


def outcome(step: Step, future: Future[Any]) -> tuple[str, Any]:
    try:
        return "returned", step(future)
    except BaseException as exc:  # the exception's type is the behaviour compared
        return "raised", type(exc).__name__


SCRIPTS: dict[str, list[Step]] = {
    "result": [lambda f: f.set_result(3), lambda f: f.result(0), lambda f: f.exception(0)],
    "exception": [
        lambda f: f.set_exception(KeyError("k")),
        lambda f: f.result(0),
        lambda f: type(f.exception(0)).__name__,
    ],
    "cancel pending": [
        lambda f: f.cancel(),
        lambda f: f.cancelled(),
        lambda f: f.done(),
        lambda f: f.result(0),
        lambda f: f.exception(0),
        lambda f: f.set_running_or_notify_cancel(),
        lambda f: f.cancel(),
    ],
    "cancel running": [
        lambda f: f.set_running_or_notify_cancel(),
        lambda f: f.running(),
        lambda f: f.cancel(),
        lambda f: f.done(),
        lambda f: f.set_result(1),
        lambda f: f.cancel(),
        lambda f: f.result(0),
    ],
    "set twice": [lambda f: f.set_result(1), lambda f: f.set_result(2), lambda f: f.result()],
    "set after cancel": [lambda f: f.cancel(), lambda f: f.set_result(2)],
    "not done yet": [lambda f: f.done(), lambda f: f.running(), lambda f: f.result(0.01)],
    "running twice": [
        lambda f: f.set_running_or_notify_cancel(),
        lambda f: f.set_running_or_notify_cancel(),
    ],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_the_same_outcomes_as_a_standard_future(name: str) -> None:
    standard: Future[Any] = Future()
    job = JobFuture()
    for step in SCRIPTS[name]:
        assert outcome(step, job) == outcome(step, standard)


def test_callbacks_run_once_whenever_they_are_added() -> None:
    future = JobFuture()
    seen: list[tuple[str, Any]] = []
    future.add_done_callback(lambda f: seen.append(("before", f.result())))
    future.add_done_callback(lambda f: 1 / 0)  # logged, does not stop the others
    future.add_done_callback(lambda f: seen.append(("before 2", f.result())))
    future.set_result(5)
    future.add_done_callback(lambda f: seen.append(("after", f.result())))
    assert seen == [("before", 5), ("before 2", 5), ("after", 5)]
    cancelled = JobFuture()
    cancelled.add_done_callback(lambda f: seen.append(("cancelled", f.cancelled())))
    cancelled.cancel()
    assert seen[-1] == ("cancelled", True)


def test_a_blocked_reader_wakes_when_another_thread_settles() -> None:
    future = JobFuture()
    threading.Timer(0.05, future.set_result, ("late",)).start()
    assert future.result(timeout=10) == "late"
    failed = JobFuture()
    threading.Timer(0.05, failed.set_exception, (RuntimeError("boom"),)).start()
    assert isinstance(failed.exception(timeout=10), RuntimeError)
    never = JobFuture()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        never.result(timeout=0.05)
    assert time.monotonic() - start >= 0.04


def test_many_threads_racing_settle_it_exactly_once() -> None:
    for _ in range(200):
        future = JobFuture()
        calls: list[int] = []
        future.add_done_callback(lambda f, calls=calls: calls.append(1))
        barrier = threading.Barrier(3)

        def settle(value: int, future: JobFuture = future, barrier: Any = barrier) -> None:
            barrier.wait()
            with contextlib.suppress(InvalidStateError):
                future.set_result(value)

        def cancel(future: JobFuture = future, barrier: Any = barrier) -> None:
            barrier.wait()
            future.cancel()

        threads = [threading.Thread(target=settle, args=(i,)) for i in (1, 2)]
        threads.append(threading.Thread(target=cancel))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert calls == [1]
        if future.cancelled():
            with pytest.raises(CancelledError):
                future.result(0)
        else:
            assert future.result(0) in (1, 2)


async def test_asyncio_can_wrap_it() -> None:
    future = JobFuture()
    wrapped = asyncio.wrap_future(future)
    threading.Timer(0.02, future.set_result, (7,)).start()
    assert await asyncio.wait_for(wrapped, 10) == 7
    cancelled = JobFuture()
    wrapped = asyncio.wrap_future(cancelled)
    wrapped.cancel()  # asyncio passes the cancel on to the job's future
    await asyncio.sleep(0.05)
    assert cancelled.cancelled()
