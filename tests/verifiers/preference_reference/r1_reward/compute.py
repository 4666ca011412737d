"""Compute `cases.json` with R1-Reward's own reward code (the files beside this one).

Not run by the tests: the paper's accuracy check needs `pylatexenc`, which rewardgate
does not install. To recompute (from the repository root):

    pip install --target /tmp/r1deps pylatexenc==2.11
    R1_DEPS=/tmp/r1deps .venv/bin/python -m tests.verifiers.preference_reference.r1_reward.compute

It loads `verify_format`, `extract_characters_regex` and `get_response_from_query` from
the unchanged `math_verifier_mllm.py` (its module-level imports of flask, Levenshtein
and openai, which those functions do not use, are skipped), repeats `verify_math`'s loop
body for one item (without its worker process) and `get_reward`'s formula, with the
referee's consistency verdict given instead of asked of an LLM.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
T = "<think>The first response is accurate; the second misreads the chart.</think>"

# (judgement, gold response number, referee's consistency verdict)
CASES: list[tuple[str, int, int]] = [
    (T + "<answer>1</answer>", 1, 0),
    (T + "<answer>1</answer>", 2, 0),
    (T + "<answer>2</answer>", 2, 1),
    (T + "<answer>2</answer>", 2, -1),
    (T + "<answer>1</answer>", 1, 1),
    (T + "<answer>2</answer>", 1, 1),
    (T + "<answer> 1 </answer>", 1, 0),
    (T + "<answer>Response 1</answer>", 1, 0),
    (T + "<answer>Response 2 is better</answer>", 2, 0),
    (T + "<answer>The answer is 2</answer>", 2, 0),
    (T + "<answer>Answer: 1</answer>", 1, 0),
    (T + "<answer>\\boxed{2}</answer>", 2, 0),
    (T + "<answer>1.0</answer>", 1, 0),
    (T + "<answer>12</answer>", 1, 0),
    (T + "<answer>3</answer>", 2, 0),
    (T + "<answer>0</answer>", 1, 0),
    (T + "<answer>-1</answer>", 1, 0),
    (T + "<answer>A</answer>", 1, 0),
    (T + "<answer></answer>", 1, 0),
    (T + "<answer>Both are good</answer>", 2, 0),
    (T + "<answer>I think 2. Final: 1</answer>", 1, 0),
    (T + "\n<answer>1</answer>", 1, 0),
    (" " + T + "<answer>1</answer>\n", 1, 0),
    (T + "<answer>1</answer><|im_end|>", 1, 1),
    (T + "<answer>2</answer><|endoftext|>", 2, 0),
    (T + "<answer>1</answer> trailing", 1, 0),
    ("<answer>1</answer>", 1, 0),
    ("1", 1, 0),
    ("Response 2 is better.", 2, 0),
    ("", 1, 0),
    (T + T + "<answer>1</answer>", 1, 0),
    (T + "<answer>1</answer><answer>2</answer>", 1, 0),
    (T + "<answer>2</answer><answer>1</answer>", 1, 0),
    ("<think>a</think><think>b</think><answer>1</answer>", 1, 0),
    ("<think><answer>1</answer></think>", 1, 0),
    (T + "<answer>1" + "</answer>", 2, -1),
    (T + "<answer>" * 3 + "2", 2, 0),
    ("<think>" + "x" * 5000 + "</think><answer>2</answer>", 2, 1),
    (T + "<answer>2-1</answer>", 1, 0),
    (T + "<answer>(1)</answer>", 1, 0),
]


def _load() -> dict[str, Any]:
    deps = os.environ.get("R1_DEPS")
    if deps:
        sys.path.insert(0, deps)
    root = Path(tempfile.mkdtemp())
    package = root / "openrlhf" / "models" / "remote_rm"
    package.mkdir(parents=True)
    for part in (root / "openrlhf", root / "openrlhf" / "models", package):
        (part / "__init__.py").write_text("")
    for name in ("strict_math_verify", "math_normalize", "math_equal"):
        shutil.copy(HERE / f"{name}.py", package / f"{name}.py")
    sys.path.insert(0, str(root))
    from math_verify import parse, verify  # type: ignore[import-untyped]
    from openrlhf.models.remote_rm.strict_math_verify import (  # type: ignore[import-not-found]
        evaluate_math,
    )

    namespace: dict[str, Any] = {
        "re": re,
        # as the script's __main__ sets them for --prompt-template chatml
        "format_pattern": r"^<think>.*?</think><answer>.*?</answer>$",
        "response_prefix": r"<\|im_start\|>assistant\n",
    }
    wanted = {"verify_format", "extract_characters_regex", "get_response_from_query"}
    tree = ast.parse((HERE / "math_verifier_mllm.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in wanted:
            exec(compile(ast.Module([node], []), "math_verifier_mllm.py", "exec"), namespace)
    namespace.update(parse=parse, verify=verify, evaluate_math=evaluate_math)
    return namespace


def paper_reward(ns: dict[str, Any], q: str, sols: list[str], conflict: int) -> list[float]:
    """`get_reward` for one query: [reward, format_reward, acc_reward]."""
    response = ns["get_response_from_query"](q) or q
    format_reward = float(ns["verify_format"](response))
    content = response
    # verify_math's loop body, unchanged but for the names it binds
    try:
        for sol in sols:
            sol_match = re.search(r"<answer>(.*?)</answer>", sol, re.DOTALL)
            ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
            content_match = re.search(r"<answer>(.*?)</answer>", content, re.DOTALL)
            student_answer = content_match.group(1).strip() if content_match else content.strip()
            student_answer = ns["extract_characters_regex"](student_answer)
            answer = ns["parse"](student_answer)
            if ns["evaluate_math"](student_answer, ground_truth):  # noqa: SIM114
                reward = 1.0
                break
            elif float(ns["verify"](answer, ns["parse"](ground_truth))) > 0:
                reward = 1.0
                break
            else:
                reward = 0.0
    except Exception:
        reward = 1.0
    acc_reward = reward
    total = 0.5 * format_reward + acc_reward * (1 + 0.5 * float(conflict))
    return [total, format_reward, acc_reward]


def main() -> None:
    ns = _load()
    rows = []
    for judgement, gold, conflict in CASES:
        # the server sees the whole chat; the gold is the dataset's answer list
        query = "<|im_start|>assistant\n" + judgement
        rows.append(
            {
                "judgement": judgement,
                "preferred": gold,
                "consistency": conflict,
                "paper": paper_reward(ns, query, [str(gold)], conflict),
            }
        )
    (HERE / "cases.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(rows)} cases")


if __name__ == "__main__":
    main()
