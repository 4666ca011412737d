"""SQL rewards vs. a bare sqlite3 execute-and-compare loop, on Chinook, in one run.

Workload: the Chinook gold/prediction pairs of tests/verifiers/test_sql_pairs.py,
repeated to `--items`, each response made distinct (a trailing comment) so no verdict
is served from the result cache. Prints items/s for

1. bare: one sqlite3 connection, execute gold and prediction, compare as sets (BIRD's
   EX), the cheapest honest checker;
2. verifier: `SqlVerifier.verify` in this process (extraction, sqlglot safety parse,
   read-only engine with time limit and row cap, gold cache, spider semantics);
3. engine: the service's engine with `--workers` worker processes, batches of 16,
   result cache off (what a trainer gets from `rewardgate serve`, minus HTTP);

and the ratios of (2) and (3) to (1).

    .venv/bin/python bench/sql_throughput.py [--items 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rewardgate.testing import start_engine  # noqa: E402
from rewardgate.verifiers.base import VerifierEnv  # noqa: E402
from rewardgate.verifiers.models import RewardRequest  # noqa: E402
from rewardgate.verifiers.sql import SqlVerifier  # noqa: E402
from tests.verifiers.test_sql_pairs import PAIRS  # noqa: E402

CHINOOK = ROOT / "tests" / "data" / "sql" / "chinook.sqlite"


def workload(items: int) -> list[tuple[str, str]]:
    """(gold, response) pairs; responses distinct so nothing is cached."""
    return [
        (PAIRS[i % len(PAIRS)].gold, f"{PAIRS[i % len(PAIRS)].pred} -- {i}") for i in range(items)
    ]


def bare(db: Path, work: list[tuple[str, str]]) -> float:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    start = time.perf_counter()
    for gold, pred in work:
        gold_rows = conn.execute(gold).fetchall()
        try:
            pred_rows = conn.execute(pred).fetchall()
        except sqlite3.Error:
            continue
        _ = set(gold_rows) == set(pred_rows)
    return len(work) / (time.perf_counter() - start)


def verifier(env: VerifierEnv, work: list[tuple[str, str]]) -> float:
    checker = SqlVerifier(env)
    checker.warmup()
    start = time.perf_counter()
    for gold, pred in work:
        reference = {"gold_sql": gold, "db": "chinook.sqlite"}
        checker.verify(RewardRequest(verifier="sql", response=pred, reference=reference))
    return len(work) / (time.perf_counter() - start)


def engine(env: VerifierEnv, work: list[tuple[str, str]], workers: int) -> float:
    harness = start_engine(SqlVerifier, env=env, workers=workers, cache=None)
    try:
        batches = [
            [
                {
                    "verifier": "sql",
                    "response": pred,
                    "reference": {"gold_sql": gold, "db": "chinook.sqlite"},
                }
                for gold, pred in work[i : i + 16]
            ]
            for i in range(0, len(work), 16)
        ]
        harness.score(batches[0])  # workers open the database once
        start = time.perf_counter()
        for batch in batches:
            results = harness.score(batch)
            assert all(r.status == "ok" for r in results), results
        return len(work) / (time.perf_counter() - start)
    finally:
        harness.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_dir = Path(tmp)
        shutil.copy(CHINOOK, db_dir / "chinook.sqlite")
        env = VerifierEnv(config={"sql_db_dir": db_dir})
        work = workload(args.items)
        base = bare(db_dir / "chinook.sqlite", work)
        inproc = verifier(env, work)
        pooled = engine(env, work, args.workers)
    print(
        f"items: {len(work)} Chinook pairs ({len(PAIRS)} distinct queries), workers: {args.workers}"
    )
    print(f"bare sqlite3 execute + compare : {base:9.1f} items/s")
    print(f"SqlVerifier.verify in-process  : {inproc:9.1f} items/s  ratio {inproc / base:.3f}")
    engine_label = f"engine, {args.workers} workers, no cache"
    print(f"{engine_label:<31}: {pooled:9.1f} items/s  ratio {pooled / base:.3f}")


if __name__ == "__main__":
    main()
