"""The cheap verifiers (qa, preference, grounding, symbolic_regression) against the bare
library loop a trainer would otherwise write, in the same run.

In-process: each verifier's `judge` on already prepared references (what a worker runs)
against the papers' own reward functions (vendored under tests/verifiers/*_reference) or,
for symbolic regression, the same reader + lambdify + numpy NMSE without the verifier's
checks. Prints items per second of both and their ratio (the issue asks >= 0.8).

    PYTHONPATH=. .venv/bin/python bench/cheap_verifiers.py [--items 3000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import time
from collections.abc import Callable
from typing import Any

from rewardgate.verifiers.registry import Registry


def rate(run: Callable[[int], object], items: int) -> float:
    for i in range(min(50, items)):
        run(i)
    start = time.perf_counter()
    for i in range(items):
        run(i)
    return items / (time.perf_counter() - start)


def judged(name: str, reference: Any, options: dict[str, Any]) -> Callable[[str], object]:
    verifier = Registry.from_entry_points().get(name)
    prepared = verifier.prepare(reference, options)
    return lambda response: verifier.judge(response, prepared.reference, prepared.options)


def qa_pair(items: int) -> tuple[Callable[[int], object], Callable[[int], object]]:
    from tests.verifiers.qa_reference import qa_em

    gold = ["Paris", "City of Light"]
    responses = [
        f"<think>step {i}</think><answer>the city of light {i % 3}</answer>" for i in range(items)
    ]
    ours = judged("qa", gold, {"preset": "search_r1", "response_includes_prompt": True})
    prompt = "Example: <answer> Beijing </answer>\n"
    texts = [prompt + r for r in responses]
    return (lambda i: ours(texts[i])), (
        lambda i: qa_em.compute_score_em(texts[i], {"target": gold})
    )


def preference_pair(items: int) -> tuple[Callable[[int], object], Callable[[int], object]]:
    from tests.verifiers.preference_reference import lm_as_judge

    texts = [f"<eval>point {i}</eval><answer>[[{'AB'[i % 2]}]]</answer>" for i in range(items)]
    ours = judged("preference", "A", {"preset": "rm_r1"})
    return (lambda i: ours(texts[i])), (lambda i: lm_as_judge.answer_reward(texts[i], "model_a"))


def grounding_pair(items: int) -> tuple[Callable[[int], object], Callable[[int], object]]:
    from tests.verifiers.grounding_reference import vlm_r1

    gold = [10, 20, 110, 220]
    texts = [f"<answer>[{i % 40}, 20, 110, {200 + i % 30}]</answer>" for i in range(items)]
    ours = judged("grounding", [gold], {"preset": "vlm_r1"})
    tag, box = (
        re.compile(r"<answer>(.*?)</answer>", re.S),
        re.compile(r"\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]"),
    )

    def bare(i: int) -> float:
        found = box.search(tag.search(texts[i]).group(1))  # type: ignore[union-attr]
        return vlm_r1.iou([int(v) for v in found.groups()], gold)  # type: ignore[union-attr]

    return (lambda i: ours(texts[i])), bare


def symbolic_pair(items: int) -> tuple[Callable[[int], object], Callable[[int], object]]:
    import numpy as np
    import sympy

    from rewardgate.verifiers.math.python_syntax import read_python

    xs = np.linspace(0.1, 5, 200)
    data = {"x": xs.tolist(), "y": (2 * xs**2 + np.sin(xs)).tolist()}
    texts = [f"{2 + (i % 50) / 100}*x**2 + sin(x)" for i in range(items)]
    ours = judged("symbolic_regression", {"data": data}, {})

    def bare(i: int) -> float:
        expr = read_python(texts[i])
        f = sympy.lambdify(sorted(expr.free_symbols, key=str), expr, "numpy")
        y = np.asarray(data["y"])
        return 1 - float(np.mean((y - f(xs)) ** 2) / np.var(y))

    return (lambda i: ours(texts[i])), bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=3000)
    args = parser.parse_args()
    print(f"{'verifier':<22}{'judge/s':>12}{'bare/s':>12}{'ratio':>8}")
    pairs = [("qa", qa_pair), ("preference", preference_pair), ("grounding", grounding_pair)]
    pairs.append(("symbolic_regression", symbolic_pair))
    for name, make in pairs:
        items = args.items if name != "symbolic_regression" else max(50, args.items // 20)
        ours, bare = make(items)
        with contextlib.redirect_stdout(io.StringIO()):  # Search-R1's code prints 1 in 64
            bare_rate = rate(bare, items)
            ours_rate = rate(ours, items)
        print(f"{name:<22}{ours_rate:>12.0f}{bare_rate:>12.0f}{ours_rate / bare_rate:>8.2f}")


if __name__ == "__main__":
    main()
