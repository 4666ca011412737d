"""The result cache: failures never fail scoring, hits never write, entries are compact."""

from __future__ import annotations

import hashlib
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from rewardgate.service.cache import MemoryCache, SqliteCache, make_cache
from rewardgate.testing import start_engine
from rewardgate.verifiers import RewardResult
from tests.service.probes import PROBES
from tests.service.test_engine import echo


def verdict(i: int) -> RewardResult:
    """A typical math verdict: a few hundred bytes of JSON."""
    return RewardResult(
        id=f"item-{i}",
        verifier="math",
        version="3",
        reward=float(i % 2),
        status="ok",
        details={
            "extracted": f"\\frac{{{i}}}{{2}}",
            "parsed_response": f"{i}/2",
            "parsed_reference": f"{i}/2",
            "rule": "equivalent",
        },
        elapsed_ms=1.5,
    )


def key(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def cache_errors(engine, operation: str) -> float:
    return engine.metrics.cache_errors.labels(operation)._value.get()


def test_a_memory_entry_costs_hundreds_of_bytes_not_4_kb() -> None:
    """Defect 5 of issue 17: each entry kept orjson's 4 KB working buffer."""
    cache = MemoryCache(1_000_000)
    results = [verdict(i) for i in range(2000)]
    keys = [key(i) for i in range(2000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for k, r in zip(keys, results, strict=True):
            cache.put(k, r)
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / 2000
    finally:
        tracemalloc.stop()
    assert per_entry < 700, f"{per_entry:.0f} bytes per cached verdict"
    hit = cache.get(keys[7])
    assert hit is not None and hit.details == results[7].details


def test_memory_cache_is_bounded_by_bytes_as_well_as_entries() -> None:
    cache = MemoryCache(max_entries=1_000_000, max_bytes=50_000)
    for i in range(1000):
        cache.put(key(i), verdict(i))
    assert 0 < cache.bytes <= 50_000
    assert 50 < len(cache) < 1000
    assert cache.get(key(999)) is not None and cache.get(key(0)) is None
    by_count = MemoryCache(max_entries=10)
    for i in range(30):
        by_count.put(key(i), verdict(i))
    assert len(by_count) == 10 and by_count.get(key(29)) is not None


def test_make_cache_applies_the_byte_bound(tmp_path: Path) -> None:
    memory = make_cache(100, None, 1234)
    assert isinstance(memory, MemoryCache) and memory.max_bytes == 1234
    assert isinstance(make_cache(100, tmp_path / "c.sqlite", 1234), SqliteCache)
    assert make_cache(0, None, 1234) is None


def test_a_cache_hit_needs_no_write_and_a_locked_database_fails_no_item(tmp_path: Path) -> None:
    """Defect 3 of issue 17: a hit wrote an UPDATE, so a locked or full disk failed it."""
    path = tmp_path / "cache.sqlite"
    harness = start_engine(*PROBES, cache=SqliteCache(path, 100))
    try:
        [first] = harness.score([echo("42")])
        assert not first.cached
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            hit, new = harness.score([echo("42", id="h"), echo("7", id="n")])
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert (hit.status, hit.reward, hit.cached, hit.id) == ("ok", 1.0, True, "h")
        assert (new.status, new.reward, new.cached) == ("ok", 0.0, False)
        assert cache_errors(harness.engine, "put") == 1
        assert cache_errors(harness.engine, "get") == 0
    finally:
        harness.close()


def test_a_corrupt_cache_file_is_counted_and_scoring_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    harness = start_engine(*PROBES, cache=SqliteCache(path, 100))
    try:
        harness.score([echo("42")])
        for name in ("cache.sqlite", "cache.sqlite-wal", "cache.sqlite-shm"):
            target = tmp_path / name
            if target.exists():
                target.write_bytes(b"this is not a database" * 1000)
        results = harness.score([echo("42"), echo("41")])
        assert [(r.status, r.reward) for r in results] == [("ok", 1.0), ("ok", 0.0)]
        failures = cache_errors(harness.engine, "get") + cache_errors(harness.engine, "put")
        assert failures >= 1
    finally:
        harness.close()


def test_a_cache_file_that_cannot_be_opened_falls_back_to_memory(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"not sqlite at all" * 100)
    cache = make_cache(100, path)
    assert isinstance(cache, MemoryCache)


def test_sqlite_hits_keep_recency_for_eviction(tmp_path: Path) -> None:
    cache = SqliteCache(tmp_path / "c.sqlite", max_entries=10)
    for i in range(10):
        cache.put(key(i), verdict(i))
    assert cache.get(key(0)) is not None  # recently used: survives the eviction below
    for i in range(10, 13):
        cache.put(key(i), verdict(i))
    assert cache.get(key(0)) is not None
    assert cache.get(key(1)) is None


@pytest.mark.parametrize("operation", ["get", "put"])
def test_cache_errors_are_counted_in_metrics_by_operation(operation: str) -> None:
    class Broken(MemoryCache):
        def get(self, key: str) -> RewardResult | None:
            if operation == "get":
                raise sqlite3.OperationalError("database or disk is full")
            return super().get(key)

        def put(self, key: str, result: RewardResult) -> None:
            if operation == "put":
                raise sqlite3.OperationalError("database or disk is full")
            super().put(key, result)

    harness = start_engine(*PROBES, cache=Broken(100))
    try:
        results = harness.score([echo("42"), echo("42")])
        assert [(r.status, r.reward) for r in results] == [("ok", 1.0), ("ok", 1.0)]
        assert cache_errors(harness.engine, operation) >= 1
        assert b'rewardgate_cache_errors_total{operation="%s"}' % operation.encode() in (
            harness.engine.metrics.render()
        )
    finally:
        harness.close()
