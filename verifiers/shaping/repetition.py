"""The `repetition` verifier: an n-gram repetition penalty.

From "Demystifying Long Chain-of-Thought Reasoning" (appendix C.2), as open-r1's
`get_repetition_penalty_reward` computes it: over the response's lower-cased
whitespace words (or its characters), the share of n-grams that repeat an earlier one,
1 - distinct/total, times `max_penalty` (<= 0). A response shorter than one n-gram
scores 0.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import NoReference, Verdict, Verifier, VerifierOptions

__all__ = ["RepetitionOptions", "RepetitionVerifier", "repetition_penalty"]


class RepetitionOptions(VerifierOptions):
    ngram_size: int = Field(default=3, ge=1, le=64, description="n of the n-grams.")
    max_penalty: float = Field(
        default=-1.0, le=0, description="Reward of a response that is all repeats (<= 0)."
    )
    unit: Literal["words", "chars"] = Field(
        default="words", description="n-grams of lower-cased words, or of characters."
    )


def repetition_penalty(response: str, options: RepetitionOptions) -> tuple[float, int, int]:
    """(reward, distinct n-grams, all n-grams)."""
    units: list[str] = list(response) if options.unit == "chars" else response.lower().split()
    n = options.ngram_size
    total = len(units) - n + 1
    if total <= 0:
        return 0.0, 0, 0
    distinct = len({tuple(units[i : i + n]) for i in range(total)})
    return (1 - distinct / total) * options.max_penalty, distinct, total


class RepetitionVerifier(Verifier[NoReference, RepetitionOptions]):
    name = "repetition"
    version = "1"
    description = (
        "N-gram repetition penalty (Demystifying Long CoT / open-r1): "
        "(1 - distinct/total n-grams) * max_penalty."
    )
    Options: ClassVar[type[VerifierOptions]] = RepetitionOptions
    conformance = Conformance(
        full=Case("one two three four five six seven eight nine ten"),
        zero=Case("the same line\n" * 40),
        invalid=Case("x", None, {"no_such_option": 1}),
        full_reward=0.0,  # a penalty: nothing to take away
        zero_reward=-0.9,  # at most: the penalty grows towards -1 with the repeats
    )
    lowest_reward = -1.0

    def lowest_reward_for(self, options: RepetitionOptions) -> float:
        return options.max_penalty

    def judge(self, response: str, reference: BaseModel, options: RepetitionOptions) -> Verdict:
        reward, distinct, total = repetition_penalty(response, options)
        # A zero penalty is written as 0.0, never -0.0.
        return Verdict(reward + 0.0, details={"distinct_ngrams": distinct, "ngrams": total})
