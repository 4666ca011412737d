"""The `preference` verifier: a generative reward model's judgement against the gold one.

Generative reward models (RM-R1, R1-Reward, JudgeLM-style judges) are trained with RL
on a rule: the judge's verdict names the preferred response, and a verdict that agrees
with the gold label earns 1, a wrong one 0, one that cannot be read the preset's
penalty. The response is the judge's output; the verdict is read from its last
`<answer>...</answer>` if it has one, else from the whole text:

- a label `[[A]]` / `[[B]]` (letters name responses in order) or `[[1]]` / `[[2]]`
  (1-based numbers), the last one counting; a judgement naming two different
  responses (`[[A]] or [[B]]`) cannot be read;
- per-response scores `[[7, 3]]` (one number per response, in order): the highest
  score is the preferred one; a tie prefers none and is wrong.

The reference is `{"preferred": "A" | "B" | int}` (an int is the 1-based number of the
response, so `2` is `B`; RM-R1's labels `model_a` / `model_b` read as A / B) and, for
best-of-n, `n` (how many responses were judged; labels past it cannot be read).

Preset `rm_r1` reproduces RM-R1's `verl/utils/reward_score/lm_as_judge.py` exactly: in
the last 80 characters, `<answer>[[A]]</answer>` for gold A without
`<answer>[[B]]</answer>` earns 1, anything else -1. Preset `r1_reward` reproduces
R1-Reward's `0.5 * format + accuracy * (1 + 0.5 * consistency)` (see `r1_reward.py`).
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import (
    FrozenDetails,
    FrozenList,
    Prepared,
    Verdict,
    Verifier,
    VerifierOptions,
)
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.math import JUDGING_PACKAGES
from rewardgate.verifiers.preference.r1_reward import r1_reward
from rewardgate.verifiers.qa.tags import last_answer

__all__ = [
    "Judged",
    "PreferenceOptions",
    "PreferenceReference",
    "PreferenceVerifier",
    "read_verdict",
]

_LABEL = re.compile(r"\[\[\s*([A-Za-z]|\d{1,4})\s*\]\]")
_NUMBER = r"[-+]?(?:\d{1,12}(?:\.\d{0,12})?|\.\d{1,12})"
_SCORES = re.compile(rf"\[\[\s*({_NUMBER}(?:\s*,\s*{_NUMBER}){{1,63}})\s*\]\]")
_LETTERS = string.ascii_uppercase
_LETTER_NUMBER = {c: i + 1 for i, c in enumerate(_LETTERS)} | {
    c.lower(): i + 1 for i, c in enumerate(_LETTERS)
}
MAX_N = 26
RM_R1_TAIL = 80


class PreferenceReference(BaseModel):
    """`{"preferred": "A" | "B" | int, "n"?: int}`; a bare label reads as `preferred`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preferred: int = Field(ge=1, le=MAX_N, description="1-based number of the gold response.")
    n: int | None = Field(default=None, ge=2, le=MAX_N, description="Responses judged.")

    @model_validator(mode="before")
    @classmethod
    def _shapes(cls, data: Any) -> Any:
        if isinstance(data, (str, int)):
            data = {"preferred": data}
        if isinstance(data, dict) and isinstance(data.get("preferred"), str):
            data = {**data, "preferred": _label_number(data["preferred"])}
        if isinstance(data, dict) and isinstance(data.get("preferred"), bool):
            raise ValueError("preferred: a label or a number, not a boolean")
        return data


def _label_number(label: str) -> Any:
    text = label.strip()
    lowered = text.lower()
    if lowered.startswith("model_"):
        text = text[len("model_") :]
    if len(text) == 1 and text.upper() in _LETTERS:
        return _LETTERS.index(text.upper()) + 1
    if text.isdigit():
        return int(text)
    return label  # fails validation with pydantic's message


class PreferenceOptions(VerifierOptions):
    format: Literal["pairwise", "best_of_n"] = Field(
        default="pairwise", description="Two responses, or n of them."
    )
    preset: Literal["rm_r1", "r1_reward"] | None = Field(
        default=None, description="A paper's own rule."
    )
    consistency: Literal[-1, 0, 1] | None = Field(
        default=None,
        description=(
            "r1_reward: the LLM referee's verdict on whether the judge's reasoning agrees "
            "with its answer (1, -1; 0 or none: no referee), which the service does not run."
        ),
    )
    correct_reward: float = Field(default=1.0)
    wrong_reward: float = Field(default=0.0)
    unparsable_reward: float = Field(default=0.0, description="A verdict that cannot be read.")


