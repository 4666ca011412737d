"""`LocalClient` / `AsyncLocalClient`: the clients' verbs on an in-process engine.

No server: the engine (worker processes, deadlines, cache) runs in this process, as
notebooks and `rewardgate score` want. It is imported and started on first use, so
`import rewardgate.clients` stays light, and it needs the `[server]` extra. The
engine's pool is stopped by `close()` or on leaving the `with` block.

`LocalClient` runs `AsyncLocalClient` on an event loop of its own thread, so it works
the same where a loop is already running (a Jupyter cell) and from many threads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from rewardgate.clients.base import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    AssetSource,
    AsyncClosing,
    Closing,
    Item,
    Payload,
    chunk_ranges,
    make_item,
    path_of,
    score_parts,
    to_payload,
)
from rewardgate.clients.models import Limits, Scored, VerifierInfo
from rewardgate.clients.retry import Retry, Tries
from rewardgate.verifiers.errors import Overloaded
from rewardgate.verifiers.models import RewardResult

if TYPE_CHECKING:
    # Names for the type checker only, never imported at run time (the layering rule
    # is about what a trainer's `import` loads): the engine is built lazily in methods.
    from rewardgate.service.engine import Engine
    from rewardgate.service.settings import Settings
    from rewardgate.verifiers.registry import Registry

__all__ = ["AsyncLocalClient", "LocalClient"]

T = TypeVar("T")


class AsyncLocalClient(AsyncClosing):
    """The asyncio verbs of `AsyncRewardClient`, scored by an engine in this process.

    `settings` default to `Settings()` (environment and config file included);
    `registry` to every installed verifier. Overload (more items in flight than
    `max_inflight`) is waited out as a server's 429 would be.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        registry: Registry | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry: Retry | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self.batch_size = batch_size
        self.concurrency = concurrency
        # In-process overload is this process's own other calls: it always clears.
        self.retry = retry or Retry(attempts=1000, max_backoff_s=1.0, retry_for=None)
        self._engine: Engine | None = None
        self._starting = threading.Lock()

    # -- lazily made parts -----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from rewardgate.service.settings import Settings

            self._settings = Settings()
        return self._settings

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from rewardgate.contract.registry import Registry
            from rewardgate.service.verifier_settings import check_registry, verifier_env

            registry = Registry.from_entry_points(env=verifier_env(self.settings))
            check_registry(self.settings, registry)
            for line in self.settings.deprecation_warnings():
                logging.getLogger("rewardgate.local").warning(line)
            self._registry = registry
        return self._registry

    def _start(self) -> Engine:
        with self._starting:
            if self._engine is None:
                from rewardgate.service.asset_store_s3 import asset_store
                from rewardgate.service.engine import Engine

                asset_store(self.settings)  # the workers forked below read through it
                engine = Engine.from_settings(self.settings, self.registry)
                engine.start()
                self._engine = engine
        return self._engine

    async def engine(self) -> Engine:
        """The started engine (its workers fork on the first call, off the event loop)."""
        return self._engine or await asyncio.to_thread(self._start)

    # -- the public verbs ------------------------------------------------------------------

    async def score(
        self,
        verifier: str,
        response: str,
        reference: Any = None,
        *,
        id: str | None = None,
        fallback_reward: float | None = None,
        **options: Any,
    ) -> RewardResult:
        item = make_item(verifier, response, reference, id, fallback_reward, options)
        [result] = await self._score_part([item])
        return result

    async def score_batch(
        self,
        items: Sequence[Item],
        *,
        batch_size: int | None = None,
        concurrency: int | None = None,
    ) -> list[RewardResult]:
        payloads = [to_payload(item) for item in items]
        if not payloads:
            return []
        return await score_parts(
            self._ranges(len(payloads), batch_size),
            lambda part: self._score_part([payloads[i] for i in part]),
            concurrency or self.concurrency,
        )

    async def stream(
        self, items: Sequence[Item], *, batch_size: int | None = None
    ) -> AsyncIterator[Scored]:
        payloads = [to_payload(item) for item in items]
        engine = await self.engine()
        size = batch_size or self.settings.max_items_per_request
        for part in self._ranges(len(payloads), size):
            tries = Tries(self.retry)
            while True:
                try:
                    results = engine.stream([payloads[i] for i in part])
                    break
                except Overloaded as exc:
                    await asyncio.sleep(tries.failed(exc))
            try:
                async for index, result in results:
                    yield Scored(part[index], result)
            finally:
                await _aclose(results)

    async def verifiers(self) -> list[VerifierInfo]:
        return [
            VerifierInfo(
                name=cls.name,
                version=cls.version,
                description=cls.description,
                reference_schema=cls.Reference.model_json_schema(),
                options_schema=cls.Options.model_json_schema(),
                settings_schema=cls.Settings.model_json_schema(),
            )
            for cls in self.registry.classes()
        ]

    async def limits(self) -> Limits:
        settings = self.settings
        return Limits(
            max_items_per_request=settings.max_items_per_request,
            max_body_bytes=settings.max_body_bytes,
            max_asset_bytes=settings.max_asset_bytes,
        )

    async def upload_asset(self, source: AssetSource) -> str:
        """Copy bytes or a file into the configured asset store; answers its SHA-256."""
        return await asyncio.to_thread(self._store_asset, source)

    # -- lifecycle -------------------------------------------------------------------------

    async def aclose(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.to_thread(engine.close)

    close = aclose

    # -- helpers ---------------------------------------------------------------------------

    def _ranges(self, n: int, batch_size: int | None) -> list[range]:
        # A chunk never exceeds max_items_per_request, which never exceeds max_inflight,
        # so every chunk can be admitted once the engine has room.
        size = min(batch_size or self.batch_size, self.settings.max_items_per_request)
        return chunk_ranges(n, size)

    async def _score_part(self, payloads: list[Payload]) -> list[RewardResult]:
        engine = await self.engine()
        tries = Tries(self.retry)
        while True:
            try:
                return await engine.score(payloads)
            except Overloaded as exc:
                await asyncio.sleep(tries.failed(exc))

    def _store_asset(self, source: AssetSource) -> str:
        from rewardgate.clients.base import file_chunks
        from rewardgate.service.asset_store_s3 import asset_store

        store = asset_store(self.settings)
        path = path_of(source)
        chunks = file_chunks(path) if path is not None else [bytes(source)]
        with store.writer() as writer:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()


class LocalClient(Closing):
    """The blocking verbs of `RewardClient`, scored by an engine in this process.

    with LocalClient() as client:                  # installed verifiers, Settings()
        results = client.score_batch(items)
    """

    def __init__(
        self,
        settings: Settings | None = None,
        registry: Registry | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry: Retry | None = None,
    ) -> None:
        self._async = AsyncLocalClient(
            settings, registry, batch_size=batch_size, concurrency=concurrency, retry=retry
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._async.settings

    @property
    def registry(self) -> Registry:
        return self._async.registry

    def score(
        self,
        verifier: str,
        response: str,
        reference: Any = None,
        *,
        id: str | None = None,
        fallback_reward: float | None = None,
        **options: Any,
    ) -> RewardResult:
        return self._run(
            self._async.score(
                verifier, response, reference, id=id, fallback_reward=fallback_reward, **options
            )
        )

    def score_batch(
        self,
        items: Sequence[Item],
        *,
        batch_size: int | None = None,
        concurrency: int | None = None,
    ) -> list[RewardResult]:
        return self._run(
            self._async.score_batch(items, batch_size=batch_size, concurrency=concurrency)
        )

    def stream(self, items: Sequence[Item], *, batch_size: int | None = None) -> Iterator[Scored]:
        results = self._async.stream(items, batch_size=batch_size)
        try:
            while True:
                try:
                    yield self._run(_anext(results))
                except StopAsyncIteration:
                    return
        finally:
            if self._loop is not None:
                self._run(_aclose(results))

    def verifiers(self) -> list[VerifierInfo]:
        return self._run(self._async.verifiers())

    def limits(self) -> Limits:
        return self._run(self._async.limits())

    def upload_asset(self, source: AssetSource) -> str:
        return self._async._store_asset(source)

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._async.aclose(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="rewardgate-local", daemon=True
                )
                self._thread.start()
            loop = self._loop
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt in a notebook: stop the work too
            raise


async def _anext(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    """Close an async generator early, so the work behind it is cancelled."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
