"""verl's reward loop through rewardgate: per-item calls coalesced, one batch, or alone.

verl's reward loop awaits `compute_score_async` once per response, a whole step at
once. This starts a real server (uvicorn in a subprocess, the `echo` probe verifier,
so the checker costs next to nothing and the request path is what is measured) and
scores `--batch` responses per step, `--steps` times, three ways:

    coalesced   compute_score_async per item (the default: coalesced into batches)
    batch       compute_score with the plural keywords: one request per step (baseline)
    alone       compute_score_async per item with coalesce=False: a request per item

It prints items/s and the p50/p99 of the per-item latency (from the call to its
answer), with each one's ratio of items/s against the batch baseline measured in the
same run. Every item is distinct, so the server's cache never answers.

    PYTHONPATH=. .venv/bin/python bench/verl_coalesce.py [--batch 512] [--steps 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent

SERVER = """
import sys, tempfile, uvicorn
from rewardgate.service.app import create_app, verifier_env
from rewardgate.service.settings import Settings
from rewardgate.verifiers.registry import Registry
from tests.service.probes import PROBES

settings = Settings(
    workers=int(sys.argv[2]), max_inflight=1_000_000, max_waiting_items=1_000_000,
    log_level="warning", asset_dir=tempfile.mkdtemp(),
)
app = create_app(settings, Registry(PROBES, env=verifier_env(settings)))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            backlog=4096)
"""

_serial = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(workers)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited early")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not become ready")


def rows(n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        tag = next(_serial)
        out.append(
            {"data_source": "echo", "solution_str": str(tag), "ground_truth": {"answer": str(tag)}}
        )
    return out


Step = Callable[[str, list[dict[str, Any]]], Coroutine[Any, Any, list[float]]]


async def coalesced(url: str, batch: list[dict[str, Any]]) -> list[float]:
    from rewardgate.clients.verl import compute_score_async

    async def one(row: dict[str, Any]) -> float:
        start = time.perf_counter()
        await compute_score_async(**row, extra_info={}, url=url)
        return time.perf_counter() - start

    return list(await asyncio.gather(*(one(row) for row in batch)))


async def alone(url: str, batch: list[dict[str, Any]]) -> list[float]:
    from rewardgate.clients.verl import compute_score_async

    async def one(row: dict[str, Any]) -> float:
        start = time.perf_counter()
        await compute_score_async(**row, extra_info={}, url=url, coalesce=False)
        return time.perf_counter() - start

    return list(await asyncio.gather(*(one(row) for row in batch)))


async def one_batch(url: str, batch: list[dict[str, Any]]) -> list[float]:
    from rewardgate.clients.verl import compute_score

    start = time.perf_counter()
    await asyncio.to_thread(
        compute_score,
        data_sources=[r["data_source"] for r in batch],
        solution_strs=[r["solution_str"] for r in batch],
        ground_truths=[r["ground_truth"] for r in batch],
        extra_infos=[{} for _ in batch],
        url=url,
    )
    took = time.perf_counter() - start
    return [took] * len(batch)  # every item's answer arrives with the batch's


def measure(
    modes: dict[str, Step], url: str, size: int, steps: int
) -> dict[str, tuple[float, float, float]]:
    """Each mode once per step, in turn, so that a machine busy with other work slows
    them alike; (items/s, p50, p99) per mode."""
    latencies: dict[str, list[float]] = {name: [] for name in modes}
    seconds = dict.fromkeys(modes, 0.0)
    for step in modes.values():
        asyncio.run(step(url, rows(size)))  # warm: connections, the shared client
    for _ in range(steps):
        for name, step in modes.items():
            start = time.perf_counter()
            latencies[name] += asyncio.run(step(url, rows(size)))
            seconds[name] += time.perf_counter() - start
    out = {}
    for name, values in latencies.items():
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        out[name] = (size * steps / seconds[name], statistics.median(values), p99)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=512, help="responses per step")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    process, url = start_server(args.workers)
    try:
        modes: dict[str, Step] = {"batch": one_batch, "coalesced": coalesced, "alone": alone}
        results = measure(modes, url, args.batch, args.steps)
    finally:
        process.terminate()
        process.wait(timeout=30)
    base = results["batch"][0]
    print(f"{args.batch} responses a step, {args.steps} steps, {args.workers} workers")
    print(f"{'':10} {'items/s':>10} {'vs batch':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for name, (rate, p50, p99) in results.items():
        print(f"{name:10} {rate:10.0f} {rate / base:8.2f}x {p50 * 1e3:9.1f} {p99 * 1e3:9.1f}")


if __name__ == "__main__":
    main()
