"""Fair admission: requests that do not fit wait their turn, in order, for a while.

All-or-nothing admission starves large batches: whenever a few items finish, a small
request fits and a large one does not, so under sustained load the large one gets 429
for ever. Here a request that does not fit joins a FIFO line, and capacity freed goes
to the head of the line first: nothing behind a waiting batch is admitted before it,
so every request is admitted within the time the requests ahead of it take.

The line is bounded twice, so memory stays bounded: by the items waiting
(`max_waiting_items`; a request that would pass it gets 429 at once) and by time (a
request still waiting after `wait_s` leaves the line with 429 and `Retry-After`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rewardgate.verifiers.errors import Overloaded

__all__ = ["Admission"]


@dataclass(eq=False)
class _Waiter:
    n: int
    future: asyncio.Future[None] = field(repr=False)


class Admission:
    """Counts items in flight against `capacity`; `acquire(n)` waits in line for room."""

    def __init__(
        self,
        capacity: int,
        *,
        max_waiting_items: int,
        wait_s: float,
        retry_after_s: float,
        on_change: Callable[[int, int], None] | None = None,
    ) -> None:
        self.capacity = capacity
        self.max_waiting_items = max_waiting_items
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self.on_change = on_change
        self.inflight = 0
        self.waiting = 0
        self._line: deque[_Waiter] = deque()

    def try_acquire(self, n: int) -> None:
        """Admit `n` items now or raise `Overloaded`; never jumps the line."""
        if self._line or self.inflight + n > self.capacity:
            raise self._overloaded(n, "admission line is not empty" if self._line else None)
        self._take(n)

    async def acquire(self, n: int) -> None:
        """Admit `n` items, waiting in line up to `wait_s`; else raise `Overloaded`."""
        if not self._line and self.inflight + n <= self.capacity:
            self._take(n)
            return
        if n > self.capacity or self.waiting + n > self.max_waiting_items or self.wait_s <= 0:
            raise self._overloaded(n, None)
        waiter = _Waiter(n, asyncio.get_running_loop().create_future())
        self._line.append(waiter)
        self.waiting += n
        self._changed()
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), self.wait_s)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if waiter.future.done():
                # Granted in the same instant: hand the room back (cancelled) or keep it.
                if isinstance(exc, asyncio.CancelledError):
                    self.release(n)
                    raise
                return
            self._line.remove(waiter)
            self.waiting -= n
            waiter.future.cancel()
            self._grant()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise self._overloaded(n, f"waited {self.wait_s:g} s in line") from None

    def release(self, n: int = 1) -> None:
        self.inflight -= n
        self._grant()

    def _take(self, n: int) -> None:
        self.inflight += n
        self._changed()

    def _grant(self) -> None:
        while self._line and self.inflight + self._line[0].n <= self.capacity:
            waiter = self._line.popleft()
            self.waiting -= waiter.n
            self.inflight += waiter.n
            waiter.future.set_result(None)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.inflight, self.waiting)

    def _overloaded(self, n: int, why: str | None) -> Overloaded:
        message = (
            f"{self.inflight} items in flight and {self.waiting} waiting; {n} more would pass "
            f"the limit of {self.capacity}"
        )
        return Overloaded(f"{message} ({why})" if why else message, retry_after=self.retry_after_s)
