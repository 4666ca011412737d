"""The engine's own cost per item: a trivial verifier (echo: one string compare) through
the engine in-process and through HTTP, chunked dispatch against one item per message.

Each round scores `--batches` batches of `--batch` items on every side, the sides
interleaved round by round (so a noisy machine shifts both alike), and the median of the
rounds is printed: items/s, and CPU-microseconds per item of the service (the gateway
process and its workers, from /proc) beside those of the load generator (this process,
the HTTP client), which shares the cores.

    PYTHONPATH=. .venv/bin/python bench/overhead.py [--rounds 3] [--batches 20] [--batch 256]
        [--workers 2] [--inflight 4] [--only engine|http] [--baseline-tree DIR]

`--baseline-tree` adds, over HTTP, the chunked server of another checkout (an older
version: `git worktree add /tmp/base <rev>`) to the same interleaved rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import checkout
from rewardgate.testing import start_engine
from tests.conftest import LiveServer, free_port
from tests.service.live import start_server, stop_server, wait_ready
from tests.service.probes import PROBES

TICK = os.sysconf("SC_CLK_TCK")
SIDES = {"unchunked": 0.0, "chunked": 10.0}  # chunk_target_ms of each side


def tree_cpu_s(pid: int) -> float:
    """CPU-seconds of `pid`, its live descendants and the children they reaped."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return total / TICK


def own_cpu_s() -> float:
    return time.process_time()


def items(batch: int, salt: int) -> list[dict[str, Any]]:
    """Distinct responses, so neither the cache nor dedup answers any of them."""
    return [
        {"verifier": "echo", "response": f"{salt}-{i}", "reference": {"answer": f"{salt}-{i % 2}"}}
        for i in range(batch)
    ]


async def drive(send: Callable[[list[Any]], Awaitable[int]], args: Any, salt: int) -> int:
    """`args.batches` batches, `args.inflight` at a time; returns the items scored."""
    line = asyncio.Semaphore(args.inflight)

    async def one(n: int) -> int:
        async with line:
            return await send(items(args.batch, salt * 100_000 + n))

    return sum(await asyncio.gather(*(one(n) for n in range(args.batches))))


def measure(
    run: Callable[[], int], service_cpu: Callable[[], float], generator_cpu: Callable[[], float]
) -> dict[str, float]:
    cpu0, gen0, start = service_cpu(), generator_cpu(), time.perf_counter()
    n = run()
    wall = time.perf_counter() - start
    return {
        "items/s": n / wall,
        "service CPU-us/item": (service_cpu() - cpu0) * 1e6 / n,
        "generator CPU-us/item": (generator_cpu() - gen0) * 1e6 / n,
    }


def in_process(args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    """The engine called from this process: its CPU and the caller's are one process."""
    harnesses = {
        side: start_engine(*PROBES, workers=args.workers, cache=None, chunk_target_ms=target)
        for side, target in SIDES.items()
    }
    rounds: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    try:
        for harness in harnesses.values():  # measure echo's cost, warm everything up
            harness.score(items(args.batch, -1))
        for r in range(args.rounds):
            for side, harness in harnesses.items():
                engine = harness.engine
                pool = engine._pool
                assert pool is not None
                pids = [slot.pid for slot in pool.slots if slot.pid is not None]

                async def send(batch: list[Any], engine: Any = engine) -> int:
                    return len(await engine.score(batch))

                def run(send: Any = send, r: int = r, harness: Any = harness) -> int:
                    return int(harness._loop.run_until_complete(drive(send, args, r)))

                def service(pids: list[int] = pids) -> float:
                    return own_cpu_s() + sum(tree_cpu_s(pid) for pid in pids)

                rounds[side].append(measure(run, service, lambda: 0.0))
    finally:
        for harness in harnesses.values():
            harness.close()
    return rounds


def start_baseline(folder: Path, tree: Path, workers: int) -> LiveServer:
    """The probe server of another checkout (bench/checkout.py), chunked, no cache."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = [f"workers={workers}", "chunk_target_ms=10.0", "cache_size=0"]
    settings.append(f"asset_dir={folder / 'assets'}")
    log = folder / "server.log"
    process = subprocess.Popen(
        checkout.command(tree, "tests.service.serve_probes", str(port), *settings),
        cwd=tree,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    wait_ready(server)
    return server


def over_http(args: argparse.Namespace, folder: Path) -> dict[str, list[dict[str, float]]]:
    """`rewardgate serve` in its own process; this process is the load generator."""
    servers = {
        side: start_server(
            folder / side, workers=args.workers, chunk_target_ms=target, cache_size=0
        )
        for side, target in SIDES.items()
    }
    if args.baseline_tree is not None:
        servers["baseline, chunked"] = start_baseline(
            folder / "baseline", args.baseline_tree.resolve(), args.workers
        )
    rounds: dict[str, list[dict[str, float]]] = {side: [] for side in servers}
    try:

        async def session() -> None:
            limits = httpx.Limits(max_connections=args.inflight * 2)
            async with httpx.AsyncClient(timeout=300, limits=limits) as client:
                for server in servers.values():

                    async def warm(batch: list[Any], url: str = server.url) -> int:
                        response = await client.post(f"{url}/v1/rewards", json={"items": batch})
                        response.raise_for_status()
                        return len(response.json()["results"])

                    await warm(items(args.batch, -1))
                for r in range(args.rounds):
                    for side, server in servers.items():

                        async def send(batch: list[Any], url: str = server.url) -> int:
                            # orjson both ways: the generator's CPU shares the cores, so
                            # the lighter it is, the more of them the service gets.
                            response = await client.post(
                                f"{url}/v1/rewards",
                                content=orjson.dumps({"items": batch}),
                                headers={"content-type": "application/json"},
                            )
                            response.raise_for_status()
                            return len(orjson.loads(response.content)["results"])

                        cpu0, gen0 = tree_cpu_s(server.process.pid), own_cpu_s()
                        start = time.perf_counter()
                        n = await drive(send, args, r)
                        wall = time.perf_counter() - start
                        rounds[side].append(
                            {
                                "items/s": n / wall,
                                "service CPU-us/item": (tree_cpu_s(server.process.pid) - cpu0)
                                * 1e6
                                / n,
                                "generator CPU-us/item": (own_cpu_s() - gen0) * 1e6 / n,
                            }
                        )

        asyncio.run(session())
    finally:
        for server in servers.values():
            stop_server(server)
    return rounds


def table(title: str, rounds: dict[str, list[dict[str, float]]]) -> str:
    lines = [f"### {title} (median of {len(next(iter(rounds.values())))} rounds)", ""]
    columns = list(next(iter(rounds.values()))[0])
    lines.append("| side | " + " | ".join(columns) + " |")
    lines.append("|---" * (len(columns) + 1) + "|")
    for side, measured in rounds.items():
        cells = [f"{statistics.median(m[c] for m in measured):,.0f}" for c in columns]
        lines.append(f"| {side} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--inflight", type=int, default=4)
    parser.add_argument("--only", choices=("engine", "http"), default=None)
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="HTTP: also serve from this checkout (another version), in the same rounds",
    )
    args = parser.parse_args()
    print(
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, workers={args.workers}, "
        f"{args.batches} batches of {args.batch} per round, {args.inflight} in flight\n"
    )
    if args.only in (None, "engine"):
        print(table("engine in-process", in_process(args)) + "\n")
    if args.only in (None, "http"):
        with tempfile.TemporaryDirectory(prefix="rewardgate-overhead-") as folder:
            print(table("HTTP", over_http(args, Path(folder))))


if __name__ == "__main__":
    main()
