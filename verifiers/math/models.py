"""The math verifier's reference and options, as trainers send them.

The math-verify knobs keep math-verify's names and defaults so a caller moving from
`math_verify.verify(...)` passes the same values; the rest are our extensions, each on
the side that is harder to hack.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from rewardgate.verifiers.base import VerifierOptions

__all__ = ["BoxedMode", "ExtractionTarget", "MathOptions", "MathReference"]

BoxedMode = Literal["last", "first", "any"]
ExtractionTarget = Literal["latex", "expr", "string"]


class MathReference(BaseModel):
    """The gold answer: `42`, `$\\frac{1}{2}$`, text containing `\\boxed{...}`, or a letter.

    A bare string or number is accepted as the whole reference, since that is what most
    datasets carry (GSM8K-style data often stores the gold as a JSON number).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="The gold answer; LaTeX may be bare, in $...$ or in \\boxed{}."
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_string(cls, data: Any) -> Any:
        if isinstance(data, (str, int, float)) and not isinstance(data, bool):
            return {"answer": data}
        return data

    @field_validator("answer", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return repr(value) if isinstance(value, float) else str(value)
        return value  # anything else that is not text is refused by the type


class MathOptions(VerifierOptions):
    """How the final answer is found in the response and how it is compared with the gold."""

    boxed: BoxedMode = Field(
        default="last",
        description=(
            "Which \\boxed{} answer counts when there are several: the last group of boxes "
            "(boxes joined by 'and', ',' or ';' form one answer, a correction such as "
            "'wait, actually' starts a new one), the first group, or 'any': the whole "
            "response goes to math-verify, which reads the boxes nearest the end."
        ),
    )
    reject_multiple_answers: bool = Field(
        default=False,
        description="Score 0 when the boxed answers of one response are not all equivalent.",
    )
    require_box: bool = Field(
        default=False,
        description="Score 0 when the response has no \\boxed{} answer (no plain-text fallback).",
    )
    inequality_intervals: bool = Field(
        default=True,
        description=(
            "Compare an inequality in one variable against constants (x > 2, 2 < x < 5) with "
            "an interval in both directions; off leaves math-verify's rule (only a gold "
            "inequality against a predicted interval)."
        ),
    )
    ordered: bool = Field(
        default=False,
        description=(
            "A gold that is a bare list (1, 3, 5) needs its items in the same order; off, "
            "any order matches."
        ),
    )
    decimal_comma: bool = Field(
        default=False,
        description=(
            "Read a single comma between digits (1,5) as a decimal point; off, a comma "
            "between numbers makes a list unless it groups digits in threes (7,425,000)."
        ),
    )
    imaginary_unit: bool = Field(
        default=True,
        description="Read a free symbol i as the imaginary unit, so e^{i\\pi} = -1.",
    )
    max_answer_chars: int = Field(
        default=1000,
        ge=1,
        description="A boxed answer longer than this scores 0 without being parsed.",
    )
    float_rounding: int = Field(
        default=6, ge=0, le=100, description="math-verify: decimal places floats are rounded to."
    )
    numeric_precision: int = Field(
        default=15, ge=1, le=1000, description="math-verify: significant digits for evalf."
    )
    strict: bool = Field(
        default=True,
        description="math-verify: variables matter (f(x) != f(y)) and sets are not tuples.",
    )
    allow_set_relation_comp: bool = Field(
        default=False,
        description=(
            "math-verify: compare any predicted relation with a gold set through its solution "
            "set (also lets a restated equation match its roots)."
        ),
    )
    extraction: tuple[ExtractionTarget, ...] = Field(
        default=("latex", "expr"),
        min_length=1,
        description="math-verify extraction targets, in order (LaTeX, plain expressions, A-D).",
    )
    boxed_match_priority: int = Field(
        default=50,
        ge=-1,
        description=(
            "math-verify: rank of \\boxed{} among its answer patterns (0 before 'final answer "
            "is', 50 after); -1 ignores boxes, which also turns `boxed` selection off."
        ),
    )
    try_extract_without_anchor: bool = Field(
        default=True,
        description="math-verify: without an anchor ('answer', a box), take the last math seen.",
    )
