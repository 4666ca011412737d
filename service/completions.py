"""Worker outcomes handed to the event loop in batches, not one wake-up per job.

A job's future resolves on its slot's thread (service/pool.py). `asyncio.wrap_future`
hands each one to the loop alone: a `call_soon_threadsafe` per job, so a write to the
loop's wake-up pipe and a chained future per job, and a chunk of 128 cheap items pays
that 128 times on the gateway's one core. Here the slot thread queues the waiter and
wakes the loop only when no wake-up is pending, so the outcomes of one message from a
worker reach the loop together, in one turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from concurrent.futures import Future
from functools import partial
from typing import Any

__all__ = ["Completions"]


class Completions:
    """Waiters for thread-side futures, resolved on `loop` in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._ready: deque[asyncio.Future[None]] = deque()
        self._scheduled = False

    def waiter(self, future: Future[Any]) -> asyncio.Future[None]:
        """A loop future that resolves (to None) once `future` is done, whatever its
        outcome; the caller reads the outcome from `future` itself. Cancelling the
        waiter leaves `future` alone: the caller cancels what it submitted."""
        waiter: asyncio.Future[None] = self.loop.create_future()
        future.add_done_callback(partial(self._done, waiter))
        return waiter

    def _done(self, waiter: asyncio.Future[None], _: Future[Any]) -> None:
        """On the thread that resolved the future (or the loop's, if it was done)."""
        self._ready.append(waiter)
        if not self._scheduled:
            self._scheduled = True
            # A closed loop has nobody left to wake: its waiters are gone with it.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        # Cleared before draining: a waiter queued from now on schedules a new delivery
        # (at worst one that finds nothing), so none is ever left behind.
        self._scheduled = False
        ready = self._ready
        while ready:
            waiter = ready.popleft()
            if not waiter.done():  # cancelled meanwhile
                waiter.set_result(None)
