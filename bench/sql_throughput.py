"""SQL rewards vs. a bare sqlite3 execute-and-compare loop, on Chinook, in one run.

Workload: the Chinook gold/prediction pairs of tests/verifiers/test_sql_pairs.py,
repeated to `--items`, each response made distinct (a trailing comment naming the round
and the item) so no verdict is served from a cache. Prints items/s for

1. bare: one sqlite3 connection, execute gold and prediction, compare as sets (BIRD's
   EX), the cheapest honest checker;
2. verifier: `SqlVerifier.verify` in this process (extraction, sqlglot safety parse,
   read-only engine with time limit and row cap, gold cache, spider semantics);
3. engine: the service's engine with `--workers` worker processes, requests of
   `--batch` items (16), `--inflight` at a time (1), result cache off (what a trainer gets from
   `rewardgate serve`, minus HTTP; the process's collector set up as the server's);

and the ratios of (2) and (3) to (1). The three run interleaved, round by round
(`--rounds`), each round on responses of its own; the table gives the median of the
rounds. The engine's workers are forked before anything is judged in this process, so
they inherit no cache of it. Where this process may make a cgroup (root, cgroup v1
cpuacct) it also prints the CPU time each side used per item, the engine's workers
included (the bench shares the machine with other work: CPU time drifts less than wall
time).

    .venv/bin/python bench/sql_throughput.py [--items 2000] [--workers 2] [--rounds 3]
        [--batch 16] [--inflight 1]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rewardgate.service.heap import serving_heap  # noqa: E402
from rewardgate.testing import EngineHarness, start_engine  # noqa: E402
from rewardgate.verifiers.base import VerifierEnv  # noqa: E402
from rewardgate.verifiers.models import RewardRequest  # noqa: E402
from rewardgate.verifiers.sql import SqlVerifier  # noqa: E402
from tests.verifiers.test_sql_pairs import PAIRS  # noqa: E402

CHINOOK = ROOT / "tests" / "data" / "sql" / "chinook.sqlite"


def workload(items: int, distinct_shapes: bool = False, tag: str = "") -> list[tuple[str, str]]:
    """(gold, response) pairs; responses distinct (and distinct per `tag`) so no verdict
    is cached.

    By default they differ only in a trailing comment, as a GRPO group's samples that
    wrote the same query do: the safety check parses such a shape once. With
    `distinct_shapes` each is wrapped in a subquery of its own alias, so every response
    is a new token stream (the worst case: one parse per item).
    """
    pairs = [PAIRS[i % len(PAIRS)] for i in range(items)]
    if distinct_shapes:
        return [(p.gold, f"SELECT * FROM ({p.pred}) AS t{tag}_{i}") for i, p in enumerate(pairs)]
    return [(p.gold, f"{p.pred} -- {tag} {i}") for i, p in enumerate(pairs)]


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


def verifier(checker: SqlVerifier, work: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    for gold, pred in work:
        reference = {"gold_sql": gold, "db": "chinook.sqlite"}
        checker.verify(RewardRequest(verifier="sql", response=pred, reference=reference))
    return len(work) / (time.perf_counter() - start)


def _batches(work: list[tuple[str, str]], size: int = 16) -> list[list[dict[str, Any]]]:
    return [
        [
            {
                "verifier": "sql",
                "response": pred,
                "reference": {"gold_sql": gold, "db": "chinook.sqlite"},
            }
            for gold, pred in work[i : i + size]
        ]
        for i in range(0, len(work), size)
    ]


def engine(
    harness: EngineHarness, work: list[tuple[str, str]], size: int = 16, inflight: int = 1
) -> float:
    """Requests of `size` items, `inflight` at a time (each waits for its answer)."""
    batches = _batches(work, size)

    async def send_all() -> None:
        line = asyncio.Semaphore(inflight)

        async def send(batch: list[dict[str, Any]]) -> None:
            async with line:
                results = await harness.engine.score(batch)
            assert all(r.status == "ok" for r in results), results

        await asyncio.gather(*(send(batch) for batch in batches))

    start = time.perf_counter()
    harness._loop.run_until_complete(send_all())
    return len(work) / (time.perf_counter() - start)


def cpu_meter() -> Callable[[], float] | None:
    """CPU seconds of this process and every process it starts (bench/code_throughput.py)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from code_throughput import cpu_meter as meter

    found: Callable[[], float] | None = meter()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="items per engine request")
    parser.add_argument("--inflight", type=int, default=1, help="engine requests at a time")
    args = parser.parse_args()
    cpu = cpu_meter()
    distinct_queries = len(PAIRS)
    print(f"items: {args.items} Chinook pairs ({distinct_queries} distinct queries), ", end="")
    print(f"workers: {args.workers}, rounds: {args.rounds} (interleaved; medians)")
    with tempfile.TemporaryDirectory() as tmp:
        db_dir = Path(tmp)
        shutil.copy(CHINOOK, db_dir / "chinook.sqlite")
        env = VerifierEnv(config={"sql_db_dir": db_dir})
        harness = start_engine(SqlVerifier, env=env, workers=args.workers, cache=None)
        try:
            for batch in _batches(workload(64, False, "warm")):
                harness.score(batch)  # workers open the database, measure the cost
            # The engine stands in for a server: its collector is set up as a server's
            # (service/heap.py). The other sides share this process and its collector.
            serving_heap()
            checker = SqlVerifier(env)
            checker.warmup()
            for title, distinct in (
                ("responses differing in a comment (one parse per query shape)", False),
                ("every response a query shape of its own (one parse per item)", True),
            ):
                print(title)
                runs = _rounds(args, db_dir, checker, harness, distinct, cpu)
                _table(runs, args.workers, cpu is not None)
        finally:
            harness.close()


