"""Read-only connections to SQLite, DuckDB and PostgreSQL, each running one query at a time
under a time limit enforced inside the engine and a cap on the rows it may return.

- SQLite: opened `mode=ro` through a URI, `query_only` on, and an authorizer that allows
  reads and functions only (no write, DDL, ATTACH, PRAGMA or denied function, whatever
  sqlglot made of the text); the progress handler aborts a query past its deadline.
- DuckDB: `read_only`, external access off (no files, no network, no extension loads),
  configuration locked so a query cannot turn it back on; only SELECT statements run; a
  timer thread interrupts a query past its deadline.
- PostgreSQL: a read-only transaction per query with `statement_timeout` set locally;
  the DSN names a role without write privileges (scripts/postgres.sh creates one), and a
  server-side cursor fetches no more than the cap.

Connections are kept per process and thread (workers are forked, and drivers' connections
are not shared between threads: the cache key holds both) so a run of requests on one
database does not reopen it each time.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from rewardgate.verifiers.errors import VerifierError
from rewardgate.verifiers.sql.safety import DENIED_FUNCTIONS

__all__ = ["Connection", "EngineName", "QueryFailed", "Rows", "Target", "connect"]

EngineName = Literal["sqlite", "duckdb", "postgres"]
Rows = list[tuple[Any, ...]]
FailureKind = Literal["error", "timeout", "refused", "too_many_rows"]

# Longest string or blob an SQLite query may build (printf/zeroblob bombs stop here), and
# the heap SQLite may use in a worker; a result is refused past MAX_RESULT_BYTES.
SQLITE_MAX_LENGTH = 4 * 2**20
SQLITE_HEAP_LIMIT = 2**30
MAX_RESULT_BYTES = 256 * 2**20
_SQLITE_PROGRESS_STEPS = 2_000
_FETCH = 64
_MAX_OPEN = 16


class QueryFailed(Exception):
    """The query did not produce rows; `kind` says how (a verdict on a prediction)."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Target:
    """A resolved database: which engine, where (a path or a DSN), what to call it."""

    engine: EngineName
    location: str
    label: str
    fingerprint: str


class Connection(Protocol):
    def run(self, sql: str, timeout_s: float, max_rows: int) -> Rows: ...

    def close(self) -> None: ...


