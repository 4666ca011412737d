"""HumanEval-164 through the code verifier vs. an unsandboxed harness, in one run.

The baseline follows openai/human-eval's `evaluate_functional_correctness`: a thread
pool of `--workers` threads, each problem checked in a forked `multiprocessing.Process`
that `exec`s prompt + completion + test + `check(entry_point)` in a temporary
directory under a signal time limit, with stdout swallowed and the result handed back
through a `multiprocessing.Manager` list. No isolation at all: that is the point of
comparison. rewardgate runs the same programs through the engine (worker processes,
deadlines) and the bubblewrap sandbox with the hack-proof harness.

Prints seconds for each and the ratio (rewardgate / baseline; the target is <= 1.0).

    .venv/bin/python bench/code_throughput.py [--workers 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import multiprocessing
import os
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HUMANEVAL = ROOT / "tests" / "data" / "code" / "HumanEval.jsonl.gz"


def problems() -> list[dict[str, Any]]:
    with gzip.open(HUMANEVAL, "rt") as f:
        return [json.loads(line) for line in f]


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Any:
    def handler(signum: int, frame: Any) -> None:
        raise _Timeout()

    signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.signal(signal.SIGALRM, handler)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _unsafe_execute(program: str, timeout: float, result: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
                _time_limit(timeout),
            ):
                exec(program, {})
            result.append("passed")
        except _Timeout:
            result.append("timed out")
        except BaseException as exc:
            result.append(f"failed: {exc}")


def check_correctness(problem: dict[str, Any], completion: str, timeout: float = 3.0) -> bool:
    program = (
        problem["prompt"]
        + completion
        + "\n"
        + problem["test"]
        + "\n"
        + f"check({problem['entry_point']})"
    )
    manager = multiprocessing.Manager()
    result = manager.list()
    process = multiprocessing.Process(target=_unsafe_execute, args=(program, timeout, result))
    process.start()
    process.join(timeout=timeout + 1)
    if process.is_alive():
        process.kill()
    passed = bool(result) and result[0] == "passed"
    manager.shutdown()
    return passed


def run_baseline(items: list[dict[str, Any]], workers: int) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        passed = list(pool.map(lambda p: check_correctness(p, p["canonical_solution"]), items))
    return time.perf_counter() - start, passed


def run_rewardgate(items: list[dict[str, Any]], workers: int) -> tuple[float, list[float]]:
    from rewardgate.testing import start_engine
    from rewardgate.verifiers.code import CodeVerifier

    harness = start_engine(CodeVerifier, workers=workers, cache=None)
    requests = [
        {
            "verifier": "code",
            "response": p["prompt"] + p["canonical_solution"],
            "reference": {"test_code": p["test"], "entry_point": p["entry_point"]},
        }
        for p in items
    ]
    try:
        start = time.perf_counter()
        results = harness.score(requests)
        elapsed = time.perf_counter() - start
    finally:
        harness.close()
    bad = [r for r in results if r.status != "ok"]
    if bad:
        raise SystemExit(f"{len(bad)} items were not judged: {bad[0].error}")
    return elapsed, [r.reward for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    items = problems()
    print(
        f"HumanEval: {len(items)} problems, canonical solutions; {args.workers} workers, "
        f"{os.cpu_count()} cores"
    )
    for round_ in range(1, args.rounds + 1):
        base_s, base_passed = run_baseline(items, args.workers)
        ours_s, ours_rewards = run_rewardgate(items, args.workers)
        print(
            f"round {round_}: unsandboxed human-eval style {base_s:6.2f} s "
            f"({sum(base_passed)}/{len(items)} passed); rewardgate bwrap {ours_s:6.2f} s "
            f"({sum(r == 1.0 for r in ours_rewards)}/{len(items)} scored 1.0); "
            f"ratio {ours_s / base_s:.2f}x"
        )


if __name__ == "__main__":
    main()
