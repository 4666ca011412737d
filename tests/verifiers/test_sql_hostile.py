"""Hostile predictions score 0 as verdicts, leave every database byte-identical, and the
service stays healthy. The same table runs on SQLite and DuckDB (PostgreSQL: test_sql_postgres).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rewardgate.verifiers.models import RewardRequest
from rewardgate.verifiers.sql import SqlVerifier
from tests.verifiers.sql_support import env_for, make_db_dir, tree_digest

GOLD = "SELECT Name FROM Genre ORDER BY GenreId"
OUTSIDE = "/tmp/rewardgate-sql-escape"

# (id, query, the rule it must get)
HOSTILE = [
    ("drop-table", "DROP TABLE Track", "unsafe"),
    ("delete", "DELETE FROM Invoice", "unsafe"),
    ("update", "UPDATE Track SET Name = 'x'", "unsafe"),
    ("insert", "INSERT INTO Genre (GenreId, Name) VALUES (99, 'x')", "unsafe"),
    ("create-table", "CREATE TABLE evil AS SELECT * FROM Track", "unsafe"),
    ("cte-delete", "WITH x AS (SELECT 1) DELETE FROM Track", "unsafe"),
    ("multi-statement", "SELECT Name FROM Genre; DROP TABLE Track", "unsafe"),
    ("multi-statement-commit", "SELECT 1; COMMIT; DELETE FROM Track", "unsafe"),
    ("attach", f"ATTACH DATABASE '{OUTSIDE}.db' AS evil", "unsafe"),
    ("detach", "DETACH main", "unsafe"),
    ("pragma", "PRAGMA writable_schema = 1", "unsafe"),
    ("vacuum-into", f"VACUUM INTO '{OUTSIDE}.db'", "unsafe"),
    ("load-extension", "SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')", "unsafe"),
    ("read-file", "SELECT * FROM read_text('/etc/passwd')", "unsafe"),
    ("copy-out", f"COPY Track TO '{OUTSIDE}.csv'", "unsafe"),
    ("set-config", "SET enable_external_access = true", "unsafe"),
    ("install", "INSTALL httpfs", "unsafe"),
    ("begin", "BEGIN", "unsafe"),
    (
        "runaway-recursive-cte",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c",
        "timeout",
    ),
    ("huge-cross-join-count", "SELECT COUNT(*) FROM Track a, Track b, Track c", "timeout"),
    ("huge-cross-join-rows", "SELECT * FROM Track a, Track b", "too_many_rows"),
    ("blob-bomb", "SELECT zeroblob(2000000000)", None),
    ("blob-fan-out", "SELECT zeroblob(3000000), zeroblob(3000000) FROM Track", None),
    ("text-fan-out", "SELECT printf('%.*c', 3000000, 'x') FROM Track", None),
]


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_db_dir(tmp_path_factory.mktemp("sqldb"))


@pytest.mark.parametrize("db", ["chinook.sqlite", "chinook.duckdb"], ids=["sqlite", "duckdb"])
@pytest.mark.parametrize(("query", "rule"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_query_is_a_zero_verdict_and_changes_nothing(
    db_dir: Path, db: str, query: str, rule: str | None
) -> None:
    before = tree_digest(db_dir)
    verifier = SqlVerifier(env_for(db_dir))
    result = verifier.verify(
        RewardRequest(
            verifier="sql",
            response=f"```sql\n{query}\n```",
            reference={"gold_sql": GOLD, "db": db},
            options={"query_timeout_s": 0.5, "max_rows": 10_000},
        )
    )
    assert result.status == "ok"
    assert result.reward == 0.0
    assert result.details["rule"] != "match"
    if rule is not None:
        assert result.details["rule"] == rule, result.details
    assert tree_digest(db_dir) == before
    assert not list(Path("/tmp").glob("rewardgate-sql-escape*"))
    # The connection is still good for the next request.
    good = verifier.verify(
        RewardRequest(verifier="sql", response=GOLD, reference={"gold_sql": GOLD, "db": db})
    )
    assert (good.status, good.reward) == ("ok", 1.0)


def test_service_stays_healthy_after_a_hostile_batch(
    make_client: Callable[..., object], tmp_path: Path
) -> None:
    db_dir = make_db_dir(tmp_path / "dbs")
    before = tree_digest(db_dir)
    client = make_client(installed=True, sql_db_dir=db_dir, workers=2)
    items = [
        {
            "verifier": "sql",
            "response": query,
            "reference": {"gold_sql": GOLD, "db": db},
            "options": {"query_timeout_s": 0.5, "max_rows": 10_000},
        }
        for db in ("chinook.sqlite", "chinook.duckdb")
        for _, query, _ in HOSTILE
    ]
    response = client.post("/v1/rewards", json={"items": items})  # type: ignore[attr-defined]
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["status"], r["reward"]) for r in results] == [("ok", 0.0)] * len(items)
    assert client.get("/healthz").status_code == 200  # type: ignore[attr-defined]
    assert client.get("/readyz").status_code == 200  # type: ignore[attr-defined]
    after = client.post(  # type: ignore[attr-defined]
        "/v1/rewards",
        json={
            "items": [
                {
                    "verifier": "sql",
                    "response": GOLD,
                    "reference": {"gold_sql": GOLD, "db": "chinook.sqlite"},
                }
            ]
        },
    ).json()["results"]
    assert (after[0]["status"], after[0]["reward"]) == ("ok", 1.0)
    assert tree_digest(db_dir) == before


ENGINE_ONLY = [
    "DELETE FROM Track",
    "DROP TABLE Track",
    f"ATTACH DATABASE '{OUTSIDE}.db' AS evil",
    "PRAGMA writable_schema = 1",
    "SELECT 1; DELETE FROM Track",
    "CREATE TEMP TABLE evil AS SELECT 1",
]


@pytest.mark.parametrize("db", ["chinook.sqlite", "chinook.duckdb"], ids=["sqlite", "duckdb"])
@pytest.mark.parametrize("query", ENGINE_ONLY)
def test_the_engine_refuses_writes_without_the_parser(db_dir: Path, db: str, query: str) -> None:
    """The read-only connection and the engine's own guard hold when sqlglot is bypassed."""
    from rewardgate.verifiers.sql.engines import QueryFailed, Target, connect

    before = tree_digest(db_dir)
    engine = "sqlite" if db.endswith(".sqlite") else "duckdb"
    conn = connect(Target(engine, str(db_dir / db), db, f"engine-only:{db}"))
    with pytest.raises(QueryFailed) as failure:
        conn.run(query, 1.0, 100)
    assert failure.value.kind == "refused", failure.value.message
    assert tree_digest(db_dir) == before
    assert not list(Path("/tmp").glob("rewardgate-sql-escape*"))


