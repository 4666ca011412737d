"""Math rewards through the HTTP API vs. math-verify called directly, rounds interleaved.

Workload (`--workload mixed`, the default): GRPO-shaped, `--prompts` golds a side and
round, drawn afresh each time (so the server's result cache is always cold), mixing
integers, fractions, radicals and polynomials, each with `--group` distinct responses:
chain-of-thought text around an equivalent form of the gold (`\\frac{6}{8}` for
`\\frac{3}{4}`, `\\sqrt{12}` for `2\\sqrt{3}`, the factored polynomial) or a wrong one,
boxed, stated or bare. `--workload cases` builds the groups from math-verify's own
equivalence cases (tests/data/math) instead. Items travel as consecutive
`--batch`-item requests (several groups each), in two patterns: one request at a time
(`serial`) and `--inflight` requests in flight.

Each round runs the sides in turn (direct, serial, in flight, and with `--baseline-tree`
the same two patterns served by another checkout, for a before/after in the same
rounds; the order rotates each round), each on its own fresh workload of the same
shape; the median of the rounds is printed: items/s, the ratio to direct in the same
round, and CPU-milliseconds per item of the service (the server process and its
workers, from /proc) beside those of the load generator (this process: the HTTP
client, or the direct loop), which shares the cores.

    PYTHONPATH=. .venv/bin/python bench/math_throughput.py [--prompts 256] [--group 16]
        [--rounds 3] [--batch 256] [--inflight 16] [--workers N] [--workload mixed|cases]
        [--baseline-tree DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import checkout  # noqa: E402
from bench.overhead import tree_cpu_s  # noqa: E402

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
SQUARE_FREE = (2, 3, 5, 6, 7, 10, 11, 13, 14, 15, 17, 19)

Group = list[dict[str, str]]


def _integer(rng: random.Random) -> tuple[str, list[str], list[str]]:
    value = rng.choice([rng.randint(-99, 999), rng.randint(1000, 99999)])
    right = [str(value), f"{value}.0", f"{value:,}", f"{value}"]
    wrong = [str(value + d) for d in (1, -1, 10, -2)]
    return str(value), right, wrong


def _fraction(rng: random.Random) -> tuple[str, list[str], list[str]]:
    q = rng.randint(2, 40)
    p = rng.choice([n for n in range(1, 5 * q) if math.gcd(n, q) == 1])
    sign = rng.choice(["", "-"])
    gold = f"{sign}\\frac{{{p}}}{{{q}}}"
    k = rng.randint(2, 5)
    right = [f"{sign}{p}/{q}", f"{sign}\\dfrac{{{p}}}{{{q}}}"]
    right.append(f"{sign}\\frac{{{k * p}}}{{{k * q}}}")
    right.append(f"{sign}{p / q:.6f}".rstrip("0") if 1_000_000 % q == 0 else gold)
    wrong = [f"{sign}\\frac{{{p + 1}}}{{{q}}}", f"{sign}{q}/{p}", f"\\frac{{{p}}}{{{q + 1}}}"]
    return gold, right, [*wrong, str(p)]


def _radical(rng: random.Random) -> tuple[str, list[str], list[str]]:
    a, b = rng.randint(2, 9), rng.choice(SQUARE_FREE)
    if rng.random() < 0.5:
        gold = f"{a}\\sqrt{{{b}}}"
        right = [f"\\sqrt{{{a * a * b}}}", f"{a} \\sqrt{{{b}}}", f"\\sqrt{{{b}}} \\cdot {a}", gold]
        wrong = [f"{a}\\sqrt{{{b + 1}}}", f"{a + 1}\\sqrt{{{b}}}", f"\\sqrt{{{a * b}}}", str(a * b)]
    else:
        gold = f"\\frac{{\\sqrt{{{b}}}}}{{{a}}}"
        right = [f"\\sqrt{{{b}}}/{a}", f"\\frac{{1}}{{{a}}}\\sqrt{{{b}}}"]
        right.append(f"\\dfrac{{\\sqrt{b}}}{{{a}}}")
        right.append(f"\\frac{{{a}\\sqrt{{{b}}}}}{{{a * a}}}")
        wrong = [f"\\frac{{\\sqrt{{{b}}}}}{{{a + 1}}}", f"\\sqrt{{{b}}}", f"{a}\\sqrt{{{b}}}", "1"]
    return gold, right, wrong


def _polynomial(rng: random.Random) -> tuple[str, list[str], list[str]]:
    r, s = rng.randint(-9, 9), rng.randint(-9, 9)
    total, product = r + s, r * s

    def poly(b: int, c: int) -> str:
        text = "x^2"
        text += "" if b == 0 else f" {'-' if b > 0 else '+'} {abs(b) if abs(b) != 1 else ''}x"
        text += "" if c == 0 else f" {'+' if c > 0 else '-'} {abs(c)}"
        return text

    def factor(root: int) -> str:
        return "x" if root == 0 else f"(x {'-' if root > 0 else '+'} {abs(root)})"

    gold = poly(total, product)
    right = [f"{factor(r)}{factor(s)}", f"x^{{2}} - ({total})x + ({product})", gold]
    linear = "" if total == 0 else f" {'-' if total > 0 else '+'} {abs(total)}x"
    right.append(f"{product}{linear} + x^2" if product else gold.replace("x^2", "x^{2}"))
    wrong = [poly(total + 1, product), poly(total, product + 2), f"{factor(r + 1)}{factor(s)}"]
    return gold, right, [*wrong, f"x^2 + {total}x"]


KINDS: tuple[Callable[[random.Random], tuple[str, list[str], list[str]]], ...] = (
    _integer,
    _fraction,
    _radical,
    _polynomial,
)


def _response(rng: random.Random, k: int, p: int, final: str) -> str:
    steps = " ".join(rng.sample(REASONING, 4))
    if k % 4 == 0:
        return f"Attempt {k} of prompt {p}. {steps} The answer is $\\boxed{{{final}}}$."
    if k % 4 == 1:
        return f"{steps} (try {k}, prompt {p})\n\nFinal answer: $\\boxed{{{final}}}$"
    if k % 4 == 2:
        return f"{steps} So for prompt {p}, attempt {k}, we get ${final}$"
    return f"Step {k}: {steps}\nThus the result is ${final}$"


def mixed_workload(prompts: int, group: int, seed: int) -> list[Group]:
    """`prompts` groups of `group` distinct responses; golds of every kind in turn."""
    rng = random.Random(seed)
    groups = []
    for p in range(prompts):
        gold, right, wrong = KINDS[p % len(KINDS)](rng)
        items = []
        for k in range(group):
            forms = right if k % 2 == 0 else wrong
            final = forms[(k // 2) % len(forms)]
            items.append({"gold": gold, "response": _response(rng, k, seed * 100_000 + p, final)})
        groups.append(items)
    return groups


def cases_workload(prompts: int, group: int, seed: int) -> list[Group]:
    """Groups around math-verify's own equivalence cases (the earlier workload)."""
    rng = random.Random(seed)
    cases = [json.loads(line) for line in CASES.read_text().splitlines()]
    cases = [c for c in cases if c.get("expected") == 1]
    groups = []
    for p in range(prompts):
        case = cases[(seed * prompts + p) % len(cases)]
        others = [c["pred"] for c in rng.sample(cases, group)]
        items = []
        for k in range(group):
            final = case["pred"] if k % 2 == 0 else others[k]
            response = _response(rng, k, seed * 1000 + p, final)
            items.append({"gold": case["gold"], "response": response})
        groups.append(items)
    return groups


