"""Scores items: validation in the gateway, judging in killable worker processes.

Every judged item runs in a pebble worker process under a hard deadline: past it the
worker is killed and replaced, and the item is `timeout`. A worker that dies (OOM,
a signal, a crash in native code) fails only its own item, as `error`. The gateway
never runs verifier code of an item in its own process, so nothing an item does can
stall the event loop.

Admission is bounded: `reserve` refuses a request whose items would push the number
queued or running past `max_inflight` (HTTP 429), rather than queueing without end.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import CancelledError, TimeoutError
from typing import Any

from pebble import ProcessExpired, ProcessPool
from pydantic import ValidationError

from rewardgate.service.cache import ResultCache, cache_key, make_cache
from rewardgate.service.metrics import Metrics
from rewardgate.service.settings import Settings
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, describe_validation_error
from rewardgate.verifiers.errors import (
    InvalidRequest,
    Overloaded,
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


def _ping() -> int:
    return 1


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
        cache: ResultCache | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.registry = registry
        self.workers = workers
        self.timeout_s = timeout_s
        self.max_timeout_s = max_timeout_s
        self.max_inflight = max_inflight
        self.retry_after_s = retry_after_s
        self.cache = cache
        self.metrics = metrics or Metrics()
        self.inflight = 0
        self._pending: dict[str, asyncio.Future[RewardResult | None]] = {}
        self._pool: ProcessPool | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, registry: Registry, metrics: Metrics | None = None
    ) -> Engine:
        return cls(
            registry,
            workers=settings.workers,
            timeout_s=settings.timeout_s,
            max_timeout_s=settings.max_timeout_s,
            max_inflight=settings.max_inflight,
            retry_after_s=settings.retry_after_s,
            cache=make_cache(settings.cache_size, settings.cache_path),
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
        self._pool = ProcessPool(
            max_workers=self.workers,
            initializer=_worker_init,
            initargs=(self.registry,),
            context=multiprocessing.get_context("fork"),
        )
        for future in [self._pool.schedule(_ping) for _ in range(self.workers)]:
            future.result(timeout=60)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join(timeout=10)
            self._pool = None
        if self.cache is not None:
            self.cache.close()

    @property
    def running(self) -> bool:
        return self._pool is not None and self._pool.active

    # -- admission -------------------------------------------------------------------

    def reserve(self, n: int) -> None:
        """Admit `n` items or raise `Overloaded`; each admitted item is released once."""
        if self.inflight + n > self.max_inflight:
            raise Overloaded(
                f"{self.inflight} items in flight; {n} more would pass the limit of "
                f"{self.max_inflight}",
                retry_after=self.retry_after_s,
            )
        self.inflight += n
        self.metrics.inflight.set(self.inflight)

    def _release(self) -> None:
        self.inflight -= 1
        self.metrics.inflight.set(self.inflight)

    # -- scoring ---------------------------------------------------------------------

    def _admit(self, items: Sequence[Any]) -> list[asyncio.Task[tuple[int, RewardResult]]]:
        """Reserve capacity (or raise `Overloaded`) and start every item now.

        Starting eagerly means an admitted item always runs to its end or is cancelled,
        so its reservation is released even if the caller never reads the results.
        """
        self.reserve(len(items))

        async def indexed(index: int, item: Any) -> tuple[int, RewardResult]:
            return index, await self._score_admitted(item)

        return [asyncio.ensure_future(indexed(i, item)) for i, item in enumerate(items)]

    async def score(self, items: Sequence[Any]) -> list[RewardResult]:
        """Score a batch in order; cancelling the caller cancels (and kills) its items."""
        tasks = self._admit(items)
        try:
            return [result for _, result in await asyncio.gather(*tasks)]
        finally:
            for task in tasks:
                task.cancel()

    def stream(self, items: Sequence[Any]) -> AsyncIterator[tuple[int, RewardResult]]:
        """Admit now (so overload is raised here), then yield `(index, result)` as done.

        Closing the iterator early cancels the items still running.
        """
        return _as_completed(self._admit(items))

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
            key = self._cache_key(verifier, request, prepared.reference, prepared.options)
            if key is None:
                return await self._judge(verifier, request, prepared)
            hit = await self._lookup(key)
            if hit is not None:
                self.metrics.cache_hits.inc()
                return hit.model_copy(update={"id": request.id, "cached": True})
            self.metrics.cache_misses.inc()
            return await self._judge_and_share(key, verifier, request, prepared)
        except RewardgateError as exc:
            fallback = request.fallback_reward
            return _failure(request.id, request.verifier, fallback, exc, verifier, lowest)

    async def _lookup(self, key: str) -> RewardResult | None:
        """A cached verdict, or the verdict of an identical item already being judged.

        GRPO groups often repeat a response; the repeats wait for the first one
        instead of judging it again. Only `ok` verdicts are shared, as with the cache.
        """
        assert self.cache is not None
        hit = self.cache.get(key)
        if hit is None and key in self._pending:
            hit = await asyncio.shield(self._pending[key])
        return hit

    async def _judge_and_share(
        self, key: str, verifier: Verifier, request: RewardRequest, prepared: Prepared
    ) -> RewardResult:
        assert self.cache is not None
        shared: asyncio.Future[RewardResult | None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(key, shared)
        result: RewardResult | None = None
        try:
            result = await self._judge(verifier, request, prepared)
            if result.status == "ok":
                self.cache.put(key, result)
            return result
        finally:
            if self._pending.get(key) is shared:
                del self._pending[key]
            shared.set_result(result if result is not None and result.status == "ok" else None)

    async def _judge(
        self, verifier: Verifier, request: RewardRequest, prepared: Prepared
    ) -> RewardResult:
        budget = verifier.budget_s(prepared.reference, prepared.options, self.timeout_s)
        budget = min(budget, self.max_timeout_s)
        return verifier.result(await self._run(request, budget), request.id)

    def _cache_key(
        self, verifier: Verifier, request: RewardRequest, reference: Any, options: Any
    ) -> str | None:
        if self.cache is None or not verifier.cacheable_for(reference, options):
            return None
        return cache_key(
            verifier.name,
            verifier.version,
            request.response,
            reference.model_dump(mode="json"),
            options.model_dump(mode="json"),
            verifier.fingerprints(reference),
        )

    async def _run(self, request: RewardRequest, budget_s: float) -> Verdict:
        """Judge in a worker; translate pebble's outcomes into the error tree."""
        if self._pool is None:
            raise RewardgateError("engine is not started")
        future = self._pool.schedule(
            _judge,
            args=(request.verifier, request.response, request.reference, request.options),
            timeout=budget_s,
        )
        try:
            return await asyncio.wrap_future(future)
        except TimeoutError:
            self.metrics.worker_restarts.inc()
            raise VerifierTimeout(
                f"verifier {request.verifier!r} ran past its {budget_s:g} s budget"
            ) from None
        except ProcessExpired as exc:
            self.metrics.worker_restarts.inc()
            raise RewardgateError(
                f"the worker judging this item died (exit code {exc.exitcode})"
            ) from None
        except CancelledError:
            raise asyncio.CancelledError() from None
        except RewardgateError:
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