def read_verdict(text: str, n: int | None) -> tuple[int | None, dict[str, Any]]:
    """The 1-based number of the response the judge prefers (0: a tie), or None, and the
    evidence (the start of the verdict's `details`).

    `n` is how many responses were judged, None when the reference does not say. The
    regexes run only on text that can hold what they look for (`[[`, a comma for scores):
    on the common judgement this reading is most of an item's cost.
    """
    region = last_answer(text)
    evidence: dict[str, Any] = {"region": "response" if region is None else "answer_tag"}
    if region is None:
        region = text
    if "[[" not in region:
        evidence["labels"], evidence["reason"] = [], "no verdict"
        return None, evidence
    scores = _SCORES.findall(region) if "," in region else None
    if scores:
        values = [float(v) for v in scores[-1].split(",")]
        evidence["scores"] = values
        if n is not None and len(values) != n:
            evidence["reason"] = f"{len(values)} scores for {n} responses"
            return None, evidence
        best = max(values)
        if values.count(best) > 1:
            evidence["reason"] = "tie"
            return 0, evidence
        return values.index(best) + 1, evidence
    # The common judgement, one `[[A]]` in the region, is read without the regex (a third
    # of an item's cost): only where no other `[[` starts, so the regex could match only
    # there, and only a single ASCII letter between it and the first `]]` (as `\s` and
    # `strip()` agree on whitespace), so it would match exactly that label.
    at = region.find("[[")
    end = region.find("]]", at + 2) if region.find("[[", at + 1) < 0 else -1
    inner = region[at + 2 : end].strip() if end > 0 else ""
    if len(inner) == 1 and inner in _LETTER_NUMBER:
        picks = [_LETTER_NUMBER[inner]]
    else:
        labels = _LABEL.findall(region)
        picks = [_pick(labels[0])] if len(labels) == 1 else sorted({_pick(x) for x in labels})
    evidence["labels"] = picks
    if not picks:
        evidence["reason"] = "no verdict"
        return None, evidence
    if len(picks) > 1:
        evidence["reason"] = "ambiguous verdict"
        return None, evidence
    [pick] = picks
    if not 1 <= pick <= (n or MAX_N):
        evidence["reason"] = f"response {pick} of {n}"
        return None, evidence
    return pick, evidence


def _common_verdict(
    region: str | None, gold: int, n: int | None, rewards: Judged
) -> Verdict | None:
    """The usual judgement, one `[[X]]` letter in the last answer tag, read and built in
    one go (half an item's cost was the general reading's steps); None sends anything
    else to `read_verdict`. Same verdict, same details in the same order (tested on
    random texts against the general reading). `region` is the response's last answer
    tag's content."""
    if region is None or "," in region:
        return None
    at = region.find("[[")
    if at < 0 or region.find("[[", at + 1) >= 0:
        return None
    end = region.find("]]", at + 2)
    pick = _LETTER_NUMBER.get(region[at + 2 : end].strip()) if end > 0 else None
    if pick is None or pick > (n or MAX_N):
        return None
    correct = pick == gold
    return Verdict(
        rewards.correct_reward if correct else rewards.wrong_reward,
        None,
        {
            "region": "answer_tag",
            "labels": [pick],
            "verdict": pick,
            "preferred": gold,
            "parsed": True,
            "correct": correct,
        },
    )


def _pick(label: str) -> int:
    number = _LETTER_NUMBER.get(label)
    return int(label) if number is None else number


_RM_R1_TAGS = {
    1: ("<answer>[[A]]</answer>", "<answer>[[B]]</answer>"),
    2: ("<answer>[[B]]</answer>", "<answer>[[A]]</answer>"),
}


def rm_r1(text: str, preferred: int) -> float:
    """RM-R1's `answer_reward`: the tag of the gold response, and not the other's, at the end."""
    tail = text[-RM_R1_TAIL:]
    mine, other = _RM_R1_TAGS[preferred]
    return 1.0 if mine in tail and other not in tail else -1.0


@lru_cache(maxsize=256)
def _rm_r1_outcomes(preferred: int) -> tuple[str, str, Verdict, Verdict]:
    """The gold's tag, the other's, and RM-R1's two verdicts for it, built once: RM-R1's
    whole reward is two substring tests, so one verdict built per item cost three times
    the reward (bench/cheap_verifiers.py)."""
    mine, other = _RM_R1_TAGS[preferred]
    lose, win = (
        Verdict(reward, None, FrozenDetails({"preferred": preferred, "correct": reward > 0}))
        for reward in (-1.0, 1.0)
    )
    return mine, other, lose, win


@lru_cache(maxsize=1024)
def _usual_verdicts(
    gold: int, n: int | None, correct_reward: float, wrong_reward: float
) -> dict[str, Verdict]:
    """The verdict of each usual answer region, `[[A]]` ... (a letter, either case, of a
    response that exists), built once per gold: building a verdict and its details was
    half an item's cost. Each is what the general reading gives for that region (tested),
    with read-only details, since one is returned for many items."""
    table = {}
    for letter, pick in _LETTER_NUMBER.items():
        if pick > (n or MAX_N):
            continue
        correct = pick == gold
        details = {
            "region": "answer_tag",
            "labels": FrozenList([pick]),
            "verdict": pick,
            "preferred": gold,
            "parsed": True,
            "correct": correct,
        }
        reward = correct_reward if correct else wrong_reward
        table[f"[[{letter}]]"] = Verdict(reward, None, FrozenDetails(details))
    return table


