"""Worker outcomes handed to the event loop in batches, not one wake-up per job.

A job's future resolves on its slot's thread (service/pool.py). `asyncio.wrap_future`
hands each one to the loop alone: a `call_soon_threadsafe` per job, so a write to the
loop's wake-up pipe and a chained future per job, and a chunk of 128 cheap items pays
that 128 times on the gateway's one core. Here the slot thread queues the waiter and
wakes the loop only when no wake-up is pending, so the outcomes of one message from a
worker reach the loop together, in one turn.

A batch waits for all its jobs with one `group` instead of a waiter per job: its members
are counted down on the loop as they arrive, and the batch is told which ones arrived
in each turn (so it can free their admission as they finish, not at the end).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

__all__ = ["Completions"]


class _Group:
    """A batch's members still out, and what to call as they arrive (see `group`)."""

    __slots__ = ("arrived", "left", "on_arrival", "waiter")

    def __init__(
        self,
        waiter: asyncio.Future[None],
        left: int,
        on_arrival: Callable[[list[int]], None] | None,
    ) -> None:
        self.waiter = waiter
        self.left = left
        self.on_arrival = on_arrival
        self.arrived: list[int] = []

    def flush(self) -> None:
        """On the loop, once per turn: report this turn's arrivals, resolve when all in."""
        arrived, self.arrived = self.arrived, []
        self.left -= len(arrived)
        if self.waiter.done():  # the batch was cancelled: nobody is reading any more
            return
        if self.on_arrival is not None:
            try:
                self.on_arrival(arrived)
            except Exception as exc:  # a bug in the batch fails the batch, not delivery
                self.waiter.set_exception(exc)
                return
        if self.left <= 0:
            self.waiter.set_result(None)


class Completions:
    """Waiters for thread-side futures, resolved on `loop` in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._ready: deque[asyncio.Future[None] | tuple[_Group, int]] = deque()
        self._scheduled = False

    def waiter(self, future: Future[Any]) -> asyncio.Future[None]:
        """A loop future that resolves (to None) once `future` is done, whatever its
        outcome; the caller reads the outcome from `future` itself. Cancelling the
        waiter leaves `future` alone: the caller cancels what it submitted."""
        waiter: asyncio.Future[None] = self.loop.create_future()
        future.add_done_callback(partial(self._done, waiter))
        return waiter

    def group(
        self,
        futures: Sequence[Future[Any]],
        on_arrival: Callable[[list[int]], None] | None = None,
    ) -> asyncio.Future[None]:
        """A loop future that resolves once every one of `futures` is done.

        `on_arrival` is called on the loop with the indices (into `futures`) of the
        members that arrived in that turn, before the group resolves. Cancelling the
        returned future leaves the members alone, as with `waiter`.
        """
        waiter: asyncio.Future[None] = self.loop.create_future()
        if not futures:
            waiter.set_result(None)
            return waiter
        state = _Group(waiter, len(futures), on_arrival)
        for index, future in enumerate(futures):
            future.add_done_callback(partial(self._member_done, (state, index)))
        return waiter

    def _member_done(self, member: tuple[_Group, int], _: Future[Any]) -> None:
        self._queue(member)

    def _done(self, waiter: asyncio.Future[None], _: Future[Any]) -> None:
        """On the thread that resolved the future (or the loop's, if it was done)."""
        self._queue(waiter)

    def _queue(self, entry: asyncio.Future[None] | tuple[_Group, int]) -> None:
        self._ready.append(entry)
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
        groups: list[_Group] = []
        while ready:
            entry = ready.popleft()
            if isinstance(entry, tuple):
                group, index = entry
                if not group.arrived:
                    groups.append(group)
                group.arrived.append(index)
            elif not entry.done():  # cancelled meanwhile
                entry.set_result(None)
        for group in groups:
            group.flush()
