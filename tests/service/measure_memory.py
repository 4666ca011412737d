"""Memory of the result cache: bytes per cached verdict, and gateway growth per 10,000 items.

Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python -m tests.service.measure_memory [ROUNDS]

The first number is tracemalloc's count of what one in-memory entry costs (key, value
and the ordered dict's share); the second is the resident-set growth of a real gateway
(2 workers, default in-memory cache) per 10,000 unique math items, each round after
the first being the steady state. Not a test: it prints, and asserts nothing.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from rewardgate.service.cache import MemoryCache
from rewardgate.verifiers.models import RewardResult
from tests.service.faults import serve


def entry_bytes(n: int = 10_000) -> float:
    results = [
        RewardResult(
            verifier="math",
            version="3",
            reward=float(i % 2),
            status="ok",
            details={
                "extracted": f"\\frac{{{i}}}{{2}}",
                "parsed_response": f"{i}/2",
                "parsed_reference": f"{i}/2",
                "rule": "equivalent",
            },
        )
        for i in range(n)
    ]
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]
    cache = MemoryCache(10 * n)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for key, result in zip(keys, results, strict=True):
        cache.put(key, result)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown / n


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _batch(url: str, start: int) -> None:
    items = [
        {
            "verifier": "math",
            "response": f"so the answer is \\boxed{{\\frac{{{i}}}{{2}}}}",
            "reference": f"{i / 2}",
            "id": str(i),
        }
        for i in range(start, start + 500)
    ]
    response = httpx.post(f"{url}/v1/rewards", json={"items": items}, timeout=300)
    response.raise_for_status()


def gateway_growth(rounds: int) -> list[float]:
    """MiB of gateway RSS growth for each round of 10,000 unique items."""
    growth = []
    with tempfile.TemporaryDirectory() as folder, serve(Path(folder), workers=2) as server:
        done = 0
        for _ in range(rounds):
            before = _rss_kb(server.process.pid)
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda s: _batch(server.url, s), range(done, done + 10_000, 500)))
            done += 10_000
            growth.append((_rss_kb(server.process.pid) - before) / 1024)
    return growth


if __name__ == "__main__":
    print(f"in-memory cache: {entry_bytes():.0f} bytes per cached math verdict")
    for n, mib in enumerate(gateway_growth(int(sys.argv[1]) if len(sys.argv) > 1 else 3), 1):
        print(f"gateway round {n}: +{mib:.1f} MiB RSS per 10,000 items")
