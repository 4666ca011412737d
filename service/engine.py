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

Cheap items go to a worker several at a time (service/pool.py's chunks): the items
that reach the pool in one turn of the loop are grouped by verifier and cut into
chunks sized from that verifier's measured cost (an exponentially weighted mean of the
seconds its items took in the workers), so a chunk holds about `chunk_target_ms` of
work: a 0.01 ms verifier goes 128 items a message, a 2 s one alone, and a verifier not
measured yet alone. Each item keeps its own deadline inside its chunk, and a retry
after a death always goes alone. `chunk_target_ms=0` turns chunking off.

The cache is an optimisation: any failure of it (a full disk, a locked or corrupt
database) is logged and counted by operation, and the item is judged as if uncached.

The gateway-side hooks of a verifier (`prepare`, `lowest_reward_for`,
`fingerprint_for`, `fingerprints`, `budget_s`) run on a small thread pool of their own,
never on the event loop: they may hash a 256 MiB database file the first time it is
named, parse a large test file, or ask docker for an image id, and the loop must keep
answering `/healthz` and streaming other requests' results meanwhile. The items
started in one turn (a request's) go to the threads together in a few chunks and
resume together, so a cheap batch pays a few thread switches, not one per item.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from rewardgate.service.admission import Admission
from rewardgate.service.cache import ResultCache, cache_key, make_cache
from rewardgate.service.completions import Completions
from rewardgate.service.doctor import HealthMonitor
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
from rewardgate.verifiers.models import RewardRequest, RewardResult, StepReward
from rewardgate.verifiers.registry import Registry

__all__ = ["Engine"]

log = logging.getLogger("rewardgate.engine")

# Threads for the gateway-side hooks. Hashing and file reads release the GIL, so a few
# threads let one slow first fingerprint proceed beside the cheap hooks of other items.
HOOK_THREADS = 4

# Below this measured cost per item (ms) a batch is one segment (`Engine._segments`):
# the gateway's validation and hooks cost an item about 0.02 ms.
PIPELINE_MIN_COST_MS = 0.05

# Weight of the newest item in a verifier's running mean cost (see `Engine._chunk_size`).
COST_WEIGHT = 0.1

# The registry a worker judges with. Workers are forked, so they inherit it (and any
# verifier class a test or embedding program registered) without pickling.
_worker_registry: Registry | None = None


def _worker_init(registry: Registry) -> None:
    global _worker_registry
    _worker_registry = registry


class _Token(Protocol):
    """Whether the caller waiting for an item's hooks is gone (its future, or its batch's
    `_Cancelled`): a hook thread skips the items nobody waits for any more."""

    def done(self) -> bool: ...


class _Cancelled:
    """A batch's `_Token`: set when the batch is cancelled."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = False

    def done(self) -> bool:
        return self.value


# An item of a batch on its way: its index, verifier, request and hooks.
_Entry = tuple[int, Verifier, RewardRequest, "_Hooked"]


@dataclass
class _Hooked:
    """What the gateway-side hooks made of one item (see `Engine._run_hooks`)."""

    prepared: Prepared | None = None
    lowest: float | None = None
    fingerprint: str = ""
    key: str | None = None
    budget_s: float = 0.0
    error: RewardgateError | None = None


@dataclass(frozen=True)
class _Shared:
    """The hooks' results for one (verifier, reference, options), shared by the items of
    a hook chunk that name the same (see `Engine._run_hooks`)."""

    prepared: Prepared
    lowest: float
    fingerprint: str
    key_parts: tuple[dict[str, Any], dict[str, Any], list[str]] | None
    budget_s: float
    error: RewardgateError | None = None


def _memo_key(request: RewardRequest) -> bytes | None:
    """The reference and options as canonical JSON, or None when they are not JSON
    (a caller in this process may pass other objects: those items run their own hooks)."""
    try:
        return orjson.dumps((request.reference, request.options), option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None


# A verdict crosses the pipe as a plain tuple: pickling the dataclass costs about 10 µs
# an item both ways, the tuple under 2 (bench/overhead.py's trivial verifier pays it).
# Its steps travel as (index, reward, label, details) tuples for the same reason: four
# pickled `StepReward` models cost a SQL item about 20 µs, their tuples 4.
_PackedVerdict = tuple[float, Any, dict[str, Any]]
_PackedStep = tuple[int, float, "str | None", dict[str, Any]]


def _judge(name: str, response: str, reference: Any, options: dict[str, Any]) -> _PackedVerdict:
    """Runs in a worker. Re-validates from plain data, so only JSON crosses the pipe."""
    assert _worker_registry is not None, "worker started without a registry"
    verifier = _worker_registry.get(name)
    prepared = verifier.prepare(reference, options)
    verdict = verifier.judge(response, prepared.reference, prepared.options)
    return verdict.reward, _pack_steps(verdict.steps), verdict.details


def _pack_steps(steps: list[StepReward] | None) -> list[_PackedStep] | list[StepReward] | None:
    """A verdict's steps as tuples, when each is a `StepReward` itself (a subclass, which
    a plugin may return, travels as it is)."""
    if not steps or not all(type(step) is StepReward for step in steps):
        return steps
    return [(step.index, step.reward, step.label, step.details) for step in steps]


def _unpacked(packed: tuple[float, Any, dict[str, Any]]) -> Verdict:
    """The verdict `_judge` packed."""
    reward, steps, details = packed
    if steps and type(steps[0]) is tuple:
        steps = [StepReward.trusted(*step) for step in steps]
    return Verdict(reward=reward, steps=steps, details=details)


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
        health_timeout_s: float = 5.0,
        health_refresh_s: float = 10.0,
        chunk_target_ms: float = 10.0,
        chunk_max_items: int = 128,
    ) -> None:
        self.registry = registry
        self.workers = workers
        self.timeout_s = timeout_s
        self.max_timeout_s = max_timeout_s
        self.max_inflight = max_inflight
        self.retry_after_s = retry_after_s
        self.cache = cache
        self.metrics = metrics or Metrics()
        self.chunk_target_ms = chunk_target_ms
        self.chunk_max_items = chunk_max_items
        # Each verifier's mean ms per item in the workers, and the jobs that reached
        # the pool in this turn of the loop (sent in chunks by `_dispatch`).
        self.cost_ms: dict[str, float] = {}
        self._outbox: list[tuple[str, Job]] = []
        self._done: Completions | None = None
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
        # Called with (raw item, result) as each item finishes; /ui's recent-results ring.
        self.on_result: Callable[[Any, RewardResult], None] | None = None
        self._hooks: ThreadPoolExecutor | None = None
        self._hook_queue: list[tuple[Verifier, RewardRequest, asyncio.Future[_Hooked]]] = []
        self._hook_flushes: set[asyncio.Future[None]] = set()
        # `/readyz`'s view of every verifier's tools, probed off the loop (doctor.py).
        self.health = HealthMonitor(
            registry, timeout_s=health_timeout_s, refresh_s=health_refresh_s
        )
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
            chunk_target_ms=settings.chunk_target_ms,
            chunk_max_items=settings.chunk_max_items,
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
        if self._hooks is not None:
            # A hook still running finishes on its own; nothing waits for it.
            self._hooks.shutdown(wait=False, cancel_futures=True)
            self._hooks = None
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
        return await self._score_batch(items)

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

    async def _score_batch(self, items: Sequence[Any]) -> list[RewardResult]:
        """Score admitted items together, stage by stage, with no task per item.

        The stages are `_score_one`'s (validation, the gateway hooks, the cache and the
        identical items in flight, a worker), each run once for the whole batch: the
        hooks in a few thread chunks, the jobs chunked by `_dispatch` and awaited as one
        group whose arrivals are settled turn by turn. A cheap item then costs the
        gateway its own bookkeeping, not an asyncio task with its resumptions, which was
        most of its cost. Each item keeps its own deadline, retry, `elapsed_ms`, metrics
        and admission (released as it finishes); cancelling the caller cancels (and
        kills) what is still running. `stream` keeps a task per item: it yields each
        result as it comes.
        """
        start = time.perf_counter()
        results: list[RewardResult | None] = [None] * len(items)
        finished = released = 0
        cancelled = _Cancelled()
        owned: dict[str, tuple[int, asyncio.Future[RewardResult | None]]] = {}
        running: set[Job] = set()

        # Latencies by (verifier, status), counted into the metrics as a turn ends.
        latencies: dict[tuple[str, str], list[float]] = {}

        def finish(index: int, result: RewardResult) -> None:
            nonlocal finished
            seconds = time.perf_counter() - start
            result.elapsed_ms = seconds * 1000
            finished += 1
            label = result.verifier if result.verifier in self.registry else "unknown"
            latencies.setdefault((label, result.status), []).append(seconds)
            results[index] = result
            if self.on_result is not None:
                self.on_result(items[index], result)

        def release() -> None:
            """Free the finished items' admission and count them (once per turn)."""
            nonlocal released
            if finished > released:
                self.admission.release(finished - released)
                released = finished
            for (label, status), seconds in latencies.items():
                self.metrics.observe_items(label, status, seconds)
            latencies.clear()

        judging: list[asyncio.Future[None]] = []
        try:
            twins: list[tuple[_Entry, asyncio.Future[RewardResult | None]]] = []
            for lo, hi in self._segments(items):
                todo: list[tuple[int, Verifier, RewardRequest]] = []
                for index in range(lo, hi):
                    admitted = self._admit(items[index])
                    if isinstance(admitted, RewardResult):
                        finish(index, admitted)
                    else:
                        todo.append((index, *admitted))
                release()
                judge: list[_Entry] = []
                keyed: list[_Entry] = []
                for (index, verifier, request), hooked in zip(
                    todo, await self._hooks_of(todo, cancelled), strict=True
                ):
                    if isinstance(hooked, BaseException):  # a bug in a hook
                        raise hooked
                    if hooked.error is not None:
                        finish(index, self._failed(request, hooked.error, verifier, hooked.lowest))
                    else:
                        (judge if hooked.key is None else keyed).append(
                            (index, verifier, request, hooked)
                        )
                twins += await self._look_up(keyed, judge, owned, finish)
                release()
                if judge:
                    # Judged while the next segment is validated and hooked: two loop
                    # turns let the task queue its jobs and `_dispatch` send them first.
                    judging.append(
                        asyncio.ensure_future(self._judge_batch(judge, finish, release, running))
                    )
                    if hi < len(items):
                        await asyncio.sleep(0)
                        await asyncio.sleep(0)
            await asyncio.gather(*judging)
            await self._share(owned, results)
            if twins:
                await self._after_twins(twins, finish)
            release()
            done = [result for result in results if result is not None]
            if len(done) != len(items):  # a bug here must fail loudly, never shift results
                raise RuntimeError(f"{len(items) - len(done)} items of the batch have no result")
            return done
        except BaseException:
            cancelled.value = True
            for task in judging:
                task.cancel()
            for job in list(running):
                job.cancel()
            raise
        finally:
            for key, (_, shared) in owned.items():
                if self._pending.get(key) is shared:
                    del self._pending[key]
                if not shared.done():
                    shared.set_result(None)
            if len(items) > released:
                self.admission.release(len(items) - released)

    async def _hooks_of(
        self, todo: list[tuple[int, Verifier, RewardRequest]], cancelled: _Cancelled
    ) -> list[_Hooked | BaseException]:
        """The hooks of a batch's items, in up to `HOOK_THREADS` chunks off the loop."""
        if not todo:
            return []
        size = -(-len(todo) // HOOK_THREADS)
        chunks = [
            [(verifier, request, cancelled) for _, verifier, request in todo[i : i + size]]
            for i in range(0, len(todo), size)
        ]
        pool = self._hook_pool()
        shared: dict[tuple[str, bytes], _Shared] = {}
        done = await asyncio.gather(
            *(asyncio.wrap_future(pool.submit(self._run_hook_chunk, c, shared)) for c in chunks)
        )
        return [outcome for outcomes in done for outcome in outcomes]

    async def _look_up(
        self,
        keyed: list[_Entry],
        judge: list[_Entry],
        owned: dict[str, tuple[int, asyncio.Future[RewardResult | None]]],
        finish: Callable[[int, RewardResult], None],
    ) -> list[tuple[_Entry, asyncio.Future[RewardResult | None]]]:
        """Settle the cached items, queue the rest to `judge`, and return the twins: the
        items identical to one being judged (here or by another request), to wait for.

        The first of identical items in the batch is judged and shared (`owned`).
        """
        if not keyed:
            return []
        hits = await self._cache_get_many([hooked.key or "" for _, _, _, hooked in keyed])
        twins: list[tuple[_Entry, asyncio.Future[RewardResult | None]]] = []
        loop = asyncio.get_running_loop()
        served = 0
        for entry, hit in zip(keyed, hits, strict=True):
            index, _, request, hooked = entry
            key = hooked.key
            assert key is not None
            if hit is not None:
                served += 1
                finish(index, hit.model_copy(update={"id": request.id, "cached": True}))
            elif key in self._pending:
                twins.append((entry, self._pending[key]))
            else:
                shared: asyncio.Future[RewardResult | None] = loop.create_future()
                self._pending[key] = shared
                owned[key] = (index, shared)
                judge.append(entry)
        if served:
            self.metrics.cache_hits.inc(served)
        if len(keyed) - served - len(twins):
            self.metrics.cache_misses.inc(len(keyed) - served - len(twins))
        return twins

    async def _cache_get_many(self, keys: list[str]) -> list[RewardResult | None]:
        """Cached verdicts of `keys` (None where absent or where the cache failed)."""
        assert self.cache is not None
        aget = getattr(self.cache, "aget", None)
        found: list[Any]
        if aget is not None:
            found = await asyncio.gather(*(aget(key) for key in keys), return_exceptions=True)
        else:
            found = []
            for key in keys:
                try:
                    found.append(self.cache.get(key))
                except Exception as exc:
                    found.append(exc)
        hits: list[RewardResult | None] = []
        for value in found:
            if isinstance(value, BaseException):
                if not isinstance(value, Exception):
                    raise value
                self._cache_failed("get", value)  # the cache is an optimisation
                value = None
            hits.append(value)
        return hits

    async def _share(
        self,
        owned: dict[str, tuple[int, asyncio.Future[RewardResult | None]]],
        results: list[RewardResult | None],
    ) -> None:
        """Cache the batch's new `ok` verdicts and hand them to their waiting twins."""
        assert not owned or self.cache is not None
        aput = getattr(self.cache, "aput", None)
        for key, (index, _) in list(owned.items()):
            result = results[index]
            if result is None or result.status != "ok":
                continue
            try:
                if aput is not None:
                    await aput(key, result)
                else:
                    assert self.cache is not None
                    self.cache.put(key, result)
            except Exception as exc:  # the cache is an optimisation
                self._cache_failed("put", exc)
        for key, (index, shared) in owned.items():
            result = results[index]
            if self._pending.get(key) is shared:
                del self._pending[key]
            if not shared.done():
                shared.set_result(result if result is not None and result.status == "ok" else None)

    async def _after_twins(
        self,
        twins: list[tuple[_Entry, asyncio.Future[RewardResult | None]]],
        finish: Callable[[int, RewardResult], None],
    ) -> None:
        """Wait for the twins' verdicts; an item whose twin had none is judged itself."""
        verdicts = await asyncio.gather(*(asyncio.shield(shared) for _, shared in twins))
        alone: list[_Entry] = []
        for (entry, _), verdict in zip(twins, verdicts, strict=True):
            index, _, request, _ = entry
            if verdict is not None:
                self.metrics.cache_hits.inc()
                finish(index, verdict.model_copy(update={"id": request.id, "cached": True}))
            else:
                self.metrics.cache_misses.inc()
                alone.append(entry)

        async def judged(entry: _Entry) -> None:
            index, verifier, request, hooked = entry
            key = hooked.key
            assert key is not None
            try:
                result = await self._judge_and_share(key, verifier, request, hooked)
            except RewardgateError as exc:
                result = self._failed(request, exc, verifier, hooked.lowest)
            finish(index, result)

        await asyncio.gather(*(judged(entry) for entry in alone))

    async def _judge_batch(
        self,
        entries: list[_Entry],
        finish: Callable[[int, RewardResult], None],
        release: Callable[[], None],
        running: set[Job],
    ) -> None:
        """Judge the entries in the workers; those whose worker died, once more alone.

        `running` holds the jobs not yet finished, for the batch to cancel."""
        retry = False
        while entries:
            pool = self._pool
            if pool is None:
                for index, verifier, request, hooked in entries:
                    error = RewardgateError("engine is not started")
                    finish(index, self._failed(request, error, verifier, hooked.lowest))
                return
            jobs = [
                Job(_judge, (r.verifier, r.response, r.reference, r.options), hooked.budget_s)
                for _, _, r, hooked in entries
            ]
            if retry or self.chunk_target_ms <= 0:
                try:
                    pool.submit_chunks([[job] for job in jobs], urgent=retry)
                except PoolClosed:
                    for index, verifier, request, hooked in entries:
                        error = RewardgateError("engine is shutting down")
                        finish(index, self._failed(request, error, verifier, hooked.lowest))
                    return
            else:
                first = not self._outbox
                self._outbox.extend(
                    (r.verifier, job) for (_, _, r, _), job in zip(entries, jobs, strict=True)
                )
                if first:
                    asyncio.get_running_loop().call_soon(self._dispatch)
            for (_, _, request, _), job in zip(entries, jobs, strict=True):
                self._judging.setdefault(request.verifier, set()).add(job)
            running.update(jobs)
            again: list[_Entry] = []

            def arrived(
                indices: list[int],
                entries: list[_Entry] = entries,
                jobs: list[Job] = jobs,
                again: list[_Entry] = again,
                retry: bool = retry,
            ) -> None:
                for i in indices:
                    entry, job = entries[i], jobs[i]
                    index, verifier, request, hooked = entry
                    self._judging[request.verifier].discard(job)
                    try:
                        if job.future.succeeded():  # the common case, read directly
                            verdict = _unpacked(job.future.result())
                            if job.elapsed is not None:
                                self._observe_cost(request.verifier, job.elapsed)
                        else:
                            verdict = self._verdict(job, request, hooked.budget_s)
                        result = verifier.result(verdict, request.id, hooked.fingerprint)
                    except asyncio.CancelledError:
                        continue  # only this batch cancels its jobs: it is being cancelled
                    except WorkerDied as exc:
                        self.metrics.worker_restarts.inc()
                        if not retry:
                            self.metrics.item_retries.inc()
                            log.warning(
                                "worker died judging an item (exit code %s); judging it once more",
                                exc.exitcode,
                                extra={"item_id": request.id},
                            )
                            again.append(entry)
                            continue
                        error = RewardgateError(
                            f"the worker judging this item died twice (exit code {exc.exitcode})"
                        )
                        result = self._failed(request, error, verifier, hooked.lowest)
                    except RewardgateError as exc:
                        result = self._failed(request, exc, verifier, hooked.lowest)
                    finish(index, result)
                release()

            try:
                await self._completions().group([job.future for job in jobs], arrived)
            finally:
                for (_, _, request, _), job in zip(entries, jobs, strict=True):
                    self._judging[request.verifier].discard(job)
            # Only once they are all done: a cancelled batch cancels what is left here.
            running.difference_update(jobs)
            entries, retry = again, True

    @staticmethod
    def _failed(
        request: RewardRequest,
        exc: RewardgateError,
        verifier: Verifier | None,
        lowest: float | None,
    ) -> RewardResult:
        return _failure(
            request.id, request.verifier, request.fallback_reward, exc, verifier, lowest
        )

    async def _score_admitted(self, raw: Any) -> RewardResult:
        start = time.perf_counter()
        try:
            result = await self._score_one(raw)
        finally:
            self._release()
        result.elapsed_ms = (time.perf_counter() - start) * 1000
        # Label by registered names only: a client must not mint metric series at will.
        label = result.verifier if result.verifier in self.registry else "unknown"
        self.metrics.observe_item(label, result.status, result.elapsed_ms / 1000)
        if self.on_result is not None:
            self.on_result(raw, result)
        return result

    def _admit(self, raw: Any) -> RewardResult | tuple[Verifier, RewardRequest]:
        """The item's verifier and validated request, or its `invalid` result."""
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
        try:
            if request.session is not None and request.session.snapshot is None:
                # Read only by the gateway holding it (service/session_rewards.py).
                raise InvalidRequest(
                    "session: this item names a live session; score it through the "
                    "server that holds the session (POST /v1/rewards)"
                )
            # On the loop: the registry builds instances lazily and is not thread-safe.
            return self.registry.get(request.verifier), request
        except RewardgateError as exc:
            return _failure(request.id, request.verifier, request.fallback_reward, exc)

    async def _score_one(self, raw: Any) -> RewardResult:
        admitted = self._admit(raw)
        if isinstance(admitted, RewardResult):
            return admitted
        verifier, request = admitted
        lowest: float | None = None
        try:
            hooked = await self._hooked(verifier, request)
            lowest = hooked.lowest
            if hooked.error is not None:
                raise hooked.error
            key = hooked.key
            if key is None:
                return await self._judge(verifier, request, hooked)
            hit = await self._lookup(key)
            if hit is not None:
                self.metrics.cache_hits.inc()
                return hit.model_copy(update={"id": request.id, "cached": True})
            self.metrics.cache_misses.inc()
            return await self._judge_and_share(key, verifier, request, hooked)
        except RewardgateError as exc:
            fallback = request.fallback_reward
            return _failure(request.id, request.verifier, fallback, exc, verifier, lowest)

    def _hook_pool(self) -> ThreadPoolExecutor:
        if self._hooks is None:
            self._hooks = ThreadPoolExecutor(HOOK_THREADS, thread_name_prefix="rewardgate-hooks")
        return self._hooks

    def _hooked(self, verifier: Verifier, request: RewardRequest) -> asyncio.Future[_Hooked]:
        """This item's hooks, run with those of every item started in the same turn.

        The items of a request start in one turn; their hooks go to the threads in a
        few chunks and all of them resume together, so they look the cache up in one
        turn again (a shared cache asks Redis once per request, in one MGET) and pay
        a few thread switches per request rather than one per item.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Hooked] = loop.create_future()
        self._hook_queue.append((verifier, request, future))
        if len(self._hook_queue) == 1:
            # Queued behind the first steps of the other items started this turn.
            flush = asyncio.ensure_future(self._flush_hooks())
            self._hook_flushes.add(flush)
            flush.add_done_callback(self._hook_flushes.discard)
        return future

    async def _flush_hooks(self) -> None:
        queued, self._hook_queue = self._hook_queue, []
        size = -(-len(queued) // HOOK_THREADS)
        chunks = [queued[i : i + size] for i in range(0, len(queued), size)]
        try:
            pool = self._hook_pool()
            shared: dict[tuple[str, bytes], _Shared] = {}
            done = await asyncio.gather(
                *(asyncio.wrap_future(pool.submit(self._run_hook_chunk, c, shared)) for c in chunks)
            )
        except BaseException as exc:
            # Never leave an item waiting for hooks that will not run.
            for _, _, future in queued:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for chunk, outcomes in zip(chunks, done, strict=True):
            for (_, _, future), outcome in zip(chunk, outcomes, strict=True):
                if future.done():  # the item was cancelled meanwhile
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _run_hook_chunk(
        self,
        chunk: Sequence[tuple[Verifier, RewardRequest, _Token]],
        shared: dict[tuple[str, bytes], _Shared],
    ) -> list[_Hooked | BaseException]:
        """One thread's part of a batch's hooks. `shared` is the whole batch's (all its
        chunks'): a gold named in every chunk is prepared once, not once a chunk (two
        threads meeting the same one at once both prepare it, and agree)."""
        outcomes: list[_Hooked | BaseException] = []
        for verifier, request, gone in chunk:
            if gone.done():  # cancelled: its request is gone; the result is dropped
                outcomes.append(RewardgateError("cancelled"))
                continue
            try:
                outcomes.append(self._run_hooks(verifier, request, shared))
            except Exception as exc:  # a bug in a hook fails its item, as on the loop
                outcomes.append(exc)
        return outcomes

    def _run_hooks(
        self,
        verifier: Verifier,
        request: RewardRequest,
        shared: dict[tuple[str, bytes], _Shared] | None = None,
    ) -> _Hooked:
        """Every gateway-side hook of one item, in a hook thread (see the module doc).

        The hooks read only the reference and the options, so the items of a chunk that
        share both (a GRPO group: one gold, many responses) run them once, in `shared`;
        only the cache key, which covers the response, is per item. A `RewardgateError`
        is returned, not raised, with the lowest reward known by then, so the item's
        failure result pays what it would have on the loop.
        """
        hooked = _Hooked()
        try:
            memo = None if shared is None or request.session is not None else _memo_key(request)
            common = shared.get((verifier.name, memo)) if shared is not None and memo else None
            if common is None:
                common = self._shared_hooks(verifier, request, hooked)
                if shared is not None and memo is not None:
                    shared[(verifier.name, memo)] = common
            hooked.lowest = common.lowest
            hooked.fingerprint = common.fingerprint
            if common.key_parts is not None and request.session is None:
                # A session's verdict reads live state: never cached nor shared with a twin.
                reference, options, fingerprints = common.key_parts
                hooked.key = cache_key(
                    verifier.name,
                    common.fingerprint,
                    request.response,
                    reference,
                    options,
                    fingerprints,
                )
            if common.error is not None:
                raise common.error
            hooked.budget_s = common.budget_s
            hooked.prepared = common.prepared
        except RewardgateError as exc:
            hooked.error = exc
        return hooked

    def _shared_hooks(self, verifier: Verifier, request: RewardRequest, hooked: _Hooked) -> _Shared:
        """The hooks' results that depend on the reference and options alone.

        An error raised by `prepare`, `lowest_reward_for` or `fingerprint_for` is raised
        (and not shared), `hooked.lowest` set as far as it got; one raised by `budget_s`
        comes back in `error`, after the key, as when each item ran its own hooks.
        """
        prepared = verifier.prepare(request.reference, request.options)
        hooked.lowest = lowest = verifier.lowest_reward_for(prepared.options)
        fingerprint = verifier.fingerprint_for(prepared.reference, prepared.options)
        key_parts = self._key_parts(verifier, request, prepared)
        try:
            budget = verifier.budget_s(prepared.reference, prepared.options, self.timeout_s)
        except RewardgateError as exc:
            return _Shared(prepared, lowest, fingerprint, key_parts, 0.0, exc)
        return _Shared(prepared, lowest, fingerprint, key_parts, min(budget, self.max_timeout_s))

    async def _lookup(self, key: str) -> RewardResult | None:
        """A cached verdict, or the verdict of an identical item already being judged.

        GRPO groups often repeat a response; the repeats wait for the first one
        instead of judging it again. Only `ok` verdicts are shared, as with the cache.
        """
        assert self.cache is not None
        try:
            # `aget` when the cache has one: the SQLite cache reads on its own thread,
            # a shared cache asks its second level (Redis) in one batch per request.
            aget = getattr(self.cache, "aget", None)
            hit = await aget(key) if aget is not None else self.cache.get(key)
        except Exception as exc:  # the cache is an optimisation
            self._cache_failed("get", exc)
            hit = None
        if hit is None and key in self._pending:
            hit = await asyncio.shield(self._pending[key])
        return hit

    async def _judge_and_share(
        self, key: str, verifier: Verifier, request: RewardRequest, hooked: _Hooked
    ) -> RewardResult:
        assert self.cache is not None
        shared: asyncio.Future[RewardResult | None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(key, shared)
        result: RewardResult | None = None
        try:
            result = await self._judge(verifier, request, hooked)
            if result.status == "ok":
                try:
                    # An on-disk cache writes off the loop (`aput`).
                    aput = getattr(self.cache, "aput", None)
                    if aput is not None:
                        await aput(key, result)
                    else:
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
        self, verifier: Verifier, request: RewardRequest, hooked: _Hooked
    ) -> RewardResult:
        verdict = await self._run(request, hooked.budget_s)
        return verifier.result(verdict, request.id, hooked.fingerprint)

    def _key_parts(
        self, verifier: Verifier, request: RewardRequest, prepared: Prepared
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]] | None:
        """What the cache key covers besides the verifier, fingerprint and response: the
        validated reference and options and the named files' fingerprints (the key is
        on the verdict fingerprint, so an upgraded verifier or tool never serves an old
        verdict); None when the item is not cached."""
        reference, options = prepared.reference, prepared.options
        if self.cache is None or request.session is not None:
            return None
        if not verifier.cacheable_for(reference, options):
            return None
        return (
            verifier.reference_key(reference),
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
        args = (request.verifier, request.response, request.reference, request.options)
        job = Job(_judge, args, budget_s)
        if retry or self.chunk_target_ms <= 0:
            try:
                pool.submit_chunks([[job]], urgent=retry)
            except PoolClosed:
                raise RewardgateError("engine is shutting down") from None
        else:
            self._outbox.append((request.verifier, job))
            if len(self._outbox) == 1:
                # After the other items resumed in this turn reached here too.
                asyncio.get_running_loop().call_soon(self._dispatch)
        judging = self._judging.setdefault(request.verifier, set())
        judging.add(job)
        try:
            await self._completions().waiter(job.future)
        except asyncio.CancelledError:
            job.cancel()
            raise
        finally:
            judging.discard(job)
        return self._verdict(job, request, budget_s)

    def _verdict(self, job: Job, request: RewardRequest, budget_s: float) -> Verdict:
        """A finished job's verdict, or the error its item fails with (`WorkerDied`
        is raised as it is: the caller decides on the retry)."""
        try:
            return _unpacked(job.future.result(timeout=0))
        except JobTimeout:
            self._observe_cost(request.verifier, budget_s)
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
            if job.elapsed is not None:  # the worker finished it, with any outcome
                self._observe_cost(request.verifier, job.elapsed)

    def _completions(self) -> Completions:
        """The running loop's batcher of worker outcomes (service/completions.py)."""
        loop = asyncio.get_running_loop()
        if self._done is None or self._done.loop is not loop:
            # A waiter keeps the batcher that made it, so replacing it loses none.
            self._done = Completions(loop)
        return self._done

    def _dispatch(self) -> None:
        """Send the jobs that reached the pool in this turn, in chunks per verifier."""
        outbox, self._outbox = self._outbox, []
        by_verifier: dict[str, list[Job]] = {}
        for name, job in outbox:
            by_verifier.setdefault(name, []).append(job)
        chunks: list[list[Job]] = []
        for name, jobs in by_verifier.items():
            chunks.extend(self._chunked(name, jobs))
        try:
            if self._pool is None:
                raise PoolClosed("pool closed")
            self._pool.submit_chunks(chunks)
        except PoolClosed as exc:
            for _, job in outbox:
                if job.future.set_running_or_notify_cancel():
                    job.future.set_exception(exc)

    def _chunk_size(self, verifier: str, jobs: int) -> int:
        """Items per chunk: about `chunk_target_ms` of the verifier's measured cost, at
        most `chunk_max_items`, and no more than an equal share per worker (so a
        request's items still spread over every worker); 1 until it is measured."""
        cost = self.cost_ms.get(verifier)
        if cost is None:
            return 1
        size = min(
            int(self.chunk_target_ms / max(cost, 1e-3)),
            self.chunk_max_items,
            -(-jobs // self.workers),
        )
        return max(1, size)

    def _segments(self, items: Sequence[Any]) -> list[tuple[int, int]]:
        """A batch's items as (start, end) ranges, each judged while the next is
        validated and hooked.

        The first is an eighth of the batch (at least a few items per worker): its jobs
        reach the workers while the gateway validates and hooks the rest, instead of the
        workers waiting for the whole batch (4 of a 51 ms batch of 256 SQL items,
        bench/sql_throughput.py). One segment when that cannot pay: a small batch, or
        items (as the first names its verifier) not yet measured or that cost a worker
        less than the gateway's own share of an item (`PIPELINE_MIN_COST_MS`), where a
        second round of hooks (and of cache look-ups: one Redis MGET a segment) would
        cost more than the wait it saves.
        """
        first = max(4 * self.workers, len(items) // 8)
        name = _loose_field(items[0], "verifier") if items else None
        cost = self.cost_ms.get(name) if name is not None else None
        if len(items) < 4 * first or cost is None or cost < PIPELINE_MIN_COST_MS:
            return [(0, len(items))]
        return [(0, first), (first, len(items))]

    def _chunked(self, verifier: str, jobs: list[Job]) -> list[list[Job]]:
        """`jobs` in chunks of `_chunk_size`; when that size is set by the cost target
        (the chunks take milliseconds), shrinking towards the end of the batch.

        Workers take chunks as they free up, so a batch ends when its last chunk does:
        equal chunks of 10 ms left one worker idle for half a chunk on average at the
        end of each batch. Each chunk here is at most half a worker's share of what
        is left (never under a third of the full size), so the last ones are short
        and the workers finish nearly together, for a few more messages.
        """
        size = self._chunk_size(verifier, len(jobs))
        cost = self.cost_ms.get(verifier)
        if cost is None or size < 4 or size < int(self.chunk_target_ms / max(cost, 1e-3)):
            return [jobs[i : i + size] for i in range(0, len(jobs), size)]
        chunks, start, least = [], 0, max(1, size // 3)
        while start < len(jobs):
            share = -(-(len(jobs) - start) // (2 * self.workers))
            step = min(size, max(least, share))
            chunks.append(jobs[start : start + step])
            start += step
        return chunks

    def _observe_cost(self, verifier: str, seconds: float) -> None:
        ms = seconds * 1000
        mean = self.cost_ms.get(verifier)
        self.cost_ms[verifier] = ms if mean is None else mean + COST_WEIGHT * (ms - mean)


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
