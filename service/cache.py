"""The result cache: only `ok` verdicts, keyed by everything the verdict depends on.

In memory (LRU, bounded by entries and by bytes) by default; SQLite on disk when a
path is configured, so a second training epoch over the same data skips the work even
after a restart.

The cache is an optimisation, so nothing here may fail scoring: the engine treats any
exception from `get` or `put` as a miss (and counts it), and a hit never needs a write
(SQLite records recency in memory and writes it with the next `put`), so a full disk
or a database locked by another process still serves hits. Entries are compact: an
encoded verdict is copied out of the 4 KB buffer its encoder allocated, and keys are
kept as 32 raw bytes rather than 64 hex characters.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import sys
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from rewardgate.verifiers.models import RewardResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from rewardgate.service.redis_cache import RedisOptions

__all__ = ["MemoryCache", "ResultCache", "SqliteCache", "cache_key", "make_cache"]

log = logging.getLogger("rewardgate.cache")

# What an in-memory entry costs beyond its key and value objects: the ordered dict's
# hash slot and linked-list node. Measured, not exact; it only has to bound memory.
_ENTRY_OVERHEAD = 120

# Fields that describe one delivery of a verdict, not the verdict itself.
_TRANSPORT_FIELDS = {"id", "elapsed_ms", "cached"}


def cache_key(
    verifier: str,
    fingerprint: str,
    response: str,
    reference: dict[str, Any],
    options: dict[str, Any],
    fingerprints: list[str],
) -> str:
    """SHA-256 over a canonical encoding of everything a verdict depends on.

    The reference and options are the verifier's *validated* models dumped to JSON,
    so equivalent spellings of a request share a key. `timeout_s` is left out: an
    `ok` verdict does not depend on how long it was allowed to take.
    """
    options = {k: v for k, v in options.items() if k != "timeout_s"}
    payload = orjson.dumps(
        [verifier, fingerprint, response, reference, options, fingerprints],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(payload).hexdigest()


def _encode(result: RewardResult) -> bytes:
    """The verdict as compact JSON, in a bytes object of its own size.

    orjson returns its working buffer (at least 4 KB) trimmed only in name: kept as is,
    each cached verdict of a few hundred bytes held 4 KB. The copy is exact-size.
    """
    return bytes(
        memoryview(orjson.dumps(result.model_dump(mode="json", exclude=_TRANSPORT_FIELDS)))
    )


def _decode(blob: bytes) -> RewardResult:
    return RewardResult.model_validate(orjson.loads(blob))


class ResultCache(Protocol):
    def get(self, key: str) -> RewardResult | None: ...

    def put(self, key: str, result: RewardResult) -> None: ...

    def close(self) -> None: ...


def _entry_bytes(key: bytes, blob: bytes) -> int:
    return sys.getsizeof(key) + sys.getsizeof(blob) + _ENTRY_OVERHEAD


def _raw_key(key: str) -> bytes:
    """A hex SHA-256 key as its 32 bytes (any other key as UTF-8)."""
    try:
        return bytes.fromhex(key) if len(key) == 64 else key.encode()
    except ValueError:
        return key.encode()


class MemoryCache:
    """LRU over at most `max_entries` entries and about `max_bytes` bytes (0: no byte bound)."""

    def __init__(self, max_entries: int, max_bytes: int = 0) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict[bytes, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> RewardResult | None:
        raw = _raw_key(key)
        blob = self._data.get(raw)
        if blob is None:
            return None
        self._data.move_to_end(raw)
        return _decode(blob)

    def put(self, key: str, result: RewardResult) -> None:
        raw, blob = _raw_key(key), _encode(result)
        old = self._data.pop(raw, None)
        if old is not None:
            self.bytes -= _entry_bytes(raw, old)
        self._data[raw] = blob
        self.bytes += _entry_bytes(raw, blob)
        while self._data and (
            len(self._data) > self.max_entries or (self.max_bytes and self.bytes > self.max_bytes)
        ):
            evicted, evicted_blob = self._data.popitem(last=False)
            self.bytes -= _entry_bytes(evicted, evicted_blob)

    def close(self) -> None:
        self._data.clear()
        self.bytes = 0


class SqliteCache:
    """An on-disk cache; entries past `max_entries` are evicted oldest-used first.

    Recency of hits is kept in memory and written with the next `put`, so a hit
    reads only. The busy timeout is short: a database another process holds locked
    makes a `put` fail fast (counted, scoring goes on) rather than holding the item
    for SQLite's default 5 s. The engine uses `aget`/`aput`, which run on one thread
    of this cache's own, so disk I/O never runs on the event loop and the connection
    and the recency table are only ever used by one thread at a time.
    """

    # Touches of hits held before the next put writes them; older ones are dropped
    # (recency is a hint for eviction, not data).
    _MAX_TOUCHED = 4096

    def __init__(self, path: Path, max_entries: int, busy_timeout_s: float = 0.05) -> None:
        self.max_entries = max_entries
        self._touched: dict[str, int] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS results ("
            " key TEXT PRIMARY KEY, result BLOB NOT NULL, used INTEGER NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS results_used ON results(used)")
        row = self._db.execute("SELECT COALESCE(MAX(used), 0), COUNT(*) FROM results").fetchone()
        self._clock, self._count = int(row[0]), int(row[1])
        self._io: ThreadPoolExecutor | None = None

    def _io_thread(self) -> ThreadPoolExecutor:
        if self._io is None:
            self._io = ThreadPoolExecutor(1, thread_name_prefix="rewardgate-cache")
        return self._io

    async def aget(self, key: str) -> RewardResult | None:
        """`get` on the cache's I/O thread."""
        return await asyncio.wrap_future(self._io_thread().submit(self.get, key))

    async def aput(self, key: str, result: RewardResult) -> None:
        """`put` on the cache's I/O thread."""
        await asyncio.wrap_future(self._io_thread().submit(self.put, key, result))

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def get(self, key: str) -> RewardResult | None:
        row = self._db.execute("SELECT result FROM results WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        if len(self._touched) < self._MAX_TOUCHED or key in self._touched:
            self._touched[key] = self._tick()
        return _decode(row[0])

    def put(self, key: str, result: RewardResult) -> None:
        touched, self._touched = self._touched, {}
        if touched:
            self._db.executemany(
                "UPDATE results SET used = ? WHERE key = ?", [(t, k) for k, t in touched.items()]
            )
        cur = self._db.execute(
            "INSERT OR REPLACE INTO results (key, result, used) VALUES (?, ?, ?)",
            (key, _encode(result), self._tick()),
        )
        self._count += cur.rowcount
        if self._count > self.max_entries * 1.1:
            self._db.execute(
                "DELETE FROM results WHERE key IN (SELECT key FROM results ORDER BY used LIMIT ?)",
                (self._count - self.max_entries,),
            )
            self._count = self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        if self._io is not None:
            self._io.shutdown(wait=True)  # a put in flight ends within the busy timeout
            self._io = None
        self._db.close()


def make_cache(
    max_entries: int,
    path: Path | None,
    max_bytes: int = 0,
    redis: RedisOptions | None = None,
    on_redis_error: Callable[[str], None] | None = None,
) -> ResultCache | None:
    """The configured cache. A SQLite file that cannot be opened (a full disk, a
    corrupt or foreign file) must not keep the service from starting: it is logged
    and the cache is kept in memory instead. With `redis`, that cache is the first
    level of a `SharedCache` (see `redis_cache.py`)."""
    if max_entries == 0:
        return None
    local: ResultCache | None = None
    if path is not None:
        try:
            local = SqliteCache(path, max_entries)
        except (sqlite3.Error, OSError) as exc:
            log.error("result cache %s cannot be used (%r); caching in memory instead", path, exc)
    if local is None:
        local = MemoryCache(max_entries, max_bytes)
    if redis is None:
        return local
    from rewardgate.service.redis_cache import SharedCache

    return SharedCache(local, redis, on_redis_error)
