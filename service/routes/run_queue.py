"""The line `/run_code` runs wait in: arrival order, bounded by each request's own time.

SandboxFusion queues runs, and its clients are written for that: verl's sandbox reward
posts every test case of a problem at once (64 in flight by default), gives each request
`compile_timeout + run_timeout + 10` s and retries only a 504. Refusing with 429 once a
few runs per worker are in flight (as rewardgate once did) turns a correct solution's
later test cases into "no answer", a silently wrong reward. So:

- at most `slots` runs execute at once; the others wait in arrival order, and a freed
  slot goes to the head of the line (no run behind it starts first);
- a run is admitted while its expected wait plus its expected run time fits its own
  budget (compile and run timeouts plus `margin_s`, what the client waits); past that,
  and for a waiting run whose budget runs out in the line, `QueueTimeout` (504), which
  verl and SandboxFusion's client retry;
- the expected run time is a moving average of runs measured here (build included), so
  the line holds many short runs and few long ones;
- `max_waiting` is a hard, memory-safe bound far above what trainers send: past it, 429;
- the run's own time limits start when it starts, never in the line.

`/metrics` shows the line: `rewardgate_run_code_waiting`, `rewardgate_run_code_running`,
`rewardgate_run_code_wait_seconds` and `rewardgate_run_code_refused_total{reason}`.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from rewardgate.verifiers.errors import Overloaded, RewardgateError

__all__ = ["MARGIN_S", "QueueTimeout", "RunQueue"]

T = TypeVar("T")

# What verl adds to a run's timeouts for its HTTP request (API_TIMEOUT).
MARGIN_S = 10.0
# Expected seconds per run before any was measured: short, as most test cases are.
INITIAL_ESTIMATE_S = 1.0
_SMOOTHING = 0.2
_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)


class QueueTimeout(RewardgateError):
    """The run cannot start in time for its client: 504, which SandboxFusion's clients
    (verl's included) retry."""

    http_status = 504
    code = "queue_timeout"


class _Metrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.waiting = Gauge(
            "rewardgate_run_code_waiting", "/run_code runs waiting for a slot.", registry=registry
        )
        self.running = Gauge(
            "rewardgate_run_code_running", "/run_code runs executing.", registry=registry
        )
        self.wait_seconds = Histogram(
            "rewardgate_run_code_wait_seconds",
            "Seconds a /run_code run waited for a slot.",
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.refused = Counter(
            "rewardgate_run_code_refused",
            "/run_code runs refused: queue_timeout (504) or overloaded (429).",
            ["reason"],
            registry=registry,
        )


class RunQueue:
    """FIFO admission of runs to `slots` executors (see the module's docstring).

    Used from one event loop; `run(budget_s, fn)` awaits `fn()` once a slot is its.
    """

    def __init__(
        self,
        slots: int,
        *,
        max_waiting: int,
        margin_s: float = MARGIN_S,
        registry: CollectorRegistry | None = None,
        retry_after_s: float = 1.0,
    ) -> None:
        self.slots = max(1, slots)
        self.max_waiting = max_waiting
        self.margin_s = margin_s
        self.retry_after_s = retry_after_s
        self.estimate_s = INITIAL_ESTIMATE_S
        self._free = self.slots
        self._line: collections.deque[asyncio.Future[None]] = collections.deque()
        self._metrics = _Metrics(registry)

    @property
    def waiting(self) -> int:
        return len(self._line)

    def expected_wait_s(self, ahead: int) -> float:
        """Seconds until a run with `ahead` runs before it in the line starts, if every
        run takes the current estimate (those running are taken as half done)."""
        if self._free > ahead:
            return 0.0
        return (ahead + 1 - self._free) / self.slots * self.estimate_s

    async def run(self, budget_s: float, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn()` in its turn. `budget_s` is the run's compile and run timeouts; the
        client waits that plus `margin_s`."""
        arrived = time.monotonic()
        await self._acquire(arrived, budget_s + self.margin_s)
        self._metrics.wait_seconds.observe(time.monotonic() - arrived)
        self._metrics.running.inc()
        started = time.monotonic()
        try:
            return await fn()
        finally:
            self._metrics.running.dec()
            took = time.monotonic() - started
            self.estimate_s += _SMOOTHING * (took - self.estimate_s)
            self._release()

    async def _acquire(self, arrived: float, deadline_s: float) -> None:
        if self._free > 0 and not self._line:
            self._free -= 1
            return
        if len(self._line) >= self.max_waiting:
            self._metrics.refused.labels("overloaded").inc()
            raise Overloaded(
                f"{len(self._line)} /run_code runs waiting, this server's most "
                f"(about {self.expected_wait_s(len(self._line)):.0f} s of work)",
                self.retry_after_s,
            )
        if self.expected_wait_s(len(self._line)) + self.estimate_s > deadline_s:
            self._refuse(len(self._line))
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line.append(turn)
        self._metrics.waiting.inc()
        try:
            while True:
                # The estimate moves as runs finish, so the give-up time is re-read.
                left = arrived + deadline_s - self.estimate_s - time.monotonic()
                if left <= 0:
                    self._refuse(self._line.index(turn))
                try:
                    await asyncio.wait_for(asyncio.shield(turn), timeout=min(left, 1.0))
                    return
                except TimeoutError:
                    continue
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._release()  # the slot was handed over as we gave up: pass it on
            else:
                turn.cancel()
                self._line.remove(turn)
            raise
        finally:
            self._metrics.waiting.dec()

    def _refuse(self, ahead: int) -> None:
        self._metrics.refused.labels("queue_timeout").inc()
        raise QueueTimeout(
            f"/run_code: {ahead} runs ahead of this one (about "
            f"{self.expected_wait_s(ahead):.1f} s at {self.estimate_s:.2f} s a run on "
            f"{self.slots} slots) would outlast its compile and run timeouts plus "
            f"{self.margin_s:.0f} s; retry later"
        )

    def _release(self) -> None:
        while self._line:
            turn = self._line.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes straight to the head of the line
                return
        self._free += 1