class Judged:
    """A prepared item as `judge` reads it: plain slots, not the pydantic models (reading
    a model's attribute costs several times a plain one's, and for this verifier those
    reads were a quarter of an item; bench/cheap_verifiers.py). `reference` and
    `options` keep the validated models for everything else."""

    __slots__ = (
        "consistency",
        "correct_reward",
        "gold",
        "n",
        "r1_reward",
        "reference",
        "rm_r1",
        "unparsable_reward",
        "usual",
        "wrong_reward",
    )

    def __init__(self, reference: PreferenceReference, options: PreferenceOptions) -> None:
        self.reference = reference
        self.gold = reference.preferred
        self.n = PreferenceVerifier.candidates(reference, options)
        self.rm_r1 = _rm_r1_outcomes(self.gold) if options.preset == "rm_r1" else None
        self.r1_reward = options.preset == "r1_reward"
        self.consistency = options.consistency
        self.correct_reward = options.correct_reward
        self.wrong_reward = options.wrong_reward
        self.unparsable_reward = options.unparsable_reward
        self.usual = _usual_verdicts(self.gold, self.n, self.correct_reward, self.wrong_reward)


class PreferenceVerifier(Verifier[Judged, PreferenceOptions]):
    name = "preference"
    version = "1"
    description = (
        "Generative reward models (RM-R1, R1-Reward): the judge's [[A]]/[[B]] label or "
        "per-response scores against the gold preference, pairwise or best-of-n."
    )
    Reference: ClassVar[type[BaseModel]] = PreferenceReference
    Options: ClassVar[type[VerifierOptions]] = PreferenceOptions
    conformance = Conformance(
        full=Case("<answer>[[A]]</answer>", "A"),
        zero=Case("<answer>[[A]] or [[B]]</answer>", "A"),
        invalid=Case("[[A]]", "Z"),  # neither A nor B
    )
    source_modules = ("rewardgate.verifiers.qa", "rewardgate.verifiers.math")
    judging_packages = JUDGING_PACKAGES  # r1_reward reads its answer as `math` does

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[Judged, PreferenceOptions]:
        prepared: Prepared[PreferenceReference, PreferenceOptions] = super().prepare(
            reference, options
        )
        ref, opts = prepared.reference, prepared.options
        n = self.candidates(ref, opts)
        if opts.format == "pairwise" and ref.n not in (None, 2):
            raise InvalidRequest("reference.n: pairwise judges two responses")
        if ref.preferred > (n or MAX_N):
            raise InvalidRequest(f"reference.preferred: response {ref.preferred} of {n or MAX_N}")
        if opts.preset is not None and opts.format != "pairwise":
            raise InvalidRequest(f"options.preset: {opts.preset} is pairwise")
        if opts.consistency is not None and opts.preset != "r1_reward":
            raise InvalidRequest("options.consistency: only preset r1_reward uses it")
        return Prepared(Judged(ref, opts), opts)

    def reference_key(self, reference: Judged) -> Any:
        return reference.reference.model_dump(mode="json")

    @staticmethod
    def candidates(reference: PreferenceReference, options: PreferenceOptions) -> int | None:
        if options.format == "pairwise":
            return 2
        return reference.n

    def lowest_reward_for(self, options: PreferenceOptions) -> float:
        if options.preset == "rm_r1":
            return -1.0
        if options.preset == "r1_reward":
            return 0.0
        return min(options.correct_reward, options.wrong_reward, options.unparsable_reward)

    def judge(self, response: str, reference: Judged, options: PreferenceOptions) -> Verdict:
        # Everything is read from `reference` (plain slots) and verdicts are prebuilt
        # where the outcomes are few: these few steps are the whole cost of an item.
        rm_r1 = reference.rm_r1
        if rm_r1 is not None:  # RM-R1's answer_reward, inlined (the call was a fifth)
            tail = response[-RM_R1_TAIL:]
            mine, other, lose, win = rm_r1
            return win if mine in tail and other not in tail else lose
        gold = reference.gold
        if reference.r1_reward:
            return r1_reward(response, gold, reference.consistency)
        region = last_answer(response)
        if region is not None:
            usual = reference.usual.get(region)
            if usual is not None:
                return usual
        n = reference.n
        common = _common_verdict(region, gold, n, reference)
        if common is not None:
            return common
        pick, details = read_verdict(response, n)
        details["verdict"], details["preferred"] = pick, gold
        if pick is None:
            details["parsed"] = False
            return Verdict(reference.unparsable_reward, None, details)
        correct = pick == gold
        details["parsed"], details["correct"] = True, correct
        reward = reference.correct_reward if correct else reference.wrong_reward
        return Verdict(reward, None, details)
