"""The cheap verifiers (qa, preference, grounding, symbolic_regression) against the bare
library loop a trainer would otherwise write, in the same run.

In-process: each verifier's `judge` on already prepared references (what a worker runs)
against the papers' own reward functions (vendored under tests/verifiers/*_reference) or,
for symbolic regression, the same reader + lambdify + numpy NMSE without the verifier's
checks. Both sides get the same inputs and return the reward; `judge` also builds the
evidence in `details`, which is what is being measured against the bare loop.

Rounds interleave the two sides (the order alternating), so load that comes and goes on
a shared machine falls on both; each side's rate is the median over rounds, in wall time
and in CPU seconds of this process (`time.process_time`), and both ratios are printed
(the issue asks >= 0.8).

    PYTHONPATH=. .venv/bin/python bench/cheap_verifiers.py [--items 3000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from rewardgate.verifiers.registry import Registry


def one_round(run: Callable[[int], object], items: int) -> tuple[float, float]:
    """Items per second over one pass, by wall clock and by this process's CPU time."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(items):
        run(i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return items / wall, items / max(cpu, 1e-9)


def rates(
    ours: Callable[[int], object], bare: Callable[[int], object], items: int, rounds: int
) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) items/s of each side over interleaved rounds, after a warm-up."""
    for i in range(min(50, items)):
        ours(i)
        bare(i)
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "bare": []}
    for r in range(rounds):
        order = [("ours", ours), ("bare", bare)]
        for side, run in order if r % 2 else order[::-1]:
            runs[side].append(one_round(run, items))
    return {
        side: (
            statistics.median(w for w, _ in measured),
            statistics.median(c for _, c in measured),
        )
        for side, measured in runs.items()
    }


def judged(
    name: str, reference: Any, options: dict[str, Any], texts: list[str]
) -> Callable[[int], object]:
    """`judge` on item i, called as directly as the bare side calls its function (one
    closure, prepared reference and options bound once)."""
    verifier = Registry.from_entry_points().get(name)
    prepared = verifier.prepare(reference, options)
    judge, ref, opts = verifier.judge, prepared.reference, prepared.options
    return lambda i: judge(texts[i], ref, opts)


def qa_pair(items: int) -> tuple[Callable[[int], object], Callable[[int], object]]:
    from tests.verifiers.qa_reference import qa_em

    gold = ["Paris", "City of Light"]
    responses = [
        f"<think>step {i}</think><answer>the city of light {i % 3}</answer>" for i in range(items)
    ]
    prompt = "Example: <answer> Beijing </answer>\n"
    texts = [prompt + r for r in responses]
    ours = judged("qa", gold, {"preset": "search_r1", "response_includes_prompt": True}, texts)
    return ours, (lambda i: qa_em.compute_score_em(texts[i], {"target": gold}))


def preference_pair(items: int) -> tuple[Callable[[int], object], Callable[[int], object]]:
    from tests.verifiers.preference_reference import lm_as_judge

    texts = [f"<eval>point {i}</eval><answer>[[{'AB'[i % 2]}]]</answer>" for i in range(items)]
    ours = judged("preference", "A", {"preset": "rm_r1"}, texts)
    # RM-R1's reward entry point, the function its verl recipe registers and a trainer
    # calls (it calls `answer_reward`, the two substring tests).
    match = lm_as_judge.lm_as_judge_match
    return ours, (lambda i: match("rm_r1", texts[i], "model_a", None))


def preference_labels_pair(
    items: int,
) -> tuple[Callable[[int], object], Callable[[int], object]]:
    """The default reading (no preset) against the loop a trainer writes for `[[A]]`
    labels: the last answer tag, its labels, one label that is the gold one."""
    texts = [f"<eval>point {i}</eval><answer>[[{'AB'[i % 2]}]]</answer>" for i in range(items)]
    ours = judged("preference", "A", {}, texts)
    tag, label = (
        re.compile(r"<answer>(.*?)</answer>", re.S),
        re.compile(r"\[\[\s*([A-Za-z]|\d{1,4})\s*\]\]"),
    )

    def bare(i: int) -> float:
        tags = tag.findall(texts[i])
        picks = {found.upper() for found in label.findall(tags[-1] if tags else texts[i])}
        return 1.0 if picks == {"A"} else 0.0

    return ours, bare


def grounding_pair(items: int) -> tuple[Callable[[int], object], Callable[[int], object]]:
    from tests.verifiers.grounding_reference import vlm_r1

    gold = [10, 20, 110, 220]
    texts = [f"<answer>[{i % 40}, 20, 110, {200 + i % 30}]</answer>" for i in range(items)]
    ours = judged("grounding", [gold], {"preset": "vlm_r1"}, texts)
    tag, box = (
        re.compile(r"<answer>(.*?)</answer>", re.S),
        re.compile(r"\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]"),
    )

    def bare(i: int) -> float:
        found = box.search(tag.search(texts[i]).group(1))  # type: ignore[union-attr]
        return vlm_r1.iou([int(v) for v in found.groups()], gold)  # type: ignore[union-attr]

    return ours, bare


def symbolic_pair(items: int) -> tuple[Callable[[int], object], Callable[[int], object]]:
    import numpy as np
    import sympy

    from rewardgate.verifiers.math.python_syntax import read_python

    xs = np.linspace(0.1, 5, 200)
    data = {"x": xs.tolist(), "y": (2 * xs**2 + np.sin(xs)).tolist()}
    texts = [f"{2 + (i % 50) / 100}*x**2 + sin(x)" for i in range(items)]
    ours = judged("symbolic_regression", {"data": data}, {}, texts)

    def bare(i: int) -> float:
        expr = read_python(texts[i])
        f = sympy.lambdify(sorted(expr.free_symbols, key=str), expr, "numpy")
        y = np.asarray(data["y"])
        return 1 - float(np.mean((y - f(xs)) ** 2) / np.var(y))

    return ours, bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(
        f"{'verifier':<22}{'judge/s':>10}{'bare/s':>10}{'ratio':>7}"
        f"{'judge/cpu-s':>13}{'bare/cpu-s':>12}{'ratio':>7}"
    )
    pairs = [("qa", qa_pair), ("preference", preference_pair)]
    pairs += [("preference labels", preference_labels_pair), ("grounding", grounding_pair)]
    pairs.append(("symbolic_regression", symbolic_pair))
    for name, make in pairs:
        items = args.items if name != "symbolic_regression" else max(50, args.items // 20)
        ours, bare = make(items)
        with contextlib.redirect_stdout(io.StringIO()):  # Search-R1's code prints 1 in 64
            measured = rates(ours, bare, items, args.rounds)
        (ours_wall, ours_cpu), (bare_wall, bare_cpu) = measured["ours"], measured["bare"]
        print(
            f"{name:<22}{ours_wall:>10.0f}{bare_wall:>10.0f}{ours_wall / bare_wall:>7.2f}"
            f"{ours_cpu:>13.0f}{bare_cpu:>12.0f}{ours_cpu / bare_cpu:>7.2f}"
        )


if __name__ == "__main__":
    main()
