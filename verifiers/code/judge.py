"""From a response and a test reference to a verdict, through the sandbox.

Stdio programs run under `runner.py` (see `stdio`); function-call formats under
`harness.py`, which holds the tests and reports on the sandbox's fd-3 channel, the only
source of verdicts (see `calls`). A sandbox that cannot start raises `SandboxError`;
whatever the program does is a verdict.
"""

from __future__ import annotations

from typing import Any

from rewardgate.sandbox.languages import get_language
from rewardgate.verifiers.base import Verdict
from rewardgate.verifiers.code.calls import judge_calls
from rewardgate.verifiers.code.extract import extract_program
from rewardgate.verifiers.code.models import AppsReference, CodeOptions, StdioReference
from rewardgate.verifiers.code.native import judge_native
from rewardgate.verifiers.code.run import COMPILE_S, sandbox_s
from rewardgate.verifiers.code.stdio import judge_stdio
from rewardgate.verifiers.models import StepReward

__all__ = ["budget_s", "judge"]

MARGIN_S = 10.0
MAX_FAILURES_SHOWN = 5


def budget_s(ref: Any, options: CodeOptions, default_s: float) -> float:
    if options.timeout_s:
        return options.timeout_s
    run, check = sandbox_s(ref, options)
    compile_s = 0.0
    if ref.language != "python":  # scalac and kotlinc may take longer than the rest
        compile_s = max(COMPILE_S, get_language(ref.language).compile_wall_s + 5)
    return max(default_s, run + check + compile_s + MARGIN_S)


def judge(response: str, ref: Any, options: CodeOptions) -> Verdict:
    program = extract_program(response, ref.language)
    stdio = isinstance(ref, StdioReference) or (isinstance(ref, AppsReference) and not ref.fn_name)
    if stdio:
        outcomes = judge_stdio(program, ref, options)
    elif ref.language != "python":
        outcomes = judge_native(program, ref, options)
    else:
        outcomes = judge_calls(program, ref, options)
    passed = sum(o["label"] == "passed" for o in outcomes)
    total = len(outcomes)
    if options.mode == "all_or_nothing":
        reward = 1.0 if passed == total else 0.0
    else:
        reward = passed / total if total else 0.0
    steps = []
    failures: list[dict[str, Any]] = []
    for position, outcome in enumerate(outcomes):
        label = outcome.pop("label")
        steps.append(
            StepReward(
                index=position, reward=float(label == "passed"), label=label, details=outcome
            )
        )
        if label != "passed" and len(failures) < MAX_FAILURES_SHOWN:
            failures.append({"label": label, **outcome})
    details: dict[str, Any] = {
        "format": type(ref).__name__.removesuffix("Reference").lower(),
        "language": ref.language,
        "passed": passed,
        "tests": total,
        "program_chars": len(program),
    }
    if failures:
        details["failures"] = failures
    return Verdict(reward=reward, steps=steps, details=details)
