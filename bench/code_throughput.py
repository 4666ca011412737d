"""HumanEval-164 through the code verifier vs. an unsandboxed harness, in one run.

The baseline follows openai/human-eval's `evaluate_functional_correctness`: a thread
pool of `--workers` threads, each problem checked in a forked `multiprocessing.Process`
that `exec`s prompt + completion + test + `check(entry_point)` in a temporary
directory under a signal time limit, with stdout swallowed and the result handed back
through a `multiprocessing.Manager` list. No isolation at all: that is the point of
comparison. rewardgate runs the same programs through the engine (worker processes,
deadlines) and each sandbox backend with the hack-proof harness: bubblewrap (warm
zygote) and docker (a warm pool of containers, one `docker exec` per item).

Prints seconds for each and the ratio (rewardgate / baseline; the target is <= 1.0 on
bwrap and <= 2.0 on docker).
Where this process may make a cgroup (root, cgroup v1 cpuacct), it also prints the CPU
seconds each side used, every process it started included (the sandboxes too): on a
machine that is busy with other work, wall time drifts, the CPU ratio much less.

    .venv/bin/python bench/code_throughput.py [--workers 2] [--rounds 1] [--backends bwrap,docker]
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


def score_timed(requests: list[dict[str, Any]], workers: int) -> tuple[float, list[float]]:
    """Seconds to score `requests` through a fresh engine of code verifiers (result
    cache off), and the rewards; an item that was not judged ends the bench."""
    from rewardgate.testing import start_engine
    from rewardgate.verifiers.code import CodeVerifier

    harness = start_engine(CodeVerifier, workers=workers, cache=None)
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


def run_rewardgate(
    items: list[dict[str, Any]], workers: int, backend: str
) -> tuple[float, list[float]]:
    requests = [
        {
            "verifier": "code",
            "response": p["prompt"] + p["canonical_solution"],
            "reference": {"test_code": p["test"], "entry_point": p["entry_point"]},
            "options": {"backend": backend},
        }
        for p in items
    ]
    return score_timed(requests, workers)


def cpu_meter() -> Any:
    """CPU seconds used so far by this process and everything it starts, or None.

    This process moves into a cgroup of its own first, so every later child and every
    sandbox run's cgroup (made under the creator's own group) is counted.
    """
    from rewardgate.sandbox.cgroups import CgroupManager

    manager = CgroupManager()
    if "cpuacct" not in manager.parents():
        return None
    group = manager.create()
    (group.dirs["cpuacct"] / "cgroup.procs").write_text(str(os.getpid()))
    return lambda: (group.cpu_ns() or 0) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--backends", default="bwrap,docker", help="comma-separated")
    args = parser.parse_args()
    items = problems()
    cpu = cpu_meter()
    print(
        f"HumanEval: {len(items)} problems, canonical solutions; {args.workers} workers, "
        f"{os.cpu_count()} cores"
    )
    for round_ in range(1, args.rounds + 1):
        cpu0 = cpu() if cpu else 0.0
        base_s, base_passed = run_baseline(items, args.workers)
        base_cpu = (cpu() if cpu else 0.0) - cpu0
        print(
            f"round {round_}: unsandboxed human-eval style {base_s:6.2f} s "
            f"({sum(base_passed)}/{len(items)} passed)"
        )
        for backend in args.backends.split(","):
            cpu1 = cpu() if cpu else 0.0
            ours_s, ours_rewards = run_rewardgate(items, args.workers, backend)
            ours_cpu = (cpu() if cpu else 0.0) - cpu1
            line = (
                f"  rewardgate {backend:6} {ours_s:6.2f} s "
                f"({sum(r == 1.0 for r in ours_rewards)}/{len(items)} scored 1.0); "
                f"ratio {ours_s / base_s:.2f}x"
            )
            if cpu:
                line += (
                    f"; cpu {base_cpu:.2f} s vs {ours_cpu:.2f} s, ratio {ours_cpu / base_cpu:.2f}x"
                )
            print(line)


if __name__ == "__main__":
    main()
