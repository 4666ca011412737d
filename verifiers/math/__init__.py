"""The `math` verifier: is the response's final answer equivalent to the gold?

Built on math-verify (extraction and sympy equivalence) with the conventions RL training
needs: the last boxed answer counts, multiple-choice letters compare as letters,
inequalities compare with intervals, and reward hacks (empty or all-choices boxes,
hedged answers, answers built to exhaust sympy) score 0. Importing this package is
cheap: math-verify and sympy load on the first judgement.
"""

from __future__ import annotations

import importlib.util
from typing import ClassVar

from pydantic import BaseModel

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.math.judge import judge
from rewardgate.verifiers.math.models import MathOptions, MathReference

__all__ = ["JUDGING_PACKAGES", "MathOptions", "MathReference", "MathVerifier"]

JUDGING_PACKAGES = ("math-verify", "sympy", "latex2sympy2_extended", "antlr4-python3-runtime")


class MathVerifier(Verifier[MathReference, MathOptions]):
    name = "math"
    version = "2"
    description = (
        "Final-answer equivalence for math (math-verify + sympy): the last \\boxed{} or a "
        "final-answer phrase against the gold; multiple-choice letters; inequalities as "
        "intervals."
    )
    Reference: ClassVar[type[BaseModel]] = MathReference
    Options: ClassVar[type[VerifierOptions]] = MathOptions
    conformance = Conformance(
        full=Case("\\boxed{\\frac{1}{2}}", "0.5"),
        zero=Case("The answer is 41.", "42"),
        invalid=Case("\\boxed{1}", "0,500"),  # ambiguous: 0.5 or 500
    )
    judging_packages = JUDGING_PACKAGES

    def judge(self, response: str, reference: MathReference, options: MathOptions) -> Verdict:
        return judge(response, reference.answer, options)

    def warmup(self) -> None:
        """Import math-verify and sympy and fill the LaTeX parser's tables (see `warmup`)."""
        from rewardgate.verifiers.math.warmup import WARMUP

        options = MathOptions()
        for response, gold in WARMUP:
            judge(response, gold, options)

    def health(self) -> dict[str, str]:
        found = importlib.util.find_spec("math_verify") is not None
        return {"math_verify": "ok" if found else 'not installed: pip install "rewardgate[server]"'}
