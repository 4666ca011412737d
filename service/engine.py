"""Scores items: validation in the gateway, judging in killable worker processes.

Every judged item runs in a worker process (service/pool.py) under a hard deadline:
past it the worker is killed and replaced, and the item is `timeout`. A worker that
dies (OOM, a signal, a crash in native code) costs at most its own item: the item is
judged once more on a fresh worker, and only a second death makes it `error`, never
a silent 0 and never two verdicts. A watchdog (service/watchdog.py) probes the pool
and `healthy` turns false only when it cannot heal. The gateway never runs verifier
code of an item in its own process, so nothing an item does can stall the event loop.

Admission is bounded and fair (service/admission.py): a request whose items would
push the number queued or running past `max_inflight` waits in a FIFO line for a
bounded time, then gets 429, rather than queueing without end or being overtaken by
smaller requests for ever.

The cache is an optimisation: any failure of it (a full disk, a locked or corrupt
database) is logged and counted by operation, and the item is judged as if uncached.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import CancelledError
from typing import Any

from pydantic import ValidationError

from rewardgate.service.admission import Admission
from rewardgate.service.cache import ResultCache, cache_key, make_cache
from rewardgate.service.metrics import Metrics
from rewardgate.service.pool import Job, JobTimeout, PoolClosed, WorkerDied, WorkerPool
from rewardgate.service.redis_cache import redis_options
from rewardgate.service.settings import Settings
from rewardgate.service.watchdog import Watchdog
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, describe_validation_error
from rewardgate.verifiers.errors import (
    InvalidRequest,
    RewardgateError,
    VerifierTimeout,
)
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.registry import Registry

__all__ = ["Engine"]

log = logging.getLogger("rewardgate.engine")

# The registry a worker judges with. Workers are forked, so they inherit it (and any
# verifier class a test or embedding program registered) without pickling.
_worker_registry: Registry | None = None


def _worker_init(registry: Registry) -> None:
    global _worker_registry
    _worker_registry = registry


def _judge(name: str, response: str, reference: Any, options: dict[str, Any]) -> Verdict:
    """Runs in a worker. Re-validates from plain data, so only JSON crosses the pipe."""
    assert _worker_registry is not None, "worker started without a registry"
    verifier = _worker_registry.get(name)
    prepared = verifier.prepare(reference, options)
    return verifier.judge(response, prepared.reference, prepared.options)


class Engine:
    def __init__(
        self,
        registry: Registry,
        *,
        workers: int,
        timeout_s: float = 30.0,
        max_timeout_s: float = 600.0,
        max_inflight: int = 4096,
        retry_after_s: float = 1.0,
        admission_wait_s: float = 0.0,
        max_waiting_items: int | None = None,
        cache: ResultCache | None = None,
        metrics: Metrics | None = None,
        watchdog_interval_s: float = 1.0,
        probe_timeout_s: float = 5.0,
        heal_timeout_s: float = 30.0,
    ) -> None:
        self.registry = registry
        self.workers = workers
        self.timeout_s = timeout_s
        self.max_timeout_s = max_timeout_s
        self.max_inflight = max_inflight
        self.retry_after_s = retry_after_s
        self.cache = cache
        self.metrics = metrics or Metrics()
        self.admission = Admission(
            max_inflight,
            max_waiting_items=max_inflight if max_waiting_items is None else max_waiting_items,
            wait_s=admission_wait_s,
            retry_after_s=retry_after_s,
            on_change=self._admission_changed,
        )
        self._pending: dict[str, asyncio.Future[RewardResult | None]] = {}
        self._judging: dict[str, set[Job]] = {}
        self.metrics.watch_verifiers(self._verifier_load)
        self._pool: WorkerPool | None = None
        self._watchdog: Watchdog | None = None
        self._watchdog_options = {
            "interval_s": watchdog_interval_s,
            "probe_timeout_s": probe_timeout_s,
            "heal_timeout_s": heal_timeout_s,
        }

    @classmethod
    def from_settings(
        cls, settings: Settings, registry: Registry, metrics: Metrics | None = None
    ) -> Engine:
        metrics = metrics or Metrics()
        return cls(
            registry,
            workers=settings.workers,
            timeout_s=settings.timeout_s,
            max_timeout_s=settings.max_timeout_s,
            max_inflight=settings.max_inflight,
            retry_after_s=settings.retry_after_s,
            admission_wait_s=settings.admission_wait_s,
            max_waiting_items=settings.max_waiting_items,
            cache=make_cache(
                settings.cache_size,
                settings.cache_path,
                settings.cache_max_bytes,
                redis_options(settings),
                lambda operation: metrics.shared_cache_errors.labels(operation).inc(),
            ),
            metrics=metrics,
        )

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Warm the verifiers up, then fork the workers, so no request pays for either."""
        if self._pool is not None:
            return
        for name in self.registry.names():
            try:
                self.registry.get(name).warmup()
            except ImportError as exc:
                # An optional dependency of one verifier (an extra not installed) must
                # not keep the others from serving; its health check says what is missing.
                log.warning("verifier %s not warmed up: %s", name, exc)
        pool = WorkerPool(
            self.workers,
            _worker_init,
            (self.registry,),
            context=multiprocessing.get_context("fork"),
        )
        pool.start()
        self._pool = pool
        self._watchdog = Watchdog(pool, **self._watchdog_options)
        self._watchdog.start()

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self.cache is not None:
            try:
                self.cache.close()
            except Exception as exc:  # closing a broken cache is not an error
                self._cache_failed("close", exc)

    @property
    def running(self) -> bool:
        """The pool is started and has not been closed (it may be healing)."""
        return self._pool is not None and not self._pool.closed

    @property
    def problem(self) -> str | None:
        """Why the engine cannot serve and cannot heal by itself, or None."""
        if self._pool is None or self._watchdog is None:
            return "engine is not started"
        return self._watchdog.problem

    @property
    def healthy(self) -> bool:
        return self.problem is None

    def pool_state(self) -> dict[str, Any]:
        """What `/readyz` shows of the pool."""
        pool, watchdog = self._pool, self._watchdog
        if pool is None or watchdog is None:
            return {"state": "stopped"}
        problem = watchdog.problem
        return {
            "state": "ok" if problem is None else "failing",
            "problem": problem,
            "workers": pool.size,
            "alive": pool.alive_workers,
            "busy": pool.busy,
            "queued": pool.queued,
            "workers_started": pool.spawned,
            "workers_lost": pool.deaths,
            "failed_probes": watchdog.failed_probes,
        }

    # -- admission -------------------------------------------------------------------

    @property
    def inflight(self) -> int:
        return self.admission.inflight

    def reserve(self, n: int) -> None:
        """Admit `n` items now or raise `Overloaded`; each admitted item is released once."""
        self.admission.try_acquire(n)

    def _admission_changed(self, inflight: int, waiting: int) -> None:
        self.metrics.inflight.set(inflight)
        self.metrics.waiting.set(waiting)

    def _release(self) -> None:
        self.admission.release(1)

    # -- scoring ---------------------------------------------------------------------

    def _start(self, items: Sequence[Any]) -> list[asyncio.Task[tuple[int, RewardResult]]]:
        """Start every admitted item now.

        Starting eagerly means an admitted item always runs to its end or is cancelled,
        so its reservation is released even if the caller never reads the results.
        """

        async def indexed(index: int, item: Any) -> tuple[int, RewardResult]:
            return index, await self._score_admitted(item)

        return [asyncio.ensure_future(indexed(i, item)) for i, item in enumerate(items)]

    async def score(self, items: Sequence[Any]) -> list[RewardResult]:
        """Score a batch in order; cancelling the caller cancels (and kills) its items.

        Waits in the admission line when the engine is full (`Overloaded` past it).
        """
        await self.admission.acquire(len(items))
        tasks = self._start(items)
        try:
            return [result for _, result in await asyncio.gather(*tasks)]
        finally:
            for task in tasks:
                task.cancel()

    def stream(self, items: Sequence[Any]) -> AsyncIterator[tuple[int, RewardResult]]:
        """Admit now or raise `Overloaded`, then yield `(index, result)` as done.

        Closing the iterator early cancels the items still running. `open_stream`
        is the same with a wait in the admission line.
        """
        self.reserve(len(items))
        return _as_completed(self._start(items))

    async def open_stream(self, items: Sequence[Any]) -> AsyncIterator[tuple[int, RewardResult]]:
        """Wait in the admission line (so overload is raised here), then stream."""
        await self.admission.acquire(len(items))
        return _as_completed(self._start(items))

    async def _score_admitted(self, raw: Any) -> RewardResult:
        start = time.perf_counter()
        try:
            result = await self._score_one(raw)
        finally:
            self._release()
        result.elapsed_ms = (time.perf_counter() - start) * 1000
        # Label by registered names only: a client must not mint metric series at will.
        label = result.verifier if result.verifier in self.registry else "unknown"
        self.metrics.items.labels(label, result.status).inc()
        self.metrics.item_seconds.labels(label).observe(result.elapsed_ms / 1000)
        return result

    async def _score_one(self, raw: Any) -> RewardResult:
        try:
            request = RewardRequest.model_validate(raw)
        except ValidationError as exc:
            # What can still be read of a malformed item is honoured: its fallback
            # reward, and its verifier's lowest reward when that is unset.
            name = _loose_field(raw, "verifier")
            return _failure(
                _loose_field(raw, "id"),
                name,
                _loose_number(raw, "fallback_reward"),
                InvalidRequest(describe_validation_error("item", exc)),
                self.registry.get(name) if name is not None and name in self.registry else None,
            )
        verifier: Verifier | None = None
        lowest: float | None = None
        try:
            verifier = self.registry.get(request.verifier)
            prepared = verifier.prepare(request.reference, request.options)
            lowest = verifier.lowest_reward_for(prepared.options)
            fingerprint = verifier.fingerprint_for(prepared.reference, prepared.options)
            key = self._cache_key(verifier, request, prepared, fingerprint)
            if key is None:
                return await self._judge(verifier, request, prepared, fingerprint)
            hit = await self._lookup(key)
            if hit is not None:
                self.metrics.cache_hits.inc()
                return hit.model_copy(update={"id": request.id, "cached": True})
            self.metrics.cache_misses.inc()
            return await self._judge_and_share(key, verifier, request, prepared, fingerprint)
        except RewardgateError as exc:
            fallback = request.fallback_reward
            return _failure(request.id, request.verifier, fallback, exc, verifier, lowest)

    async def _lookup(self, key: str) -> RewardResult | None:
        """A cached verdict, or the verdict of an identical item already being judged.

        GRPO groups often repeat a response; the repeats wait for the first one
        instead of judging it again. Only `ok` verdicts are shared, as with the cache.
        """
        assert self.cache is not None
        try:
            # A shared cache asks its second level (Redis) in one batch per request.
            aget = getattr(self.cache, "aget", None)
            hit = await aget(key) if aget is not None else self.cache.get(key)
        except Exception as exc:  # the cache is an optimisation
            self._cache_failed("get", exc)
            hit = None
        if hit is None and key in self._pending:
            hit = await asyncio.shield(self._pending[key])
        return hit

    async def _judge_and_share(
        self,
        key: str,
        verifier: Verifier,
        request: RewardRequest,
        prepared: Prepared,
        fingerprint: str,
    ) -> RewardResult:
        assert self.cache is not None
        shared: asyncio.Future[RewardResult | None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(key, shared)
        result: RewardResult | None = None
        try:
            result = await self._judge(verifier, request, prepared, fingerprint)
            if result.status == "ok":
                try:
                    self.cache.put(key, result)
                except Exception as exc:  # the cache is an optimisation
                    self._cache_failed("put", exc)
            return result
        finally:
            if self._pending.get(key) is shared:
                del self._pending[key]
            shared.set_result(result if result is not None and result.status == "ok" else None)

    def _verifier_load(self) -> dict[str, tuple[int, int]]:
        """`{verifier: (in flight, queued)}` of the jobs in the worker pool now."""
        return {
            name: (len(jobs), sum(1 for job in jobs if not job.future.running()))
            for name, jobs in list(self._judging.items())
        }

    def _cache_failed(self, operation: str, exc: BaseException) -> None:
        self.metrics.cache_errors.labels(operation).inc()
        log.warning("result cache %s failed, scoring without it: %r", operation, exc)

    async def _judge(
        self, verifier: Verifier, request: RewardRequest, prepared: Prepared, fingerprint: str
    ) -> RewardResult:
        budget = verifier.budget_s(prepared.reference, prepared.options, self.timeout_s)
        budget = min(budget, self.max_timeout_s)
        return verifier.result(await self._run(request, budget), request.id, fingerprint)

    def _cache_key(
        self, verifier: Verifier, request: RewardRequest, prepared: Prepared, fingerprint: str
    ) -> str | None:
        """The cache key, keyed on the verdict fingerprint (version, sources, tools), so
        an upgraded verifier or judging tool never serves an old verdict."""
        reference, options = prepared.reference, prepared.options
        if self.cache is None or not verifier.cacheable_for(reference, options):
            return None
        return cache_key(
            verifier.name,
            fingerprint,
            request.response,
            reference.model_dump(mode="json"),
            options.model_dump(mode="json"),
            verifier.fingerprints(reference),
        )

    async def _run(self, request: RewardRequest, budget_s: float) -> Verdict:
        """Judge in a worker, once more if the worker dies; translate the outcomes."""
        for attempt in (1, 2):
            try:
                return await self._attempt(request, budget_s, retry=attempt > 1)
            except WorkerDied as exc:
                self.metrics.worker_restarts.inc()
                if attempt == 2:
                    raise RewardgateError(
                        f"the worker judging this item died twice (exit code {exc.exitcode})"
                    ) from None
                self.metrics.item_retries.inc()
                log.warning(
                    "worker died judging an item (exit code %s); judging it once more",
                    exc.exitcode,
                    extra={"item_id": request.id},
                )
        raise AssertionError("unreachable")

    async def _attempt(self, request: RewardRequest, budget_s: float, retry: bool) -> Verdict:
        """One try in a worker. A retry goes ahead of the queue: it already waited its
        turn, and running it at once makes a second unlucky death much rarer."""
        pool = self._pool
        if pool is None:
            raise RewardgateError("engine is not started")
        try:
            job = pool.submit(
                _judge,
                (request.verifier, request.response, request.reference, request.options),
                timeout=budget_s,
                urgent=retry,
            )
        except PoolClosed:
            raise RewardgateError("engine is shutting down") from None
        judging = self._judging.setdefault(request.verifier, set())
        judging.add(job)
        try:
            verdict: Verdict = await asyncio.wrap_future(job.future)
            return verdict
        except asyncio.CancelledError:
            job.cancel()
            raise
        except JobTimeout:
            self.metrics.worker_restarts.inc()
            raise VerifierTimeout(
                f"verifier {request.verifier!r} ran past its {budget_s:g} s budget"
            ) from None
        except PoolClosed:
            raise RewardgateError("engine is shutting down") from None
        except CancelledError:
            raise asyncio.CancelledError() from None
        except (RewardgateError, WorkerDied):
            raise
        except Exception as exc:
            log.error(
                "verifier %s crashed: %r\n%s",
                request.verifier,
                exc,
                getattr(exc, "traceback", ""),
                extra={"item_id": request.id},
            )
            raise RewardgateError(
                f"verifier {request.verifier!r} failed: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            judging.discard(job)


async def _as_completed(
    tasks: list[asyncio.Task[tuple[int, RewardResult]]],
) -> AsyncIterator[tuple[int, RewardResult]]:
    try:
        for done in asyncio.as_completed(tasks):
            yield await done
    finally:
        for task in tasks:
            task.cancel()


def _loose_field(raw: Any, name: str) -> str | None:
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def _loose_number(raw: Any, name: str) -> float | None:
    value = raw.get(name) if isinstance(raw, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _failure(
    item_id: str | None,
    verifier_name: str | None,
    fallback: float | None,
    exc: RewardgateError,
    verifier: Verifier | None = None,
    lowest: float | None = None,
) -> RewardResult:
    """A non-ok result: no verdict, so the reward is the fallback, never a free 0 or 1.

    Without a fallback: `lowest` (the verifier's lowest reward under the item's
    options), else the verifier's class-wide lowest reward, else 0.
    """
    if fallback is None:
        fallback = lowest if lowest is not None else verifier.lowest_reward if verifier else 0.0
    return RewardResult(
        id=item_id,
        verifier=verifier_name or "",
        version=verifier.version if verifier is not None else None,
        reward=fallback,
        status=exc.status,
        error=exc.message,
    )
