"""The sql verifier on a real PostgreSQL server (scripts/postgres.sh, run by `make test`).

The Chinook pairs give the same verdicts as on SQLite, and hostile queries score 0 and
leave every table's content unchanged. Outside CI the tests skip when no server answers;
in CI (CI set) they fail instead, because `make test` must have started one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardgate.verifiers.models import RewardRequest
from rewardgate.verifiers.sql import SqlVerifier
from tests.verifiers.sql_support import PG_DSN, env_for, postgres_reachable
from tests.verifiers.test_sql_hostile import GOLD as HOSTILE_GOLD
from tests.verifiers.test_sql_pairs import IDS, PAIRS, Pair


def require_postgres() -> None:
    """A missing server fails the tests, never skips them: `make test` starts one."""
    problem = postgres_reachable()
    if problem is not None:
        pytest.fail(
            f"PostgreSQL test database unreachable at {PG_DSN}: {problem} "
            "(make test runs scripts/postgres.sh)"
        )


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> SqlVerifier:
    require_postgres()
    return SqlVerifier(env_for(Path(tmp_path_factory.mktemp("empty")), pg=True))


def verdict(
    verifier: SqlVerifier, response: str, gold: str, **options: object
) -> tuple[float, str]:
    result = verifier.verify(
        RewardRequest(
            verifier="sql",
            response=response,
            reference={"gold_sql": gold, "db": "pg:chinook"},
            options=options,
        )
    )
    assert result.status == "ok", result
    assert result.details["engine"] == "postgres"
    return result.reward, result.details["rule"]


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
def test_spider_pairs(verifier: SqlVerifier, pair: Pair) -> None:
    assert verdict(verifier, pair.pred, pair.gold)[0] == float(pair.spider)


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
def test_bird_pairs(verifier: SqlVerifier, pair: Pair) -> None:
    assert verdict(verifier, pair.pred, pair.gold, semantics="bird")[0] == float(pair.bird)


HOSTILE = [
    ("drop-table", "DROP TABLE track", "unsafe"),
    ("delete", "DELETE FROM invoice", "unsafe"),
    ("update", "UPDATE track SET name = 'x'", "unsafe"),
    ("insert", "INSERT INTO genre (genreid, name) VALUES (99, 'x')", "unsafe"),
    ("create-table", "CREATE TABLE evil AS SELECT * FROM track", "unsafe"),
    ("multi-statement", "SELECT name FROM genre; DROP TABLE track", "unsafe"),
    ("commit-then-delete", "SELECT 1; COMMIT; DELETE FROM track", "unsafe"),
    ("read-server-file", "SELECT pg_read_file('/etc/passwd')", "unsafe"),
    ("set-config", "SELECT set_config('default_transaction_read_only', 'off', false)", "unsafe"),
    ("sleep", "SELECT pg_sleep(30)", "unsafe"),
    ("copy-out", "COPY track TO '/tmp/rewardgate-sql-escape.csv'", "unsafe"),
    ("row-lock", "SELECT * FROM track FOR UPDATE", "unsafe"),
    ("select-into", "SELECT * INTO evil FROM track", "unsafe"),
    (
        "runaway-recursive-cte",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c",
        "timeout",
    ),
    ("huge-cross-join-count", "SELECT COUNT(*) FROM track a, track b, track c", "timeout"),
    ("huge-cross-join-rows", "SELECT * FROM track a, track b", "too_many_rows"),
]


def content_digest() -> dict[str, str]:
    """Each table's rows, hashed in key order, as the read-only role sees them."""
    import psycopg

    with psycopg.connect(PG_DSN) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {
            t: conn.execute(
                f"SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {t} x"
            ).fetchone()[0]  # type: ignore[index]
            for t in tables
        }


@pytest.mark.parametrize(("query", "rule"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_queries_score_zero_and_change_nothing(
    verifier: SqlVerifier, query: str, rule: str
) -> None:
    before = content_digest()
    reward, got = verdict(verifier, query, HOSTILE_GOLD, query_timeout_s=0.5, max_rows=10_000)
    assert (reward, got) == (0.0, rule)
    assert content_digest() == before
    assert verdict(verifier, HOSTILE_GOLD, HOSTILE_GOLD) == (1.0, "match")


def test_the_engine_refuses_writes_even_when_the_parser_cannot_tell() -> None:
    """The server-side cursor, the role and the read-only transaction hold without sqlglot."""
    from rewardgate.verifiers.sql.engines import QueryFailed, Target, connect

    require_postgres()
    before = content_digest()
    conn = connect(Target("postgres", PG_DSN, "pg:chinook", "pg:chinook"))
    for query in (
        "DELETE FROM track",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT 1; DROP TABLE track",
        "WITH gone AS (DELETE FROM track RETURNING *) SELECT COUNT(*) FROM gone",
    ):
        with pytest.raises(QueryFailed):
            conn.run(query, 1.0, 100)
    assert content_digest() == before