WORKLOADS = {"mixed": mixed_workload, "cases": cases_workload}


def _delimited(gold: str) -> str:
    """The gold as math-verify's LaTeX reader needs it: in `$...$` unless delimited
    already (bare, `\\frac{\\sqrt{17}}{8}` would be read as its last number)."""
    return gold if any(mark in gold for mark in ("$", "\\boxed", "\\(", "\\[")) else f"${gold}$"


def run_direct(groups: list[Group]) -> tuple[float, float, list[float]]:
    """math-verify's `parse` and `verify` per item, in this process: (wall, CPU, rewards)."""
    from math_verify import parse, verify

    rewards = []
    start, cpu = time.perf_counter(), time.process_time()
    for group in groups:
        for item in group:
            gold = parse(_delimited(item["gold"]))
            pred = parse(item["response"])
            rewards.append(float(verify(gold, pred)))
    return time.perf_counter() - start, time.process_time() - cpu, rewards


async def run_http(
    url: str, groups: list[Group], batch: int, inflight: int
) -> tuple[float, list[float], int]:
    """The items as consecutive `batch`-item requests, `inflight` at a time."""
    from rewardgate.clients import AsyncRewardClient

    flat = [
        {"verifier": "math", "response": item["response"], "reference": item["gold"]}
        for group in groups
        for item in group
    ]
    requests = [flat[i : i + batch] for i in range(0, len(flat), batch)]
    line = asyncio.Semaphore(inflight)
    async with AsyncRewardClient(url, timeout=600) as client:

        async def one(items: list[dict[str, Any]]) -> list[Any]:
            async with line:
                return await client.score_batch(items)

        await client.limits()  # learn the server's limits before the clock starts
        start = time.perf_counter()
        results = await asyncio.gather(*(one(r) for r in requests))
        elapsed = time.perf_counter() - start
    scored = [r for request in results for r in request]
    not_ok = sum(1 for r in scored if r.status != "ok")
    return elapsed, [r.reward for r in scored], not_ok


