"""The judge's request models: what to ask (rubric), whom (endpoint name), how to read it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, RootModel, model_validator

from rewardgate.verifiers.base import VerifierOptions

__all__ = ["DEFAULT_RUBRIC", "JudgeOptions", "JudgeReference"]

DEFAULT_RUBRIC = """You are grading a response against a reference answer.

Reference answer:
{{reference}}

Response to grade:
{{response}}

Judge whether the response is correct and complete with respect to the reference.
Explain briefly, then end with a line of the form "Score: N", where N is an integer
from 0 (wrong) to 10 (fully correct)."""


class JudgeReference(RootModel[Any]):
    """The reference answer (a string), or an object whose keys the rubric may name."""


class JudgeOptions(VerifierOptions):
    endpoint: str | None = Field(
        default=None,
        description="Name of a server-configured endpoint; optional when there is only one.",
    )
    rubric: str = Field(
        default=DEFAULT_RUBRIC,
        min_length=1,
        max_length=100_000,
        description="Prompt template: {{response}}, {{reference}} and the reference's keys.",
    )
    system: str | None = Field(default=None, description="System message, if any.")
    score_pattern: str = Field(
        default=r"(?i)score(?:\s*\([^)]*\))?[\s:*=]*(-?\d+(?:\.\d+)?)",
        description="Regex whose first group is the score; the last match counts.",
    )
    score_range: tuple[float, float] = Field(
        default=(0.0, 10.0), description="[worst, best] scores; the reward maps them to [0, 1]."
    )
    labels: dict[str, float] | None = Field(
        default=None,
        description='Read a verdict word instead of a number, e.g. {"correct": 1, '
        '"incorrect": 0}; the last label in the output counts.',
    )
    temperature: float = Field(
        default=0.0, ge=0, le=2, description="Sampling temperature; above 0 is never cached."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, le=32_768, description="Completion tokens; the endpoint's if unset."
    )
    seed: int | None = Field(default=None, description="Sampling seed, where the server has it.")

    @model_validator(mode="after")
    def _consistent(self) -> JudgeOptions:
        low, high = self.score_range
        if not low < high:
            raise ValueError("score_range must be [worst, best] with worst < best")
        if self.labels is not None and not self.labels:
            raise ValueError("labels must name at least one label")
        return self
