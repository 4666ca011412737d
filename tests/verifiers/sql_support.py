"""Databases for the sql verifier's tests: Chinook as SQLite, as DuckDB, and on PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

from rewardgate.verifiers.base import VerifierEnv
from tests.conftest import DATA

CHINOOK = DATA / "sql" / "chinook.sqlite"
# The database and read-only role scripts/postgres.sh creates (`make test` runs it).
PG_DSN = os.environ.get(
    "REWARDGATE_TEST_PG_DSN",
    "postgresql://rewardgate_ro:rewardgate_ro@127.0.0.1:5432/rewardgate_chinook",
)


def sqlite_to_duckdb(source: Path, target: Path) -> None:
    """Copy every table of a SQLite file into a new DuckDB file, through Arrow.

    DuckDB's own sqlite extension downloads at run time, which this machine cannot do.
    """
    import duckdb
    import pyarrow as pa

    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    con = duckdb.connect(str(target))
    try:
        tables = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = src.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
            arrow = pa.table(columns)  # noqa: F841 - DuckDB reads the local variable by name
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM arrow')
    finally:
        con.close()
        src.close()


def make_db_dir(root: Path) -> Path:
    """A folder holding chinook.sqlite and chinook.duckdb, as a server's sql_db_dir."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(CHINOOK, root / "chinook.sqlite")
    sqlite_to_duckdb(CHINOOK, root / "chinook.duckdb")
    return root


def env_for(db_dir: Path, asset_dir: Path | None = None, pg: bool = False) -> VerifierEnv:
    config: dict[str, object] = {"sql_db_dir": db_dir, "sql_postgres": {}}
    if pg:
        config["sql_postgres"] = {"chinook": PG_DSN}
    return VerifierEnv(asset_dir=asset_dir, config=config)


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` with its SHA-256: equal before and after means untouched."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def postgres_reachable() -> str | None:
    """None when the test database answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1 FROM track LIMIT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None
