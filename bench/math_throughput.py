"""Math rewards through the HTTP API vs. math-verify called directly, in one run.

Workload: GRPO-shaped, 200 prompts x 16 distinct responses, built from math-verify's
own equivalence cases (tests/data/math) and variations of them: chain-of-thought text
around the case's prediction, boxed or plain, right and wrong finals. Each request
carries one prompt's group of 16, as a trainer's reward call does.

Prints items/s for (1) `math_verify.parse`/`verify` in this process on the same items,
(2) the HTTP API with a cold cache, (3) the same again with the cache warm, and the
ratios of (2) and (3) to (1).

    .venv/bin/python bench/math_throughput.py [--prompts 200] [--group 16] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "data" / "math" / "math_verify_cases.jsonl"

REASONING = [
    "Let us set up the problem carefully. We write the given quantities and simplify.",
    "First, note that the expression is symmetric, so we may assume without loss of "
    "generality that the variables are ordered.",
    "Substituting the values, we get $x + y = 7$ and $xy = 12$, hence $x$ and $y$ are roots "
    "of $t^2 - 7t + 12 = 0$.",
    "We check the boundary cases separately: when $n = 1$ the claim is immediate.",
    "Multiplying both sides by the common denominator gives a polynomial identity.",
    "By the triangle inequality, the sum of any two sides exceeds the third.",
    "Hmm, wait. Let me re-check the arithmetic: $3 \\cdot 4 = 12$, which matches.",
    "Therefore the only remaining possibility is the one computed above.",
]


def build_workload(prompts: int, group: int, seed: int = 0) -> list[list[dict[str, str]]]:
    """`prompts` groups of `group` items: (gold, response) pairs, responses distinct."""
    rng = random.Random(seed)
    cases = [json.loads(line) for line in CASES.read_text().splitlines()]
    cases = [c for c in cases if c.get("expected") == 1]
    groups = []
    for p in range(prompts):
        case = cases[p % len(cases)]
        others = [c["pred"] for c in rng.sample(cases, group)]
        items = []
        for k in range(group):
            final = case["pred"] if k % 2 == 0 else others[k]
            steps = " ".join(rng.sample(REASONING, 4))
            if k % 4 == 0:
                response = f"Attempt {k} of prompt {p}. {steps} The answer is $\\boxed{{{final}}}$."
            elif k % 4 == 1:
                response = f"{steps} (try {k}, prompt {p})\n\nFinal answer: $\\boxed{{{final}}}$"
            elif k % 4 == 2:
                response = f"{steps} So for prompt {p}, attempt {k}, we get ${final}$"
            else:
                response = f"Step {k}: {steps}\nThus the result is {final}"
            items.append({"gold": case["gold"], "response": response})
        groups.append(items)
    return groups


def run_direct(groups: list[list[dict[str, str]]]) -> tuple[float, list[float]]:
    from math_verify import parse, verify

    rewards = []
    start = time.perf_counter()
    for group in groups:
        for item in group:
            gold = parse(item["gold"])
            pred = parse(item["response"])
            rewards.append(float(verify(gold, pred)))
    return time.perf_counter() - start, rewards


async def run_http(
    url: str, groups: list[list[dict[str, str]]], concurrency: int
) -> tuple[float, list[float], int]:
    """One request per GRPO group, `concurrency` in flight, through rewardgate's client."""
    from rewardgate.clients import AsyncRewardClient

    semaphore = asyncio.Semaphore(concurrency)
    async with AsyncRewardClient(url, timeout=300) as client:

        async def one(group: list[dict[str, str]]) -> list[Any]:
            items = [
                {"verifier": "math", "response": i["response"], "reference": i["gold"]}
                for i in group
            ]
            async with semaphore:
                return await client.score_batch(items)

        await client.limits()  # learn the server's limits before the clock starts
        start = time.perf_counter()
        results = await asyncio.gather(*(one(g) for g in groups))
        elapsed = time.perf_counter() - start
    flat = [r for group in results for r in group]
    not_ok = sum(1 for r in flat if r.status != "ok")
    return elapsed, [r.reward for r in flat], not_ok


def start_server(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "REWARDGATE_ASSET_DIR": tempfile.mkdtemp(),
        "REWARDGATE_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rewardgate.service.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--group", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    args = parser.parse_args()

    groups = build_workload(args.prompts, args.group)
    n = sum(len(g) for g in groups)
    print(
        f"workload: {args.prompts} prompts x {args.group} responses = {n} items; "
        f"{os.cpu_count()} cores, {args.workers} workers"
    )

    direct_s, direct_rewards = run_direct(groups)
    print(f"direct math_verify parse/verify : {n / direct_s:8.1f} items/s ({direct_s:.2f} s)")

    process, url = start_server(args.workers)
    try:
        cold_s, cold_rewards, cold_bad = asyncio.run(run_http(url, groups, args.concurrency))
        warm_s, warm_rewards, _ = asyncio.run(run_http(url, groups, args.concurrency))
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(
        f"HTTP, cache cold                : {n / cold_s:8.1f} items/s ({cold_s:.2f} s)  "
        f"ratio {direct_s / cold_s:.2f}x"
    )
    print(
        f"HTTP, cache warm                : {n / warm_s:8.1f} items/s ({warm_s:.2f} s)  "
        f"ratio {direct_s / warm_s:.2f}x"
    )
    agree = sum(a == b for a, b in zip(direct_rewards, cold_rewards, strict=True))
    print(
        f"verdicts: {agree}/{n} equal to direct math-verify; {cold_bad} non-ok; "
        f"mean reward direct {sum(direct_rewards) / n:.3f}, "
        f"rewardgate {sum(cold_rewards) / n:.3f}; warm == cold: {warm_rewards == cold_rewards}"
    )


if __name__ == "__main__":
    main()
