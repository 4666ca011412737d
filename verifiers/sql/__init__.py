"""The `sql` verifier: execution accuracy for text-to-SQL, safe against hostile queries.

The response's query (the last ```sql block, else the whole text) runs on the
reference's database(s) next to the gold query, and the results are compared with the
community's rules: test-suite-sql-eval's (`spider`, the default) or BIRD's EX
(`bird`), optionally with BIRD's R-VES efficiency reward. Rewards: binary, Arctic's
1/0.1/0, SQL-R1's staged reward, or custom stage weights; `steps` report extract,
parse, execute, match. Databases are SQLite, DuckDB or PostgreSQL, always opened
read-only with a per-query time limit inside the engine and a row cap.
Importing this package is cheap: sqlglot and the drivers load on the first judgement.
"""

from __future__ import annotations

import importlib.util
from typing import ClassVar

from pydantic import BaseModel

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.sql.models import RewardWeights, SqlOptions, SqlReference, SqlSettings

__all__ = ["RewardWeights", "SqlOptions", "SqlReference", "SqlVerifier"]


class SqlVerifier(Verifier[SqlReference, SqlOptions]):
    name = "sql"
    version = "1"
    description = (
        "Execution accuracy for text-to-SQL on SQLite, DuckDB or PostgreSQL: spider "
        "(test-suite-sql-eval) or bird semantics, binary/arctic/sql_r1/custom rewards, "
        "read-only engines with per-query time limits."
    )
    Reference: ClassVar[type[BaseModel]] = SqlReference
    Options: ClassVar[type[VerifierOptions]] = SqlOptions
    # Needs `[verifiers.sql] db_dir` holding the Chinook sample as chinook.sqlite.
    conformance = Conformance(
        full=Case(
            "SELECT COUNT(*) FROM Artist",
            {"gold_sql": "SELECT COUNT(*) FROM Artist", "db": "chinook.sqlite"},
        ),
        zero=Case(
            "SELECT COUNT(*) FROM Album",
            {"gold_sql": "SELECT COUNT(*) FROM Artist", "db": "chinook.sqlite"},
        ),
        invalid=Case("SELECT 1", {"gold_sql": "SELECT 1", "db": "../outside.sqlite"}),
    )
    judging_packages = ("sqlglot", "duckdb", "psycopg")
    Settings = SqlSettings
    settings: SqlSettings

    def judging_tools(self, backend: str | None) -> dict[str, str]:
        """The SQLite library Python links (not a distribution of its own)."""
        import sqlite3

        return {"sqlite": sqlite3.sqlite_version}

    def prepare(
        self, reference: object, options: dict[str, object] | None
    ) -> Prepared[SqlReference, SqlOptions]:
        """Validate, and resolve every database now: a missing one is `invalid` at once.

        The reference keeps what was resolved, so the judgement and the fingerprints
        that follow at once read it instead of statting each file again (two stats were
        a tenth of a worker's time on a Chinook item, bench/sql_throughput.py).
        """
        prepared = super().prepare(reference, options)
        ref = prepared.reference
        ref._targets = ref.targets(self.env, self.settings)
        return prepared

    def lowest_reward_for(self, options: SqlOptions) -> float:
        return options.weights().lowest()

    def fingerprints(self, reference: SqlReference) -> list[str]:
        return [target.fingerprint for target in reference.targets(self.env, self.settings)]

    def budget_s(self, reference: SqlReference, options: SqlOptions, default_s: float) -> float:
        if options.timeout_s:
            return options.timeout_s
        return max(default_s, options.budget(1 + len(reference.test_dbs)))

    def judge(self, response: str, reference: SqlReference, options: SqlOptions) -> Verdict:
        from rewardgate.verifiers.sql.judge import judge

        return judge(response, reference, options, self.env, self.settings)

    def warmup(self) -> None:
        """Import sqlglot and build its dialect tables before workers fork."""
        from rewardgate.verifiers.sql.safety import check_query

        for engine in ("sqlite", "duckdb", "postgres"):
            check_query("SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY 2 DESC", engine)

    def health(self) -> dict[str, str]:
        found = {
            name: "ok" if importlib.util.find_spec(name) is not None else "not installed"
            for name in ("sqlglot", "duckdb", "psycopg")
        }
        return found
