"""`JobFuture`: a job's outcome, a `concurrent.futures.Future` without its own Condition.

A standard Future builds a `threading.Condition` (an RLock and a waiter list) when it is
made and takes it on every read and callback: about 4 µs of the gateway's one core per
job, which was the largest single cost of a cheap item in a batch (bench/overhead.py).
Every job of the pool needs a future, but almost none is ever waited on by a blocked
thread: the engine reads outcomes through callbacks (service/completions.py). So the
state moves under a plain Lock of the future's own (a tenth of the Condition's cost; a
lock shared by all job futures made the loop queue behind the slot threads settling
other batches), and a blocking `result(timeout)` (the watchdog's probes, tests) makes
an Event only when it has to wait.

It subclasses `Future` so `asyncio.wrap_future` and type checks accept it; every method
that touches state is overridden, and `concurrent.futures.wait`/`as_completed` (which
reach into a Future's private Condition) are not used on job futures.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, InvalidStateError
from typing import Any

__all__ = ["JobFuture"]

log = logging.getLogger("rewardgate.pool")

_PENDING, _RUNNING, _CANCELLED, _FINISHED = range(4)


class JobFuture(Future[Any]):
    """A Future whose state changes under a plain lock of its own."""

    def __init__(self) -> None:  # no super().__init__(): that is the Condition we avoid
        self._jlock = threading.Lock()
        self._jstate = _PENDING
        self._jresult: Any = None
        self._jexception: BaseException | None = None
        self._jcallbacks: list[Callable[[Future[Any]], object]] | None = None
        self._jevent: threading.Event | None = None

    def __repr__(self) -> str:
        return f"<JobFuture {('pending', 'running', 'cancelled', 'finished')[self._jstate]}>"

    # -- reading ----------------------------------------------------------------------

    def cancelled(self) -> bool:
        return self._jstate == _CANCELLED

    def running(self) -> bool:
        return self._jstate == _RUNNING

    def done(self) -> bool:
        return self._jstate >= _CANCELLED

    def succeeded(self) -> bool:
        """Done with a result: not cancelled, no exception (`result()` returns it)."""
        return self._jstate == _FINISHED and self._jexception is None

    def result(self, timeout: float | None = None) -> Any:
        self._wait(timeout)
        if self._jstate == _CANCELLED:
            raise CancelledError()
        if self._jexception is not None:
            raise self._jexception
        return self._jresult

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        if self._jstate == _CANCELLED:
            raise CancelledError()
        return self._jexception

    def _wait(self, timeout: float | None) -> None:
        if self._jstate >= _CANCELLED:
            return
        with self._jlock:
            if self._jstate >= _CANCELLED:
                return
            if self._jevent is None:
                self._jevent = threading.Event()
            event = self._jevent
        if not event.wait(timeout):
            raise TimeoutError()

    def add_done_callback(self, fn: Callable[[Future[Any]], object]) -> None:
        with self._jlock:
            if self._jstate < _CANCELLED:
                if self._jcallbacks is None:
                    self._jcallbacks = [fn]
                else:
                    self._jcallbacks.append(fn)
                return
        self._call(fn)

    # -- changing -----------------------------------------------------------------------

    def cancel(self) -> bool:
        with self._jlock:
            if self._jstate in (_RUNNING, _FINISHED):
                return False
            if self._jstate == _CANCELLED:
                return True
            self._jstate = _CANCELLED
            callbacks, self._jcallbacks = self._jcallbacks, None
            event = self._jevent
        self._settled(callbacks, event)
        return True

    def set_running_or_notify_cancel(self) -> bool:
        with self._jlock:
            if self._jstate == _CANCELLED:
                return False
            if self._jstate != _PENDING:
                raise RuntimeError(f"future in unexpected state: {self!r}")
            self._jstate = _RUNNING
            return True

    def set_result(self, result: Any) -> None:
        self._finish(result, None)

    def set_exception(self, exception: BaseException | None) -> None:
        self._finish(None, exception)

    def _finish(self, result: Any, exception: BaseException | None) -> None:
        with self._jlock:
            if self._jstate >= _CANCELLED:
                raise InvalidStateError(f"{self!r} is already done")
            self._jresult = result
            self._jexception = exception
            self._jstate = _FINISHED
            callbacks, self._jcallbacks = self._jcallbacks, None
            event = self._jevent
        self._settled(callbacks, event)

    def _settled(
        self,
        callbacks: list[Callable[[Future[Any]], object]] | None,
        event: threading.Event | None,
    ) -> None:
        """Wake a blocked reader and run the callbacks taken with the final state (from
        then on `add_done_callback` calls a new callback itself)."""
        if event is not None:
            event.set()
        if callbacks is not None:
            for fn in callbacks:
                self._call(fn)

    def _call(self, fn: Callable[[Future[Any]], object]) -> None:
        try:
            fn(self)
        except Exception:
            log.exception("exception calling callback for %r", self)
