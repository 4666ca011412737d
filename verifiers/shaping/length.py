"""The `length` verifier: length shaping, DAPO's overlong penalty or cosine scaling.

The length |y| is `options.length` when the trainer passes it (its tokenizer's count,
the one that matters), else counted by `unit`: `auto` (the default) counts tokens of
the tokenizer the server names in its settings (`[verifiers.length] tokenizer`) when it has one and
whitespace-separated words otherwise; `tokens`, `words` and `chars` ask for one.

- `dapo` (DAPO's soft overlong punishment, as verl's DAPO reward manager applies it),
  with L = max_len, C = buffer, p = penalty_factor: 0 when |y| <= L - C;
  ((L - C) - |y|) / C * p when L - C < |y| <= L; -p when |y| > L.
- `cosine` (open-r1's `get_cosine_scaled_reward`, from "Demystifying Long
  Chain-of-Thought Reasoning"): r = lo + (hi - lo)(1 + cos(pi * min(|y|/max_len, 1)))/2,
  with [lo, hi] = [min_value_correct, max_value_correct] for a correct answer and
  [max_value_wrong, min_value_wrong] (swapped) for a wrong one, so short correct
  answers earn most and short wrong ones lose most. Correctness is `options.correct`
  when given, else the `math` verifier's verdict on the reference (math's reference).
  Unlike open-r1, |y| past max_len counts as max_len rather than wrapping around.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field, RootModel, model_validator

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.contract.settings import VerifierSettings
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest, VerifierError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["LengthOptions", "LengthSettings", "LengthVerifier", "cosine_reward", "dapo_reward"]


class LengthSettings(VerifierSettings):
    """The tokenizer this server counts tokens with (`[verifiers.length]`)."""

    legacy_keys = ("tokenizer",)

    tokenizer: Path | None = Field(
        None, description="tokenizer.json (or its folder) `length` counts tokens with."
    )


class LengthReference(RootModel[Any]):
    """Anything, kept as given: `cosine` reads it as math's reference (the gold)."""


class LengthOptions(VerifierOptions):
    mode: Literal["dapo", "cosine"] = Field(default="dapo", description="The shaping rule.")
    length: int | None = Field(
        default=None, ge=0, description="|y| as the trainer counted it (tokens); wins if given."
    )
    unit: Literal["auto", "words", "chars", "tokens"] = Field(
        default="auto",
        description="How |y| is counted without `length`: tokens of the server's "
        "`length_tokenizer`, whitespace words, characters; auto: tokens if the server has a "
        "tokenizer, else words.",
    )
    max_len: int = Field(default=1000, ge=1, description="L_max (dapo) or max_len (cosine).")
    buffer: int = Field(default=0, ge=0, description="dapo: the overlong buffer L_cache.")
    penalty_factor: float = Field(default=1.0, ge=0, description="dapo: the largest penalty.")
    min_value_wrong: float = Field(default=-1.0, description="cosine: reward of a short wrong.")
    max_value_wrong: float = Field(default=-0.5, description="cosine: reward of a long wrong.")
    min_value_correct: float = Field(default=0.5, description="cosine: reward of a long right.")
    max_value_correct: float = Field(default=1.0, description="cosine: reward of a short right.")
    correct: bool | None = Field(
        default=None, description="cosine: the answer's correctness, if known; else math's."
    )

    @model_validator(mode="after")
    def _consistent(self) -> LengthOptions:
        if self.mode == "dapo" and self.buffer > self.max_len:
            raise ValueError("buffer must not exceed max_len")
        return self


def dapo_reward(length: int, max_len: int, buffer: int, penalty_factor: float) -> float:
    """DAPO's soft overlong punishment (0 down to -penalty_factor)."""
    expected = max_len - buffer
    if length <= expected:
        return 0.0
    if length > max_len:
        return -penalty_factor
    return (expected - length) / buffer * penalty_factor


def cosine_reward(length: int, correct: bool, options: LengthOptions) -> float:
    """open-r1's cosine length scaling, with the length capped at max_len."""
    progress = min(length / options.max_len, 1.0)
    cosine = math.cos(progress * math.pi)
    if correct:
        low, high = options.min_value_correct, options.max_value_correct
    else:
        low, high = options.max_value_wrong, options.min_value_wrong
    return low + 0.5 * (high - low) * (1.0 + cosine)


