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
`<answer>[[B]]</answer>` earns 1, anything else -1.
"""

from __future__ import annotations

import re
import string
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.qa.tags import answer_tags

__all__ = ["PreferenceOptions", "PreferenceReference", "PreferenceVerifier", "read_verdict"]

_LABEL = re.compile(r"\[\[\s*([A-Za-z]|\d{1,4})\s*\]\]")
_NUMBER = r"[-+]?(?:\d{1,12}(?:\.\d{0,12})?|\.\d{1,12})"
_SCORES = re.compile(rf"\[\[\s*({_NUMBER}(?:\s*,\s*{_NUMBER}){{1,63}})\s*\]\]")
_LETTERS = string.ascii_uppercase
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
    preset: Literal["rm_r1"] | None = Field(default=None, description="A paper's own rule.")
    correct_reward: float = Field(default=1.0)
    wrong_reward: float = Field(default=0.0)
    unparsable_reward: float = Field(default=0.0, description="A verdict that cannot be read.")


def read_verdict(text: str, n: int | None) -> tuple[int | None, dict[str, Any]]:
    """The 1-based number of the response the judge prefers (0: a tie), or None.

    `n` is how many responses were judged, None when the reference does not say.
    """
    answers = answer_tags(text)
    region = answers[-1] if answers else text
    evidence: dict[str, Any] = {"region": "answer_tag" if answers else "response"}
    scores = list(_SCORES.finditer(region))
    if scores:
        values = [float(v) for v in scores[-1].group(1).split(",")]
        evidence["scores"] = values
        if n is not None and len(values) != n:
            evidence["reason"] = f"{len(values)} scores for {n} responses"
            return None, evidence
        best = max(values)
        if values.count(best) > 1:
            evidence["reason"] = "tie"
            return 0, evidence
        return values.index(best) + 1, evidence
    picks = {_pick(label.group(1)) for label in _LABEL.finditer(region)}
    evidence["labels"] = sorted(p for p in picks if p is not None)
    if not picks:
        evidence["reason"] = "no verdict"
        return None, evidence
    if len(picks) > 1 or None in picks:
        evidence["reason"] = "ambiguous verdict"
        return None, evidence
    [pick] = picks
    assert pick is not None
    if not 1 <= pick <= (n or MAX_N):
        evidence["reason"] = f"response {pick} of {n}"
        return None, evidence
    return pick, evidence


def _pick(label: str) -> int | None:
    if label.isdigit():
        return int(label)
    return _LETTERS.index(label.upper()) + 1


def rm_r1(text: str, preferred: int) -> float:
    """RM-R1's `answer_reward`: the tag of the gold response, and not the other's, at the end."""
    tail = text[-RM_R1_TAIL:]
    mine, other = ("A", "B") if preferred == 1 else ("B", "A")
    ok = f"<answer>[[{mine}]]</answer>" in tail and f"<answer>[[{other}]]</answer>" not in tail
    return 1.0 if ok else -1.0


class PreferenceVerifier(Verifier[PreferenceReference, PreferenceOptions]):
    name = "preference"
    version = "1"
    description = (
        "Generative reward models (RM-R1, R1-Reward): the judge's [[A]]/[[B]] label or "
        "per-response scores against the gold preference, pairwise or best-of-n."
    )
    Reference: ClassVar[type[BaseModel]] = PreferenceReference
    Options: ClassVar[type[VerifierOptions]] = PreferenceOptions
    source_modules = ("rewardgate.verifiers.qa",)  # its <answer> scan

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[PreferenceReference, PreferenceOptions]:
        prepared: Prepared[PreferenceReference, PreferenceOptions] = super().prepare(
            reference, options
        )
        ref, opts = prepared.reference, prepared.options
        n = self.candidates(ref, opts)
        if opts.format == "pairwise" and ref.n not in (None, 2):
            raise InvalidRequest("reference.n: pairwise judges two responses")
        if ref.preferred > (n or MAX_N):
            raise InvalidRequest(f"reference.preferred: response {ref.preferred} of {n or MAX_N}")
        if opts.preset == "rm_r1" and opts.format != "pairwise":
            raise InvalidRequest("options.preset: rm_r1 is pairwise")
        return prepared

    @staticmethod
    def candidates(reference: PreferenceReference, options: PreferenceOptions) -> int | None:
        if options.format == "pairwise":
            return 2
        return reference.n

    def lowest_reward_for(self, options: PreferenceOptions) -> float:
        if options.preset == "rm_r1":
            return -1.0
        return min(options.correct_reward, options.wrong_reward, options.unparsable_reward)

    def judge(
        self, response: str, reference: PreferenceReference, options: PreferenceOptions
    ) -> Verdict:
        gold = reference.preferred
        if options.preset == "rm_r1":
            reward = rm_r1(response, gold)
            return Verdict(reward, details={"preferred": gold, "correct": reward > 0})
        pick, evidence = read_verdict(response, self.candidates(reference, options))
        details = {"verdict": pick, "preferred": gold, **evidence}
        if pick is None:
            return Verdict(options.unparsable_reward, details={**details, "parsed": False})
        correct = pick == gold
        reward = options.correct_reward if correct else options.wrong_reward
        return Verdict(reward, details={**details, "parsed": True, "correct": correct})
