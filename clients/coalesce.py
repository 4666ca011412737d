"""Coalescing: concurrent per-item calls, scored as batched requests.

verl's reward loop (its naive, dapo, gdpo and rate-limited managers) awaits
`compute_score_async` once per response, all of a step's responses at once: a batch of
512 would be 512 requests, each paying a round trip, a JSON envelope and an admission.
`Coalescer.score(item)` instead parks the item for a short linger window (`linger_s`,
5 ms by default, restarted by nothing: the first item's arrival starts it) or until
`max_batch` items wait, then sends them as one `score_batch` call and hands each caller
its own result. A request that fails as a whole (the service unreachable past the
client's retry budget) fails every caller in it with that error; one that fails for
its content (an item the client cannot encode, a 400) is split in halves until each
caller gets its own error, so one bad item never costs the others their rewards.

One coalescer serves one event loop and one scorer (`coalescer_for`); the blocking
`score_batch` runs in a worker thread, so the loop keeps gathering the next batch while
one is in flight.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from rewardgate.clients.errors import ClientTimeout, RetriesExhausted, TransportError
from rewardgate.verifiers.models import RewardResult

__all__ = ["DEFAULT_LINGER_S", "DEFAULT_MAX_BATCH", "Coalescer", "coalescer_for"]

DEFAULT_LINGER_S = 0.005
DEFAULT_MAX_BATCH = 512

ScoreBatch = Callable[[list[dict[str, Any]]], Sequence[RewardResult]]
# Failures of the whole request, not of any one item: splitting would only repeat them.
_WHOLE = (RetriesExhausted, TransportError, ClientTimeout)


class Coalescer:
    """Batches the items `score` is awaited with on one event loop (see the module)."""

    def __init__(
        self,
        score_batch: ScoreBatch,
        *,
        linger_s: float = DEFAULT_LINGER_S,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.score_batch = score_batch
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.requests = 0  # batched requests sent (each split half counts)
        self._pending: list[tuple[dict[str, Any], asyncio.Future[RewardResult]]] = []
        self._timer: asyncio.TimerHandle | None = None

    async def score(self, item: dict[str, Any]) -> RewardResult:
        """This item's result, scored in a batch with those awaited alongside it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[RewardResult] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.linger_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            _in_flight.add(task)
            task.add_done_callback(_in_flight.discard)

    async def _send(self, batch: list[tuple[dict[str, Any], asyncio.Future[RewardResult]]]) -> None:
        live = [(item, future) for item, future in batch if not future.done()]
        if not live:
            return
        self.requests += 1
        try:
            results = await asyncio.to_thread(self.score_batch, [item for item, _ in live])
        except _WHOLE as exc:
            _fail(live, exc)
        except Exception as exc:
            if len(live) == 1:
                _fail(live, exc)
                return
            middle = len(live) // 2
            await asyncio.gather(self._send(live[:middle]), self._send(live[middle:]))
        except BaseException as exc:  # cancelled: the callers are told, then it propagates
            _fail(live, exc)
            raise
        else:
            if len(results) != len(live):
                _fail(live, RuntimeError(f"{len(results)} results for {len(live)} items"))
                return
            for (_, future), result in zip(live, results, strict=True):
                if not future.done():
                    future.set_result(result)


def _fail(batch: list[tuple[Any, asyncio.Future[RewardResult]]], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


# Tasks sending batches: held so the loop does not drop them while they run.
_in_flight: set[asyncio.Task[None]] = set()
_by_loop: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[int, float, int], tuple[Any, Coalescer]]
] = weakref.WeakKeyDictionary()


def coalescer_for(
    scorer: Any, *, linger_s: float = DEFAULT_LINGER_S, max_batch: int = DEFAULT_MAX_BATCH
) -> Coalescer:
    """The running loop's coalescer for `scorer` (a sync client: `score_batch(items,
    batch_size=)`); each batch goes as one request."""
    loop = asyncio.get_running_loop()
    table = _by_loop.setdefault(loop, {})
    key = (id(scorer), linger_s, max_batch)
    entry = table.get(key)
    if entry is None or entry[0] is not scorer:  # an id reused by a newer scorer

        def score_batch(items: list[dict[str, Any]]) -> Sequence[RewardResult]:
            return scorer.score_batch(items, batch_size=len(items))

        entry = table[key] = (
            scorer,
            Coalescer(score_batch, linger_s=linger_s, max_batch=max_batch),
        )
    return entry[1]
