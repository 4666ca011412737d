"""How the async client holds up with many requests in flight, against raw transports.

Starts a real rewardgate server (uvicorn in a subprocess, the `echo` probe verifier),
then for each contender runs two loads for a fixed time:

    512x1    512 tasks, each sending one-item requests back to back
    8x256    8 tasks, each sending 256-item requests back to back

and prints items/s, per-request p50/p99 latency and the client's own CPU time per
request (which the server's speed does not blur), with ratios against the baseline
measured in the same run: raw aiohttp posting the same bodies. Contenders:

    raw-aiohttp       aiohttp.ClientSession posting prebuilt bodies (the baseline)
    raw-httpx         httpx.AsyncClient, its own pool, posting prebuilt bodies
    client            AsyncRewardClient as shipped (httpx API over aiohttp's pool)
    client/httpx-pool AsyncRewardClient with httpx's own pool as its transport
    client/httpx-aiohttp  ... with httpx's client over aiohttp's pool (`httpx-aiohttp`,
                      run when that package is installed)

Every item is distinct, so the server's cache never answers and each item goes through
a worker process; `--cached` repeats the bodies so the cache answers, taking the
workers out to stress the transports alone.

    PYTHONPATH=. .venv/bin/python bench/client_concurrency.py [--seconds 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
    workers=int(sys.argv[2]), max_inflight=1_000_000, max_items_per_request=1024,
    log_level="warning", asset_dir=tempfile.mkdtemp(),
)
app = create_app(settings, Registry(PROBES, env=verifier_env(settings)))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            backlog=4096)
"""

LOADS = (("512x1", 512, 1), ("8x256", 8, 256))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(workers: int, cached: bool) -> tuple[subprocess.Popen[bytes], str]:
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


_serial = itertools.count()


def items(n: int, cached: bool) -> list[dict[str, Any]]:
    tag = 0 if cached else next(_serial)
    return [
        {"verifier": "echo", "response": f"{tag}-{i}", "reference": {"answer": f"{tag}-0"}}
        for i in range(n)
    ]


def body(n: int, cached: bool) -> bytes:
    return json.dumps({"items": items(n, cached)}).encode()


# A contender: given the server URL, returns (send(n_items) coroutine factory, close).
Send = Callable[[int], Awaitable[None]]


async def raw_aiohttp(url: str, cached: bool) -> tuple[Send, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024))
    headers = {"content-type": "application/json"}

    async def send(n: int) -> None:
        async with session.post(f"{url}/v1/rewards", data=body(n, cached), headers=headers) as r:
            r.raise_for_status()
            await r.read()

    return send, session.close


async def raw_httpx(url: str, cached: bool) -> tuple[Send, Callable[[], Awaitable[None]]]:
    limits = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)
    client = httpx.AsyncClient(limits=limits, timeout=120)
    headers = {"content-type": "application/json"}

    async def send(n: int) -> None:
        r = await client.post(f"{url}/v1/rewards", content=body(n, cached), headers=headers)
        r.raise_for_status()

    return send, client.aclose


def reward_client(transport: str | None) -> Any:
    async def make(url: str, cached: bool) -> tuple[Send, Callable[[], Awaitable[None]]]:
        from rewardgate.clients import AsyncRewardClient

        carrier: httpx.AsyncBaseTransport | None = None
        if transport == "httpx":
            limits = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)
            carrier = httpx.AsyncHTTPTransport(limits=limits)
        elif transport == "httpx-aiohttp":
            import aiohttp
            from httpx_aiohttp import AiohttpTransport

            carrier = AiohttpTransport(
                client=lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024))
            )
        client = AsyncRewardClient(url, transport=carrier, timeout=120)

        async def send(n: int) -> None:
            if n == 1:
                [item] = items(1, cached)
                await client.score(item["verifier"], item["response"], item["reference"])
            else:
                await client.score_batch(items(n, cached), batch_size=n)

        return send, client.aclose

    return make


CONTENDERS = {
    "raw-aiohttp": raw_aiohttp,
    "raw-httpx": raw_httpx,
    "client": reward_client(None),
    "client/httpx-pool": reward_client("httpx"),
}
if importlib.util.find_spec("httpx_aiohttp"):  # optional: pip install httpx-aiohttp
    CONTENDERS["client/httpx-aiohttp"] = reward_client("httpx-aiohttp")
BASELINE = "raw-aiohttp"


@dataclass
class Outcome:
    items_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # the client process's CPU time per request
    errors: int


async def run_load(
    make: Any, url: str, tasks: int, n: int, seconds: float, cached: bool
) -> Outcome:
    send, close = await make(url, cached)
    try:
        await asyncio.gather(*(send(n) for _ in range(tasks)))  # open the connections
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    await send(n)
                except Exception:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        await close()
    latencies.sort()
    if not latencies:
        return Outcome(0.0, float("nan"), float("nan"), float("nan"), errors)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Outcome(
        len(latencies) * n / elapsed,
        statistics.median(latencies) * 1e3,
        p99 * 1e3,
        cpu / len(latencies) * 1e6,
        errors,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="time per contender and load")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all contenders")
    parser.add_argument("--cached", action="store_true", help="repeat bodies (cache answers)")
    parser.add_argument("--only", nargs="*", choices=sorted(CONTENDERS), help="contenders to run")
    args = parser.parse_args()
    names = args.only or list(CONTENDERS)
    if BASELINE not in names:
        names.insert(0, BASELINE)

    process, url = start_server(args.workers, args.cached)
    print(
        f"server: {url}, {args.workers} workers, {'cached' if args.cached else 'distinct'} items; "
        f"client and server share {os.cpu_count()} CPUs; {args.seconds:g} s per run, "
        f"best of {args.rounds} rounds"
    )
    best: dict[tuple[str, str], Outcome] = {}
    try:
        for _ in range(args.rounds):
            for load, tasks, n in LOADS:
                for name in names:
                    outcome = asyncio.run(
                        run_load(CONTENDERS[name], url, tasks, n, args.seconds, args.cached)
                    )
                    key = (load, name)
                    if key not in best or outcome.items_per_s > best[key].items_per_s:
                        best[key] = outcome
    finally:
        process.terminate()
        process.wait(timeout=30)

    header = f"{'load':7} {'contender':20} {'items/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"{header} {'x items/s':>10} {'x p99':>7} {'cpu us/req':>10} {'x cpu':>6} {'errors':>6}")
    for load, _, _ in LOADS:
        base = best[(load, BASELINE)]
        for name in names:
            o = best[(load, name)]
            print(
                f"{load:7} {name:20} {o.items_per_s:9.0f} {o.p50_ms:8.1f} {o.p99_ms:8.1f} "
                f"{o.items_per_s / base.items_per_s:10.2f} {o.p99_ms / base.p99_ms:7.2f} "
                f"{o.cpu_us:10.0f} {o.cpu_us / base.cpu_us:6.2f} {o.errors:6d}"
            )
    print(
        f"ratios against {BASELINE} in this run: x items/s higher is better; x p99 and "
        "x cpu (the client's own CPU time per request, the server aside) lower is better"
    )


if __name__ == "__main__":
    main()