@lru_cache(maxsize=4)
def _tokenizer(path: str) -> Tokenizer:
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise VerifierError(
            'length: tokens need the tokenizers package: pip install "rewardgate[server]"'
        ) from exc
    file = Path(path)
    if file.is_dir():
        file = file / "tokenizer.json"
    try:
        return Tokenizer.from_file(str(file))
    except Exception as exc:  # the library raises plain Exceptions for unreadable files
        raise VerifierError(f"length: cannot load the tokenizer {file}: {exc}") from None


class LengthVerifier(Verifier[LengthReference, LengthOptions]):
    name = "length"
    version = "1"
    description = (
        "Length shaping: DAPO's overlong penalty (max_len, buffer, penalty_factor) or "
        "cosine scaling by correctness; lengths from the trainer, words, chars or tokens."
    )
    Reference: ClassVar[type[BaseModel]] = LengthReference
    Options: ClassVar[type[VerifierOptions]] = LengthOptions
    conformance = Conformance(
        full=Case("word " * 10, None, {"unit": "words", "max_len": 60, "buffer": 20}),
        zero=Case("word " * 90, None, {"unit": "words", "max_len": 60, "buffer": 20}),
        invalid=Case("word", None, {"unit": "words", "max_len": 0}),
        full_reward=0.0,  # a penalty: nothing to take away
        zero_reward=-1.0,
    )
    judging_packages = ("tokenizers",)
    lowest_reward = -1.0
    Settings = LengthSettings
    settings: LengthSettings

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[LengthReference, LengthOptions]:
        prepared: Prepared[LengthReference, LengthOptions] = super().prepare(reference, options)
        opts = prepared.options
        if opts.length is None and opts.unit == "tokens" and not self._tokenizer_path():
            raise InvalidRequest(
                "options.unit: this server has no tokenizer (setting [verifiers.length] tokenizer, "
                "formerly length_tokenizer); "
                "pass options.length or count words or chars"
            )
        if opts.mode == "cosine" and opts.correct is None:
            self._math_prepared(prepared.reference)
        return prepared

    def lowest_reward_for(self, options: LengthOptions) -> float:
        if options.mode == "dapo":
            return -options.penalty_factor
        return min(
            options.min_value_wrong,
            options.max_value_wrong,
            options.min_value_correct,
            options.max_value_correct,
        )

    def _tokenizer_path(self) -> str | None:
        path = self.settings.tokenizer
        return str(path) if path else None

    def _math_prepared(self, reference: LengthReference) -> Prepared[Any, Any]:
        from rewardgate.verifiers.math import MathVerifier

        try:
            return MathVerifier(self.env).prepare(
                None if reference.root == {} else reference.root, None
            )
        except InvalidRequest as exc:
            raise InvalidRequest(
                f"cosine needs options.correct or a math reference: {exc.message}"
            ) from None

    def measure(self, response: str, options: LengthOptions) -> tuple[int, str]:
        """|y| and how it was counted."""
        if options.length is not None:
            return options.length, "given"
        if options.unit == "chars":
            return len(response), "chars"
        path = self._tokenizer_path()
        if options.unit == "tokens" or (options.unit == "auto" and path is not None):
            assert path is not None
            encoding = _tokenizer(path).encode(response, add_special_tokens=False)
            return len(encoding.ids), "tokens"
        return len(response.split()), "words"

    def judge(self, response: str, reference: LengthReference, options: LengthOptions) -> Verdict:
        length, counted = self.measure(response, options)
        details: dict[str, Any] = {"length": length, "counted": counted}
        if options.mode == "dapo":
            reward = dapo_reward(length, options.max_len, options.buffer, options.penalty_factor)
            return Verdict(reward, details=details)
        correct = options.correct
        if correct is None:
            from rewardgate.verifiers.math.judge import judge as math_judge

            prepared = self._math_prepared(reference)
            verdict = math_judge(response, prepared.reference.answer, prepared.options)
            correct = verdict.reward >= 1.0
            details["math"] = verdict.details
        details["correct"] = correct
        return Verdict(cosine_reward(length, correct, options), details=details)
