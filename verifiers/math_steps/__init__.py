"""The `math_steps` verifier: per-step rewards for a math solution, without a learned model.

The solution is cut into steps (`split.py`); each step's equations and numeric claims
are checked with sympy (`claims.py`, `check.py`), and each equation must keep a root
of the one before it (`solving.py`). A step with a claim that is surely
false is `refuted` (reward 0), one with a claim shown true and none false `verified`
(1), one with nothing checkable `unchecked` (1). The item's reward is the final
answer's correctness, judged by the `math` verifier with the same options. Step
rewards can be transformed with Clip or Delta (`rewardgate.verifiers.shaping.steps`);
each step's details keep the raw reward and the claims checked.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.math import JUDGING_PACKAGES
from rewardgate.verifiers.math.models import MathOptions, MathReference
from rewardgate.verifiers.models import StepReward
from rewardgate.verifiers.shaping.steps import StepTransform, returns_to_go, transform

__all__ = ["MathStepsOptions", "MathStepsVerifier", "check_steps"]

MAX_SHOWN_CHARS = 300


class MathStepsOptions(MathOptions):
    transform: StepTransform = Field(
        default="none",
        description="Step rewards as checked, or Gao et al.'s Clip, Delta, or Clip then Delta.",
    )
    eta: float = Field(default=0.5, description="Clip: r' = min(r - eta, 0).")
    max_steps: int = Field(
        default=200, ge=1, description="Steps checked; later ones are left unchecked."
    )
    max_claims_per_step: int = Field(
        default=20, ge=1, description="Relations checked per step; later ones are left."
    )


def check_steps(steps: list[str], options: MathStepsOptions) -> list[tuple[str, list[Any]]]:
    """(label, claims) for each step, in order, definitions carried from step to step."""
    from rewardgate.verifiers.math_steps.check import Definitions, check_chain
    from rewardgate.verifiers.math_steps.claims import find_chains
    from rewardgate.verifiers.math_steps.solving import Solving, opens_alternatives

    definitions = Definitions()
    solving = Solving()
    checked: list[tuple[str, list[Any]]] = []
    for index, step in enumerate(steps):
        if index >= options.max_steps:
            checked.append(("unchecked", []))
            continue
        if opens_alternatives(step):
            definitions = Definitions()  # a case's values hold in that case only
        results = []
        for chain in find_chains(step, options.max_claims_per_step):
            results += check_chain(chain, definitions)
        results = solving.follow(step, results)
        statuses = {result.status for result in results}
        label = (
            "refuted"
            if "refuted" in statuses
            else "verified"
            if "verified" in statuses
            else "unchecked"
        )
        checked.append((label, results))
    return checked


class MathStepsVerifier(Verifier[MathReference, MathStepsOptions]):
    name = "math_steps"
    version = "1"
    description = (
        "Per-step rewards for math: each step's equations and numeric claims checked with "
        "sympy (verified / refuted / unchecked); reward = the final answer's correctness; "
        "Clip and Delta transforms."
    )
    Reference: ClassVar[type[BaseModel]] = MathReference
    Options: ClassVar[type[VerifierOptions]] = MathStepsOptions
    conformance = Conformance(
        full=Case("Step 1: $2+2=4$.\nStep 2: so the answer is \\boxed{4}.", "4"),
        zero=Case("Step 1: $2+2=5$.\nStep 2: so the answer is \\boxed{5}.", "4"),
        invalid=Case("\\boxed{4}", "4", {"no_such_option": 1}),
    )
    source_modules = ("rewardgate.verifiers.math",)
    judging_packages = JUDGING_PACKAGES

    def judge(self, response: str, reference: MathReference, options: MathStepsOptions) -> Verdict:
        from rewardgate.verifiers.math.judge import judge as judge_answer
        from rewardgate.verifiers.math_steps.split import split_steps

        final = judge_answer(response, reference.answer, options)
        steps = split_steps(response)
        checked = check_steps(steps, options)
        raw = [0.0 if label == "refuted" else 1.0 for label, _ in checked]
        shaped = transform(raw, options.transform, options.eta)
        to_go = returns_to_go(shaped)
        step_rewards = [
            StepReward(
                index=index,
                reward=shaped[index],
                label=label,
                details={
                    "text": _shown(step),
                    "raw_reward": raw[index],
                    "return": to_go[index],
                    "claims": [
                        {"claim": _shown(r.claim), "status": r.status, "reason": r.reason}
                        for r in results
                    ],
                },
            )
            for index, (step, (label, results)) in enumerate(zip(steps, checked, strict=True))
        ]
        labels = [label for label, _ in checked]
        details = {
            "answer": final.details,
            "refuted_steps": [i for i, label in enumerate(labels) if label == "refuted"],
            "verified_steps": labels.count("verified"),
            "unchecked_steps": labels.count("unchecked"),
        }
        return Verdict(final.reward, step_rewards, details)

    def warmup(self) -> None:
        """Load sympy's LaTeX parser and fill its tables before workers fork."""
        check_steps(["$2 + 3 = 5$, so $x = \\frac{10}{2}$ and 3 * 4 = 12"], MathStepsOptions())


def _shown(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "..."
