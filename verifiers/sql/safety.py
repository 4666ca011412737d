"""Is a query one read-only statement? The first of three locks.

sqlglot parses the query in the engine's dialect: exactly one statement, a query
(SELECT, set operation, VALUES), with no write, DDL, ATTACH, PRAGMA, SET, COPY, SELECT
INTO or row lock anywhere inside, and no function that reads files, runs other SQL or
changes settings. The engines hold the other two locks (read-only connections, and
per-engine guards: SQLite's authorizer, DuckDB's statement types with external access
off, PostgreSQL's read-only transaction as a role without privileges), so a query
sqlglot cannot parse still runs: the engine then decides, exactly as its parser does.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["DENIED_FUNCTIONS", "Checked", "check_query", "tokenize"]

# Lower-case names; a query calling any of them is refused before it reaches an engine.
DENIED_FUNCTIONS = frozenset(
    {
        # SQLite: extensions and the shell's file functions.
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
        "zipfile",
        # DuckDB: files, other SQL, environment, extensions.
        "read_text",
        "read_blob",
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "sniff_csv",
        "iceberg_scan",
        "delta_scan",
        "query",
        "query_table",
        "getenv",
        "duckdb_secrets",
        "duckdb_extensions",
        # PostgreSQL: server files, large objects, other SQL, settings, sessions.
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "lo_import",
        "lo_export",
        "lo_get",
        "lo_open",
        "lo_from_bytea",
        "dblink",
        "dblink_exec",
        "set_config",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_notify",
        "pg_advisory_lock",
        "pg_advisory_xact_lock",
        "pg_logical_emit_message",
        "nextval",
        "setval",
        "query_to_xml",
        "query_to_xml_and_xmlschema",
        "query_to_xmlschema",
        "cursor_to_xml",
    }
)

# sqlglot node classes that never belong in a read query (looked up by name, since
# sqlglot adds node types over releases).
_DENIED_NODES = (
    "Insert",
    "Update",
    "Delete",
    "Merge",
    "Drop",
    "Create",
    "Alter",
    "TruncateTable",
    "Command",
    "Pragma",
    "Attach",
    "Detach",
    "Install",
    "Set",
    "Copy",
    "Into",
    "Lock",
    "LoadData",
    "Use",
    "Transaction",
    "Commit",
    "Rollback",
    "Grant",
    "Revoke",
)

DIALECTS = {"sqlite": "sqlite", "duckdb": "duckdb", "postgres": "postgres"}


@dataclass(frozen=True)
class Checked:
    """`refusal` says why the query may not run; `parsed` is False when sqlglot gave up."""

    parsed: bool
    refusal: str | None = None
    parse_error: str | None = None


@lru_cache(maxsize=1)
def _denied_nodes() -> tuple[type, ...]:
    from sqlglot import exp

    # sqlglot logs a warning for each statement it keeps as an opaque Command; we refuse those.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    return tuple(getattr(exp, name) for name in _DENIED_NODES if hasattr(exp, name))


# Verdicts of `_check_tokens` by query shape: the token stream without its comments
# (a GRPO group's samples often differ in nothing else). Refusals and passes only: a
# parse error's message quotes the query's own text.
_SHAPES: dict[tuple[str, tuple[tuple[object, str], ...]], Checked] = {}
_SHAPES_MAX = 8192


@lru_cache(maxsize=4)
def _dialect(engine: str) -> Any:
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise(DIALECTS[engine])


# One tokenizer per thread and dialect: sqlglot's `Dialect.tokenize` builds a new one
# per call, and building its core cost more than tokenizing a Chinook query. A
# tokenizer resets its state at each call, but is not safe to share between threads.
_tokenizers = threading.local()


def tokenize(sql: str, dialect: str) -> list[Any]:
    """sqlglot's tokens of `sql` in `dialect` (a sqlglot dialect name), as
    `Dialect.tokenize` gives them; raises what it raises."""
    found: dict[str, Any] | None = getattr(_tokenizers, "by_dialect", None)
    if found is None:
        found = _tokenizers.by_dialect = {}
    tokenizer = found.get(dialect)
    if tokenizer is None:
        from sqlglot.dialects.dialect import Dialect

        tokenizer = found[dialect] = Dialect.get_or_raise(dialect).tokenizer()
    tokens: list[Any] = tokenizer.tokenize(sql)
    return tokens


@lru_cache(maxsize=4096)
def check_query(sql: str, engine: str) -> Checked:
    """Whether `sql` may run on `engine`; cached by text, and by shape (comments aside).

    Tokenised once: the shape is looked up, and only a new shape is parsed, from the same
    tokens (what `sqlglot.parse` does in one call). Comments are not tokens in these
    dialects' token streams (optimizer hints would be: `/*+` is a token of its own), so
    two queries of one shape are one query to the parser and to the engine.
    """
    try:
        tokens = tokenize(sql, DIALECTS[engine])
    except RecursionError:
        return Checked(parsed=False, refusal="query nested too deeply to parse")
    except Exception as exc:
        # Imported here, not before the call: a function-level import costs every
        # query about a microsecond.
        from sqlglot.errors import SqlglotError

        if not isinstance(exc, SqlglotError):
            raise
        return Checked(parsed=False, parse_error=str(exc).splitlines()[0][:300])
    shape = (engine, tuple((token.token_type, token.text) for token in tokens))
    known = _SHAPES.get(shape)
    if known is not None:
        return known
    checked = _check_tokens(tokens, sql, _dialect(engine))
    if checked.parse_error is None:
        if len(_SHAPES) >= _SHAPES_MAX:
            _SHAPES.clear()  # a bound, not an LRU: refilled by the next groups
        _SHAPES[shape] = checked
    return checked


def _check_tokens(tokens: list[Any], sql: str, dialect: Any) -> Checked:
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    denied = _denied_nodes()
    try:
        parsed = dialect.parser().parse(tokens, sql)
        # A trailing `; -- comment` parses as an empty Semicolon statement: not a statement.
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    except SqlglotError as exc:
        return Checked(parsed=False, parse_error=str(exc).splitlines()[0][:300])
    except RecursionError:
        return Checked(parsed=False, refusal="query nested too deeply to parse")
    if not statements:
        return Checked(parsed=True, refusal="no statement")
    if len(statements) > 1:
        return Checked(parsed=True, refusal=f"{len(statements)} statements; only one is allowed")
    root = statements[0]
    if not isinstance(root, (exp.Query, exp.Values)):
        return Checked(parsed=True, refusal=f"not a read query: {root.key.upper()} statement")
    for node in root.walk():
        if isinstance(node, denied):
            return Checked(parsed=True, refusal=f"not allowed in a read query: {node.key.upper()}")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in DENIED_FUNCTIONS:
                return Checked(parsed=True, refusal=f"function not allowed: {name}")
    return Checked(parsed=True)