def _hashable(value: Any) -> Any:
    """Rows are compared as tuples in sets: lists, dicts and buffers become hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in value.items())
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def _normalize(rows: list[Any]) -> Rows:
    out: Rows = []
    for row in rows:
        row = tuple(row)
        try:
            hash(row)
        except TypeError:
            row = tuple(_hashable(v) for v in row)
        out.append(row)
    return out


def _size(row: Sequence[Any]) -> int:
    """Rough bytes a row holds: text and blobs by length, anything else a word or two."""
    return sum(len(v) if isinstance(v, (str, bytes, bytearray)) else 16 for v in row)


def _collect(
    chunks: Iterable[Sequence[Sequence[Any]]], max_rows: int, deadline: float | None = None
) -> Rows:
    """Rows chunk by chunk, refusing more than `max_rows` or `MAX_RESULT_BYTES`.

    Past `deadline` between chunks, stop: that matters where the engine's own limit is
    per statement (PostgreSQL times each FETCH of a cursor separately).
    """
    rows: list[Any] = []
    size = 0
    for chunk in chunks:
        rows.extend(chunk)
        size += sum(_size(row) for row in chunk)
        if len(rows) > max_rows:
            raise QueryFailed("too_many_rows", f"more than {max_rows} rows")
        if size > MAX_RESULT_BYTES:
            raise QueryFailed("too_many_rows", f"result larger than {MAX_RESULT_BYTES} bytes")
        if deadline is not None and time.monotonic() > deadline:
            raise QueryFailed("timeout", "ran past its time limit while fetching")
    return _normalize(rows)


def _chunks(fetchmany: Callable[[int], list[Any]]) -> Iterator[list[Any]]:
    while chunk := fetchmany(_FETCH):
        yield chunk


class SqliteConnection:
    def __init__(self, path: str) -> None:
        import sqlite3

        uri = f"{Path(path).absolute().as_uri()}?mode=ro"
        try:
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            self._conn.execute("PRAGMA query_only = ON")
            self._conn.execute(f"PRAGMA hard_heap_limit = {SQLITE_HEAP_LIMIT}")
        except sqlite3.Error as exc:
            raise QueryFailed("error", f"cannot open {Path(path).name}: {exc}") from None
        if hasattr(self._conn, "setlimit"):
            self._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_MAX_LENGTH)
        self._deadline = 0.0
        self._conn.set_authorizer(_sqlite_authorizer)
        self._conn.set_progress_handler(self._past_deadline, _SQLITE_PROGRESS_STEPS)

    def _past_deadline(self) -> int:
        return int(time.monotonic() > self._deadline)

    def run(self, sql: str, timeout_s: float, max_rows: int) -> Rows:
        import sqlite3

        self._deadline = time.monotonic() + timeout_s
        try:
            return self._rows(sql, max_rows)
        except sqlite3.Warning as exc:  # "You can only execute one statement at a time."
            raise QueryFailed("refused", str(exc)) from None
        except sqlite3.Error as exc:
            if not str(exc).startswith(_UNDECODABLE):
                raise self._failed(exc, timeout_s) from None
        # Spider's evaluator decodes text with errors ignored, so undecodable bytes never
        # raise. Text is decoded in C (a Python text factory cost every value a call, a
        # few per cent of a Chinook item); only a result that fails is read again so.
        self._conn.text_factory = _lenient_text
        try:
            return self._rows(sql, max_rows)
        except sqlite3.Error as exc:
            raise self._failed(exc, timeout_s) from None
        finally:
            self._conn.text_factory = str

    def _rows(self, sql: str, max_rows: int) -> Rows:
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql)
            return _collect_sqlite(cursor, max_rows)
        finally:
            cursor.close()

    def _failed(self, exc: Exception, timeout_s: float) -> QueryFailed:
        message = str(exc)
        if time.monotonic() > self._deadline and "interrupted" in message:
            return QueryFailed("timeout", f"ran past {timeout_s:g} s")
        refused = "not authorized" in message or "one statement at a time" in message
        return QueryFailed("refused" if refused else "error", message)

    def close(self) -> None:
        self._conn.close()


_SIZED = (str, bytes)
# How the sqlite3 module's default text factory fails on bytes that are not UTF-8.
_UNDECODABLE = "Could not decode to UTF-8"


def _lenient_text(data: bytes) -> str:
    return data.decode(errors="ignore")


def _collect_sqlite(cursor: Iterable[tuple[Any, ...]], max_rows: int) -> Rows:
    """`_collect` for SQLite's rows, the same limits checked after every row.

    Row by row: one SQLite row may hold many megabytes. Its values are int, float,
    None, str (our text factory's) or bytes, and each row a tuple, hashable as it is, so
    `_normalize` has nothing to do; sized as `_size` does, inline (the generic path's
    generators were a tenth of a Chinook item's cost, bench/sql_throughput.py).
    """
    rows: Rows = []
    append = rows.append
    size = 0
    for row in cursor:
        append(row)
        for value in row:
            size += len(value) if value.__class__ in _SIZED else 16
        if len(rows) > max_rows:
            raise QueryFailed("too_many_rows", f"more than {max_rows} rows")
        if size > MAX_RESULT_BYTES:
            raise QueryFailed("too_many_rows", f"result larger than {MAX_RESULT_BYTES} bytes")
    return rows


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    import sqlite3

    if action in (
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_READ,
        getattr(sqlite3, "SQLITE_RECURSIVE", 33),
    ):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return (
            sqlite3.SQLITE_DENY if (arg2 or "").lower() in DENIED_FUNCTIONS else sqlite3.SQLITE_OK
        )
    return sqlite3.SQLITE_DENY


class DuckdbConnection:
    def __init__(self, path: str) -> None:
        import duckdb

        config: dict[str, str | bool | int | float | list[str]] = {
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "threads": 1,
            "memory_limit": "1GB",
            "lock_configuration": True,
        }
        try:
            self._conn = duckdb.connect(path, read_only=True, config=config)
        except duckdb.Error as exc:
            raise QueryFailed("error", f"cannot open {Path(path).name}: {exc}") from None

    def run(self, sql: str, timeout_s: float, max_rows: int) -> Rows:
        import duckdb

        try:
            statements = self._conn.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryFailed("error", str(exc)) from None
        if len(statements) != 1:
            raise QueryFailed("refused", f"{len(statements)} statements; only one is allowed")
        if statements[0].type != duckdb.StatementType.SELECT:
            raise QueryFailed("refused", f"not a read query: {statements[0].type.name}")
        timer = threading.Timer(timeout_s, self._conn.interrupt)
        timer.start()
        try:
            self._conn.execute(sql)
            return _collect(_chunks(self._conn.fetchmany), max_rows)
        except duckdb.InterruptException:
            raise QueryFailed("timeout", f"ran past {timeout_s:g} s") from None
        except duckdb.Error as exc:
            raise QueryFailed("error", str(exc).splitlines()[0]) from None
        finally:
            timer.cancel()

    def close(self) -> None:
        self._conn.close()


class PostgresConnection:
    def __init__(self, dsn: str, label: str) -> None:
        import psycopg

        self.label = label
        try:
            self._conn = psycopg.connect(dsn, connect_timeout=10, autocommit=False)
        except psycopg.Error as exc:
            raise VerifierError(f"cannot connect to PostgreSQL {label}: {exc}") from None
        self._conn.read_only = True

    def run(self, sql: str, timeout_s: float, max_rows: int) -> Rows:
        import psycopg

        conn = self._conn
        deadline = time.monotonic() + timeout_s
        try:
            with conn.cursor() as setup:
                setup.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
            with conn.cursor(name="rewardgate_query") as cursor:
                cursor.execute(sql)
                return _collect(_chunks(cursor.fetchmany), max_rows, deadline)
        except psycopg.errors.QueryCanceled:
            raise QueryFailed("timeout", f"ran past {timeout_s:g} s") from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise QueryFailed("refused", str(exc).splitlines()[0]) from None
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise QueryFailed("refused", str(exc).splitlines()[0]) from None
        except psycopg.Error as exc:
            if conn.broken or conn.closed:
                raise VerifierError(f"lost the PostgreSQL connection {self.label}: {exc}") from None
            message = str(exc).splitlines()[0]
            kind: FailureKind = "refused" if "multiple commands" in message else "error"
            raise QueryFailed(kind, message) from None
        finally:
            if not conn.closed:
                conn.rollback()

    def close(self) -> None:
        self._conn.close()


_open: OrderedDict[tuple[int, int, str, str], Connection] = OrderedDict()
_lock = threading.Lock()


def _new(target: Target) -> Connection:
    if target.engine == "sqlite":
        return SqliteConnection(target.location)
    if target.engine == "duckdb":
        return DuckdbConnection(target.location)
    return PostgresConnection(target.location, target.label)


def connect(target: Target) -> Connection:
    """This process's open connection to `target` (opened on first use, a few kept)."""
    key = (os.getpid(), threading.get_ident(), target.location, target.fingerprint)
    with _lock:
        conn = _open.get(key)
        if conn is not None:
            _open.move_to_end(key)
            return conn
    conn = _new(target)
    with _lock:
        _open[key] = conn
        while len(_open) > _MAX_OPEN:
            _, old = _open.popitem(last=False)
            old.close()
    return conn


def forget(target: Target) -> None:
    """Drop a connection that broke, so the next request opens a fresh one."""
    with _lock:
        conn = _open.pop(
            (os.getpid(), threading.get_ident(), target.location, target.fingerprint), None
        )
    if conn is not None:
        # Closing a broken connection may fail; it is gone either way.
        with contextlib.suppress(Exception):
            conn.close()