Side = tuple[float, float]  # items/s, CPU seconds per item


def _rounds(
    args: argparse.Namespace,
    db_dir: Path,
    checker: SqlVerifier,
    harness: EngineHarness,
    distinct: bool,
    cpu: Callable[[], float] | None,
) -> list[dict[str, Side]]:
    runs = []
    for round_ in range(args.rounds):
        work = workload(args.items, distinct, f"{int(distinct)}r{round_}")
        run: dict[str, Side] = {}
        for name in ("bare", "verifier", "engine"):
            used = cpu() if cpu else 0.0
            if name == "bare":
                rate = bare(db_dir / "chinook.sqlite", work)
            elif name == "verifier":
                rate = verifier(checker, work)
            else:
                rate = engine(harness, work, args.batch, args.inflight)
            run[name] = (rate, ((cpu() if cpu else 0.0) - used) / len(work))
        runs.append(run)
        line = ", ".join(f"{name} {rate:7.1f}/s" for name, (rate, _) in run.items())
        print(f"  round {round_ + 1}: {line}")
    return runs


def _table(runs: list[dict[str, Side]], workers: int, with_cpu: bool) -> None:
    labels = {
        "bare": "bare sqlite3 execute + compare",
        "verifier": "SqlVerifier.verify in-process",
        "engine": f"engine, {workers} workers, no cache",
    }
    base_rate = median(r["bare"][0] for r in runs)
    base_cpu = median(r["bare"][1] for r in runs)
    for name, label in labels.items():
        rate = median(r[name][0] for r in runs)
        line = f"  {label:<31}: {rate:9.1f} items/s"
        if name != "bare":
            line += f"  ratio {rate / base_rate:.3f}"
        if with_cpu:
            used = median(r[name][1] for r in runs)
            line += f"  | cpu {used * 1e6:6.0f} us/item"
            if name != "bare":
                line += f" ({used / base_cpu:.2f}x bare's)"
        print(line)


if __name__ == "__main__":
    main()