@pytest.mark.parametrize("engine", ["sqlite", "duckdb", "postgres"])
def test_the_safety_check_by_query_shape_gives_each_query_its_own_verdict(engine: str) -> None:
    """Queries differing only in comments share one parse; anything else the tokens see
    (a write hidden after a comment, a string that looks like a comment, a function
    name) is its own shape and is judged on its own."""
    from rewardgate.verifiers.sql import safety

    safety.check_query.cache_clear()
    safety._SHAPES.clear()
    first = safety.check_query("SELECT name FROM t -- the names", engine)
    assert first.parsed and first.refusal is None
    assert len(safety._SHAPES) == 1
    twin = safety.check_query("SELECT /* all */ name FROM t -- other words", engine)
    assert twin is first and len(safety._SHAPES) == 1  # one shape: no second parse
    hidden = safety.check_query("SELECT name FROM t -- x\n; DELETE FROM t", engine)
    assert hidden.refusal is not None and "statement" in hidden.refusal
    quoted = safety.check_query("SELECT '-- not a comment' FROM t", engine)
    assert quoted.refusal is None
    assert safety.check_query("SELECT '-- other' FROM t", engine).refusal is None
    denied = "load_extension" if engine == "sqlite" else "pg_read_file"
    if engine == "duckdb":
        denied = "read_text"
    called = safety.check_query(f"SELECT {denied}('x') -- harmless?", engine)
    assert called.refusal == f"function not allowed: {denied}"
    # A parse error quotes its own query, so it is never shared by shape.
    broken_a = safety.check_query("SELECT FROM WHERE ((( -- a", engine)
    broken_b = safety.check_query("SELECT FROM WHERE ((( -- b", engine)
    if not broken_a.parsed:
        assert broken_a is not broken_b
    assert all(checked.parse_error is None for checked in safety._SHAPES.values())