def start_server(workers: int, tree: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`rewardgate serve` from this checkout, or from `tree` (its root first on the path:
    another version's code, for a before/after run in the same rounds)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "REWARDGATE_ASSET_DIR": tempfile.mkdtemp(),
        "REWARDGATE_LOG_LEVEL": "warning",
    }
    serve = ["serve", "--port", str(port), "--workers", str(workers)]
    if tree is None:
        command = [sys.executable, "-m", "rewardgate.service.cli", *serve]
    else:  # every subpackage from that checkout, not only `rewardgate` (bench/checkout.py)
        command = checkout.command(tree, "rewardgate.service.cli", *serve)
    process = subprocess.Popen(command, env=env, cwd=tree or ROOT)
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
    parser.add_argument("--prompts", type=int, default=256, help="golds a side and round")
    parser.add_argument("--group", type=int, default=16, help="responses per gold")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256, help="items per request")
    parser.add_argument("--inflight", type=int, default=16, help="requests in flight")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="mixed")
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="also serve from this checkout (importable from its root), in the same rounds",
    )
    args = parser.parse_args()
    build = WORKLOADS[args.workload]
    n = args.prompts * args.group
    print(
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {args.workers} workers; "
        f"{args.workload} workload: {args.prompts} golds x {args.group} responses = {n} items "
        f"a side and round, fresh each time (cold cache), in {args.batch}-item requests\n"
    )
    servers = {"": start_server(args.workers)}
    if args.baseline_tree is not None:
        servers["baseline "] = start_server(args.workers, args.baseline_tree.resolve())
    patterns = {"serial": 1, f"{args.inflight} in flight": args.inflight}
    plan = {
        f"{name}{pattern}": (name, inflight)
        for name in servers
        for pattern, inflight in patterns.items()
    }
    sides = ["direct", *plan]
    rows: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    agree = total = not_ok = 0
    try:
        # Every side warm before the clock: imports, the HTTP client, a first parse.
        run_direct(build(8, args.group, seed=0))
        for _, url in servers.values():
            asyncio.run(run_http(url, build(8, args.group, seed=-1), args.batch, 1))
        for r in range(args.rounds):
            order = sides[r % len(sides) :] + sides[: r % len(sides)]
            direct_rate = 0.0
            measured: dict[str, dict[str, float]] = {}
            for s, side in enumerate(order):
                groups = build(args.prompts, args.group, seed=1 + r * 10 + sides.index(side))
                if side == "direct":
                    wall, cpu, _ = run_direct(groups)
                    measured[side] = {"items/s": n / wall, "service": 0.0, "generator": cpu}
                    continue
                name, inflight = plan[side]
                process, url = servers[name]
                cpu0, gen0 = tree_cpu_s(process.pid), time.process_time()
                wall, rewards, bad = asyncio.run(run_http(url, groups, args.batch, inflight))
                service, generator = tree_cpu_s(process.pid) - cpu0, time.process_time() - gen0
                measured[side] = {"items/s": n / wall, "service": service, "generator": generator}
                if not name and (s == 0 or r == 0):
                    # Verdicts against math-verify on the same items (not timed).
                    _, _, direct_rewards = run_direct(groups)
                    agree += sum(a == b for a, b in zip(direct_rewards, rewards, strict=True))
                    total, not_ok = total + n, not_ok + bad
            direct_rate = measured["direct"]["items/s"]
            for side, m in measured.items():
                rows[side].append(
                    {
                        "items/s": m["items/s"],
                        "x direct": m["items/s"] / direct_rate,
                        "service CPU-ms/item": m["service"] * 1e3 / n,
                        "generator CPU-ms/item": m["generator"] * 1e3 / n,
                    }
                )
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    columns = list(rows["direct"][0])
    print(f"| side (median of {args.rounds} rounds) | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for side, measured_rows in rows.items():
        cells = [f"{statistics.median(m[c] for m in measured_rows):,.2f}" for c in columns]
        print(f"| {side} | " + " | ".join(cells) + " |")
    print(
        "\ndirect: math-verify `parse(gold)` (in `$...$` unless delimited), `parse(response)`, "
        "`verify` per item in this process (its CPU is the generator column); service CPU: "
        "the server and its workers."
    )
    print(
        f"verdicts: {agree}/{total} rewards equal to direct math-verify on the same items; "
        f"{not_ok} non-ok (a gold rewardgate refuses as ambiguous is `invalid`)"
    )


if __name__ == "__main__":
    main()
