"""The `string` verifier: the response (or a part of it) against reference strings.

Like OpenAI's `string_check` and `text_similarity` graders: `eq`, `ne`, `ieq`
(case-insensitive equality), `like` / `ilike` (the reference occurs in the response,
case-sensitive / not), `regex` (the reference is a pattern searched for in the
response) give 1 or 0. The similarities give a score in [0, 1], or 1/0 against
`pass_threshold` when set: `fuzzy` is rapidfuzz's normalised similarity (1 - Indel
distance / total length), `rouge_1`, `rouge_2` and `rouge_l` the ROUGE F1 of
lower-cased word n-grams and of their longest common subsequence.

The reference is a string, a list of acceptable strings (the best score counts),
`{"value": ...}` or `{"answer": ...}`. `extract` (a regex; its first group if it has
one) picks the part of the response to compare, the last match counting, as a final
answer comes last; a response it finds nothing in scores 0.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["StringOptions", "StringReference", "StringVerifier"]

Operation = Literal[
    "eq", "ne", "ieq", "like", "ilike", "regex", "fuzzy", "rouge_1", "rouge_2", "rouge_l"
]
SIMILARITIES = frozenset({"fuzzy", "rouge_1", "rouge_2", "rouge_l"})
_WORDS = re.compile(r"\w+")


class StringReference(BaseModel):
    """`{"value": "..."}`, `{"value": [...]}`, or the bare string or list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        if isinstance(data, (str, list, tuple)):
            data = {"value": data}
        if isinstance(data, dict) and set(data) == {"answer"}:
            data = {"value": data["answer"]}  # datasets' usual key
        if isinstance(data, dict) and isinstance(data.get("value"), str):
            data = {**data, "value": (data["value"],)}
        return data


class StringOptions(VerifierOptions):
    operation: Operation = Field(default="eq", description="How the strings are compared.")
    extract: str | None = Field(
        default=None, description="Regex picking the compared part (group 1 if any; last match)."
    )
    strip: bool = Field(default=True, description="Strip surrounding whitespace first.")
    collapse_whitespace: bool = Field(
        default=False, description="Read every run of whitespace as one space."
    )
    pass_threshold: float | None = Field(
        default=None, ge=0, le=1, description="fuzzy: 1 at or above this similarity, else 0."
    )

    @model_validator(mode="before")
    @classmethod
    def _openai_names(cls, data: Any) -> Any:
        """OpenAI's text_similarity calls the fuzzy operation `fuzzy_match`."""
        if isinstance(data, dict) and data.get("operation") == "fuzzy_match":
            return {**data, "operation": "fuzzy"}
        return data


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.S)


def _normal(text: str, options: StringOptions) -> str:
    if options.collapse_whitespace:
        text = re.sub(r"\s+", " ", text)
    return text.strip() if options.strip else text


def score(candidate: str, value: str, options: StringOptions) -> float:
    """One reference's score for an already normalised candidate."""
    op = options.operation
    if op == "eq":
        return float(candidate == value)
    if op == "ne":
        return float(candidate != value)
    if op == "ieq":
        return float(candidate.casefold() == value.casefold())
    if op == "like":
        return float(value in candidate)
    if op == "ilike":
        return float(value.casefold() in candidate.casefold())
    if op == "regex":
        return float(_compile(value).search(candidate) is not None)
    similarity = _similarity(candidate, value, op)
    if options.pass_threshold is None:
        return similarity
    return float(similarity >= options.pass_threshold)


def _similarity(candidate: str, value: str, op: str) -> float:
    if op == "fuzzy":
        from rapidfuzz.fuzz import ratio

        return float(ratio(candidate, value)) / 100.0
    ours, theirs = _WORDS.findall(candidate.lower()), _WORDS.findall(value.lower())
    if op == "rouge_l":
        from rapidfuzz.distance import LCSseq

        overlap = float(LCSseq.similarity(ours, theirs))
        return _f1(overlap, len(ours), len(theirs))
    n = 1 if op == "rouge_1" else 2
    mine, gold = _ngrams(ours, n), _ngrams(theirs, n)
    overlap = float(sum((mine & gold).values()))
    return _f1(overlap, sum(mine.values()), sum(gold.values()))


def _ngrams(words: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def _f1(overlap: float, predicted: int, gold: int) -> float:
    if not overlap:
        return 0.0
    precision, recall = overlap / predicted, overlap / gold
    return 2 * precision * recall / (precision + recall)


class StringVerifier(Verifier[StringReference, StringOptions]):
    name = "string"
    version = "1"
    description = (
        "String checks like OpenAI's string_check / text_similarity: eq, ne, ieq, like, "
        "ilike, regex; fuzzy and ROUGE-1/2/L similarity; optional extraction by regex."
    )
    Reference: ClassVar[type[BaseModel]] = StringReference
    Options: ClassVar[type[VerifierOptions]] = StringOptions
    conformance = Conformance(
        full=Case("paris", "paris"),
        zero=Case("Lyon", "paris"),
        invalid=Case("paris", "paris", {"no_such_option": 1}),
    )
    judging_packages = ("rapidfuzz",)

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[StringReference, StringOptions]:
        prepared: Prepared[StringReference, StringOptions] = super().prepare(reference, options)
        patterns = [("options.extract", prepared.options.extract)]
        if prepared.options.operation == "regex":
            patterns += [("reference.value", value) for value in prepared.reference.value]
        for where, pattern in patterns:
            if pattern is None:
                continue
            try:
                _compile(pattern)
            except re.error as exc:
                raise InvalidRequest(f"{where}: not a regex: {exc}") from None
        return prepared

    def judge(self, response: str, reference: StringReference, options: StringOptions) -> Verdict:
        candidate = response
        if options.extract is not None:
            matches = list(_compile(options.extract).finditer(response))
            if not matches:
                return Verdict(0.0, details={"extracted": None})
            last = matches[-1]
            candidate = last.group(1) if last.re.groups else last.group(0)
        candidate = _normal(candidate, options)
        values = [
            value if options.operation == "regex" else _normal(value, options)
            for value in reference.value
        ]
        scores = [score(candidate, value, options) for value in values]
        best = max(range(len(scores)), key=scores.__getitem__)
        details: dict[str, Any] = {"candidate": candidate[:300], "matched": values[best][:300]}
        if options.operation in SIMILARITIES:
            details["scores"] = scores
        return Verdict(scores[best], details=details)
