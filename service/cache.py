"""The result cache: only `ok` verdicts, keyed by everything the verdict depends on.

In memory (LRU) by default; SQLite on disk when a path is configured, so a second
training epoch over the same data skips the work even after a restart.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import orjson

from rewardgate.verifiers.models import RewardResult

__all__ = ["MemoryCache", "ResultCache", "SqliteCache", "cache_key", "make_cache"]

# Fields that describe one delivery of a verdict, not the verdict itself.
_TRANSPORT_FIELDS = {"id", "elapsed_ms", "cached"}


def cache_key(
    verifier: str,
    version: str,
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
        [verifier, version, response, reference, options, fingerprints],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(payload).hexdigest()


def _encode(result: RewardResult) -> bytes:
    return orjson.dumps(result.model_dump(mode="json", exclude=_TRANSPORT_FIELDS))


def _decode(blob: bytes) -> RewardResult:
    return RewardResult.model_validate(orjson.loads(blob))


class ResultCache(Protocol):
    def get(self, key: str) -> RewardResult | None: ...

    def put(self, key: str, result: RewardResult) -> None: ...

    def close(self) -> None: ...


class MemoryCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> RewardResult | None:
        blob = self._data.get(key)
        if blob is None:
            return None
        self._data.move_to_end(key)
        return _decode(blob)

    def put(self, key: str, result: RewardResult) -> None:
        self._data[key] = _encode(result)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def close(self) -> None:
        self._data.clear()


class SqliteCache:
    """An on-disk cache; entries past `max_entries` are evicted oldest-used first."""

    def __init__(self, path: Path, max_entries: int) -> None:
        self.max_entries = max_entries
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS results ("
            " key TEXT PRIMARY KEY, result BLOB NOT NULL, used INTEGER NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS results_used ON results(used)")
        row = self._db.execute("SELECT COALESCE(MAX(used), 0), COUNT(*) FROM results").fetchone()
        self._clock, self._count = int(row[0]), int(row[1])

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def get(self, key: str) -> RewardResult | None:
        row = self._db.execute("SELECT result FROM results WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self._db.execute("UPDATE results SET used = ? WHERE key = ?", (self._tick(), key))
        return _decode(row[0])

    def put(self, key: str, result: RewardResult) -> None:
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
        self._db.close()


def make_cache(max_entries: int, path: Path | None) -> ResultCache | None:
    if max_entries == 0:
        return None
    if path is not None:
        return SqliteCache(path, max_entries)
    return MemoryCache(max_entries)
