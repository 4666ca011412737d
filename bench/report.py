"""Time `rewardgate report` on a generated scored dataset (default 100,000 rows).

Rows look like `rewardgate score` output for a GRPO run: groups of `--group` rows per
prompt, math rows (a few hundred characters of response, extracted answer, rule) and
one code row in ten with a per-test step list. Writes the dataset once (JSONL or
Parquet, not timed), then times `write_report` (one streaming pass plus the HTML) and
prints rows/s, the report's size and the process's peak RSS.

    .venv/bin/python bench/report.py [--rows 100000] [--format jsonl|parquet]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def rows(n: int, group: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        prompt = f"problem {i // group}: compute the value of the expression " + "x" * 80
        if i % 10 == 9:
            passed = rng.randint(0, 4)
            steps = [
                {
                    "index": t,
                    "reward": float(t < passed),
                    "label": "passed" if t < passed else "wrong_answer",
                    "details": {"test": t, "ms": 40.0},
                }
                for t in range(4)
            ]
            details = {
                "verifier": "code",
                "details": {"language": "python", "passed": passed, "tests": 4},
                "steps": steps,
                "elapsed_ms": rng.uniform(50, 900),
            }
            reward, status = passed / 4, "ok"
        else:
            right = rng.random() < 0.4
            details = {
                "verifier": "math",
                "details": {
                    "extracted": str(i % 13),
                    "rule": "equivalent" if right else "not_equivalent",
                },
                "steps": None,
                "elapsed_ms": rng.uniform(1, 30),
            }
            reward, status = float(right), "ok" if rng.random() > 0.01 else "invalid"
        out.append(
            {
                "prompt": prompt,
                "response": "Let us think. " * 20 + f"\\boxed{{{i % 13}}}",
                "reference": "7",
                "reward": reward,
                "status": status,
                "reward_details": details,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from rewardgate.service.report import write_report
    from tests.service.test_cli import write_input

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"scored.{args.format}"
        data = rows(args.rows, args.group)
        if args.format == "parquet":
            import orjson

            data = [
                {**r, "reward_details": orjson.dumps(r["reward_details"]).decode()} for r in data
            ]
        write_input(source, data)
        del data
        output = Path(tmp) / "report.html"
        start = time.perf_counter()
        report = write_report(source, output)
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{report.rows} rows ({args.format}, {source.stat().st_size / 2**20:.1f} MiB) -> "
            f"report of {output.stat().st_size / 1024:.0f} KiB in {seconds:.2f} s "
            f"({report.rows / seconds:,.0f} rows/s); peak RSS {peak_mb:.0f} MiB (dataset "
            "generation included)"
        )


if __name__ == "__main__":
    main()
