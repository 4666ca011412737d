"""The result cache shared by replicas: the in-memory LRU first, Redis second.

With one cache per replica, a second pass over the same data behind a load balancer
hits only for the items that land on the replica that judged them (about a quarter
with two replicas, measured). Redis makes every replica's verdicts everyone's.

Look-ups are batched: every item of a request asks in the same turn of the event loop
(the engine starts them all at once), so their keys go out in one `MGET`; writes are
gathered the same way into one pipeline of `SET ... EX ttl`. Nothing here blocks the
event loop or fails an item: a Redis that is down, slow, or answers nonsense makes the
item a miss, the failure is counted (`rewardgate_shared_cache_errors`) and logged once
per outage, and Redis is left alone for `retry_s` so that an outage costs each request
at most one timeout rather than one per item. Keys are the verdict's cache key (which
hashes the verifier's fingerprint, so an upgraded verifier never reads an old verdict)
under a configurable prefix.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardgate.service.cache import ResultCache, _decode, _encode
from rewardgate.verifiers.models import RewardResult

if TYPE_CHECKING:
    from rewardgate.service.settings import Settings

__all__ = ["RedisOptions", "SharedCache", "redis_options"]

log = logging.getLogger("rewardgate.cache")

# Keys per MGET (and SETs per pipeline): a 1024-item request is one round trip.
_CHUNK = 1024


@dataclass(frozen=True)
class RedisOptions:
    """Where the shared level lives and how to reach it (see the `redis_*` settings)."""

    url: str
    ttl_s: int = 7 * 24 * 3600
    timeout_s: float = 0.5
    retry_s: float = 5.0
    prefix: str = "rewardgate:verdict:"
    username: str | None = None
    password: str | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    def client(self) -> Any:
        """A redis.asyncio client; it connects on first use, so a Redis that is down
        at start only makes the first requests misses."""
        import redis.asyncio as aioredis

        kwargs: dict[str, Any] = {
            "socket_timeout": self.timeout_s,
            "socket_connect_timeout": self.timeout_s,
            "retry_on_timeout": False,
            "health_check_interval": 30,
        }
        if self.username is not None:
            kwargs["username"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password
        if self.url.startswith("rediss://"):
            kwargs["ssl_cert_reqs"] = ssl.CERT_REQUIRED
            if self.tls_ca_file is not None:
                kwargs["ssl_ca_certs"] = str(self.tls_ca_file)
            if self.tls_cert_file is not None:
                kwargs["ssl_certfile"] = str(self.tls_cert_file)
            if self.tls_key_file is not None:
                kwargs["ssl_keyfile"] = str(self.tls_key_file)
        return aioredis.Redis.from_url(self.url, **kwargs)


def redis_options(settings: Settings) -> RedisOptions | None:
    """The shared level the settings ask for, or None (no `redis_url`)."""
    if not settings.redis_url:
        return None
    return RedisOptions(
        url=settings.redis_url,
        ttl_s=settings.redis_ttl_s,
        timeout_s=settings.redis_timeout_s,
        retry_s=settings.redis_retry_s,
        prefix=settings.redis_prefix,
        username=settings.redis_username or None,
        password=settings.redis_password or None,
        tls_ca_file=settings.redis_tls_ca_file,
        tls_cert_file=settings.redis_tls_cert_file,
        tls_key_file=settings.redis_tls_key_file,
    )


class SharedCache:
    """A `ResultCache` whose `get` is the first level only and whose `aget` also asks
    Redis. `put` writes the first level at once and Redis soon after, in a batch."""

    def __init__(
        self,
        local: ResultCache,
        options: RedisOptions,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.local = local
        self.options = options
        self._on_error = on_error
        self._redis: Any = options.client()
        self._down_until = 0.0
        self._outage_logged = False
        self._wanted: dict[str, list[asyncio.Future[RewardResult | None]]] = {}
        self._writes: dict[str, bytes] = {}
        self._fetching: asyncio.Task[None] | None = None
        self._writing: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self.hits = 0

    # -- the ResultCache protocol ------------------------------------------------------

    def get(self, key: str) -> RewardResult | None:
        return self.local.get(key)

    def put(self, key: str, result: RewardResult) -> None:
        self.local.put(key, result)
        if not self.available:
            return
        self._writes[key] = _encode(result)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._flush_writes())

    def close(self) -> None:
        self.local.close()
        for task in (self._fetching, self._writing):
            if task is not None:
                task.cancel()
        redis, self._redis = self._redis, None
        if redis is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop left: the sockets close with the process
                return
            self._closing = loop.create_task(redis.aclose())

    async def drain(self) -> None:
        """Wait until the writes handed to Redis so far are sent (or given up)."""
        while self._writing is not None and not self._writing.done():
            await asyncio.shield(self._writing)

    # -- the shared level --------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Redis is configured and not in its back-off after a failure."""
        return self._redis is not None and time.monotonic() >= self._down_until

    async def aget(self, key: str) -> RewardResult | None:
        """The first level, else Redis (batched with the other keys asked this turn)."""
        hit = self.local.get(key)
        if hit is not None or not self.available:
            return hit
        future: asyncio.Future[RewardResult | None] = asyncio.get_running_loop().create_future()
        self._wanted.setdefault(key, []).append(future)
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.ensure_future(self._fetch())
        return await future

    async def _fetch(self) -> None:
        # Runs after every item started this turn has asked: one MGET for all of them.
        while self._wanted:
            wanted, self._wanted = self._wanted, {}
            keys = list(wanted)
            found: dict[str, RewardResult] = {}
            try:
                for start in range(0, len(keys), _CHUNK):
                    chunk = keys[start : start + _CHUNK]
                    blobs = await self._redis.mget([self.options.prefix + k for k in chunk])
                    for key, blob in zip(chunk, blobs, strict=True):
                        hit = None if blob is None else self._decoded(key, blob)
                        if hit is not None:
                            found[key] = hit
                self._recovered()
            except Exception as exc:  # the cache is an optimisation
                self._failed("get", exc)
            except BaseException:
                for futures in wanted.values():
                    for future in futures:
                        future.cancel()
                raise
            for key, futures in wanted.items():
                hit = found.get(key)
                if hit is not None:
                    self.hits += 1
                    self.local.put(key, hit)
                for future in futures:
                    if not future.done():
                        future.set_result(hit)

    def _decoded(self, key: str, blob: bytes) -> RewardResult | None:
        try:
            return _decode(blob)
        except Exception as exc:
            # Written by something else or by an incompatible version: a miss, and
            # the next `put` of this key overwrites it.
            self._count("decode")
            log.warning("shared cache entry %s unreadable, ignored: %r", key[:16], exc)
            return None

    async def _flush_writes(self) -> None:
        await asyncio.sleep(0)  # gather the puts of items finishing together
        while self._writes and self.available:
            writes, self._writes = self._writes, {}
            items = list(writes.items())
            try:
                for start in range(0, len(items), _CHUNK):
                    pipe = self._redis.pipeline(transaction=False)
                    for key, blob in items[start : start + _CHUNK]:
                        pipe.set(self.options.prefix + key, blob, ex=self.options.ttl_s)
                    await pipe.execute()
                self._recovered()
            except Exception as exc:  # the cache is an optimisation
                self._failed("put", exc)
        self._writes.clear()

    def _failed(self, operation: str, exc: BaseException) -> None:
        self._count(operation)
        self._down_until = time.monotonic() + self.options.retry_s
        if not self._outage_logged:
            self._outage_logged = True
            log.warning(
                "shared cache (Redis) %s failed, scoring without it for %g s at a time: %r",
                operation,
                self.options.retry_s,
                exc,
            )

    def _recovered(self) -> None:
        if self._outage_logged:
            self._outage_logged = False
            log.warning("shared cache (Redis) is back")

    def _count(self, operation: str) -> None:
        if self._on_error is not None:
            self._on_error(operation)
