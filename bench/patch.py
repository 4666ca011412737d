"""The patch verifier's similarity path against the bare loop a trainer would write.

In-process, on already prepared references (what a worker runs): the verifier's `judge`
(layout check, block parsing, path checks, applying, normalised diffs of both sides,
per-file ratios, details) against a bare loop doing only the arithmetic of SWE-RL's
reward (regex, str.replace, `difflib.unified_diff`, `SequenceMatcher`) on the same
responses. Rounds interleave the two (the order alternating) so drift in the machine's
load hits both; prints items/s by wall clock and CPU seconds per 1,000 items of each,
and the ratio.

    PYTHONPATH=. .venv/bin/python bench/patch.py [--items 200] [--rounds 5] [--lines 300]
"""

from __future__ import annotations

import argparse
import difflib
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from rewardgate.verifiers.registry import Registry

BLOCK = re.compile(
    r"```.*?\n### (.*)\n<<<<<<< SEARCH\n([\s\S]*?)\n=======\n([\s\S]*?)\n>>>>>>> REPLACE\n```"
)


def workload(items: int, lines: int) -> tuple[dict[str, str], str, list[str]]:
    """A module of `lines` lines, a one-hunk oracle and `items` edits of varying quality."""
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(lines // 4))
    target = lines // 8
    old = f"    return x + {target}\n"
    oracle = body.replace(old, f"    if x is None:\n        return {target}\n{old}")
    responses = []
    for i in range(items):
        guard = f"    if x is None:\n        return {target + i % 3}\n" if i % 4 else ""
        search = f"    return x + {target}" if i % 7 else f"    return x - {target}"
        replace = f"{guard}    return x + {target} + 0"
        responses.append(
            f"<think>\nitem {i}\n</think>\n<solution>\n```python\n### mod.py\n<<<<<<< SEARCH\n"
            f"{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```\n</solution>"
        )
    return {"mod.py": body}, oracle, responses


def bare(files: dict[str, str], oracle_text: str) -> Callable[[str], float]:
    def diff(old: str, new: str) -> str:
        out = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
        return "\n".join(list(out)[2:])

    oracle = diff(files["mod.py"], oracle_text)

    def score(response: str) -> float:
        answer = response.split("<solution>")[1].split("</solution>")[0].strip()
        blocks = BLOCK.findall(answer)
        if not blocks:
            return -1.0
        new = "\n" + files["mod.py"]
        for _, search, replace in blocks:
            if "\n" + search not in new:
                return -1.0
            new = new.replace("\n" + search, "\n" + replace)
        mine = diff(files["mod.py"], new[1:])
        return difflib.SequenceMatcher(None, mine, oracle, autojunk=False).ratio()

    return score


def ours(files: dict[str, str], oracle_text: str) -> Callable[[str], float]:
    verifier = Registry.from_entry_points().get("patch")
    prepared = verifier.prepare({"files": files, "oracle_files": {"mod.py": oracle_text}}, {})
    return lambda response: verifier.judge(response, prepared.reference, prepared.options).reward


def timed(run: Callable[[str], float], responses: list[str]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for response in responses:
        run(response)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, default=300)
    args = parser.parse_args()
    files, oracle, responses = workload(args.items, args.lines)
    runners = {"rewardgate": ours(files, oracle), "bare": bare(files, oracle)}
    for response in responses[:3]:  # equal rewards, or the comparison means nothing
        got = {name: run(response) for name, run in runners.items()}
        assert abs(got["rewardgate"] - got["bare"]) < 1e-12, got
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    for round_ in range(args.rounds):
        order = list(runners) if round_ % 2 == 0 else list(reversed(runners))
        for name in order:
            times[name].append(timed(runners[name], responses))
    results: dict[str, Any] = {}
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        results[name] = (args.items / wall, 1000 * cpu / args.items)
        print(f"{name:>10}: {results[name][0]:9.1f} items/s wall, {results[name][1]:.3f} CPU-s/1k")
    ratio = results["rewardgate"][0] / results["bare"][0]
    print(f"rewardgate / bare throughput: {ratio:.2f} ({args.rounds} rounds of {args.items})")


if __name__ == "__main__":
    main()
