"""What composing costs: compose(format + math + length) against its children called
one by one in the same run, and math_steps' cost per worked solution.

In-process (no server, no workers), so only the verifiers' own work is timed. Each item
is a distinct response, so math-verify's caches answer only for the shared golds.

    compose/children   per-item time of the composite over the sum of its children's
                       (the spec, the child preparation, the formula and the steps)
    math_steps         per-solution time over the worked solutions of its tests, the
                       LaTeX parser's cache cleared before each

    PYTHONPATH=. .venv/bin/python bench/compose_overhead.py [--items 2000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from rewardgate.verifiers.math_steps import check as steps_check
from rewardgate.verifiers.models import RewardRequest
from rewardgate.verifiers.registry import Registry
from tests.verifiers.test_compose import SPEC, answer
from tests.verifiers.test_math_steps import SOLUTIONS


def per_item(run: Callable[[str, str], object], items: list[tuple[str, str]]) -> float:
    for response, gold in items[:50]:
        run(response, gold)
    start = time.perf_counter()
    for response, gold in items:
        run(response, gold)
    return (time.perf_counter() - start) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    registry = Registry.from_entry_points()
    compose = registry.get("compose")
    children = [(registry.get(c["verifier"]), c.get("options", {})) for c in SPEC["children"]]
    items = [(answer(n % 30, f"{n % 97}"), f"{n % 97}") for n in range(args.items)]

    def directly(response: str, gold: str) -> None:
        for verifier, options in children:
            verifier.verify(
                RewardRequest(
                    verifier=verifier.name, response=response, reference=gold, options=options
                )
            )

    def composed(response: str, gold: str) -> None:
        compose.verify(
            RewardRequest(verifier="compose", response=response, reference=gold, options=SPEC)
        )

    base = per_item(directly, items)
    composite = per_item(composed, items)
    print(f"children one by one   {base * 1e3:8.3f} ms/item")
    print(f"compose               {composite * 1e3:8.3f} ms/item")
    print(f"compose/children      {composite / base:8.2f}")

    steps = registry.get("math_steps")
    solutions = [(p.values[0], p.values[1]) for p in SOLUTIONS]

    def checked(response: str, gold: str) -> None:
        steps_check._parse.cache_clear()
        steps.verify(RewardRequest(verifier="math_steps", response=response, reference=gold))

    print(f"math_steps (cold)     {per_item(checked, solutions * 5) * 1e3:8.3f} ms/solution")


if __name__ == "__main__":
    main()
