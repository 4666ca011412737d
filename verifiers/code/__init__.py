"""The `code` verifier: run the response's program against unit tests in the sandbox.

Test formats: stdio (Python, C, C++), HumanEval, MBPP, pytest files and APPS / TACO /
verl ground truth (stdio or call-based, LeetCode `class Solution` included). The reward
is the fraction of tests passed (or all-or-nothing); `steps` has one entry per test
labelled passed, wrong_answer, time_limit, memory_limit, runtime_error or
compile_error (skipped after the first failure with `stop_on_first_failure`).

Function-call formats are hack-proof by design: the tests run in a trusted harness
process that talks to the program over a pipe in plain data; see `harness.py`.
Importing this package is cheap; the sandbox loads on the first judgement.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from rewardgate.verifiers.base import Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.code.models import CodeOptions, CodeReference

__all__ = ["CodeOptions", "CodeReference", "CodeVerifier"]


class CodeVerifier(Verifier[CodeReference, CodeOptions]):
    name = "code"
    version = "1"
    description = (
        "Runs the response's program against unit tests in the sandbox: stdio (Python, C, "
        "C++), HumanEval, MBPP, pytest and APPS/TACO/verl formats; reward = tests passed."
    )
    Reference: ClassVar[type[BaseModel]] = CodeReference
    Options: ClassVar[type[VerifierOptions]] = CodeOptions

    def judge(self, response: str, reference: CodeReference, options: CodeOptions) -> Verdict:
        from rewardgate.verifiers.code.judge import judge

        return judge(response, reference.root, options)

    def budget_s(self, reference: CodeReference, options: CodeOptions, default_s: float) -> float:
        from rewardgate.verifiers.code.judge import budget_s

        return budget_s(reference.root, options, default_s)

    def health(self) -> dict[str, str]:
        try:
            from rewardgate.sandbox import get_backend

            return dict(get_backend("bwrap").health())
        except Exception as exc:
            return {"sandbox": f"unavailable: {exc}"}
