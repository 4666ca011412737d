"""The chart verifier's reference and options, and the terms its reward mixes.

The reward is a weighted mean of five terms, each in [0, 1]:

* `pixels`: the rendered charts compared by the shared image metrics
  (`rewardgate.verifiers.image`) under `preset` or `pixel_weights`; the RRVF-style
  visual signal, without RRVF's model judge.
* `text`, `layout`, `type`, `color`: ChartMimic's low-level scores (the F1 of the
  drawn texts, of the subplot grid positions, of the chart types, and the CIEDE2000
  colour score; see `metrics`). ChartMimic reports their mean; here each is a term.

Default weights are all 1: the mean of the pixel score and ChartMimic's four scores.
A `target_png` has no structure to compare, so only `pixels` can be weighted with one.

Preset `chartmimic` reproduces ChartMimic's code (`code4evaluation.py`'s text, layout,
type and colour evaluators; checked against it in tests/verifiers/chartmimic_reference/):
its four scores weigh 1 each and the pixels 0, tick labels are left out of the text
score, colours are read from ChartMimic's own log (`color_reading="chartmimic"`) and
two empty sides score 0. Options the request sets win over the preset's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardgate.verifiers.evidence_images import EvidenceOptions
from rewardgate.verifiers.image.presets import PIXEL_TERMS

__all__ = [
    "CHARTMIMIC",
    "DEFAULT_WEIGHTS",
    "MAX_SCRIPT_CHARS",
    "STRUCTURE_TERMS",
    "TERMS",
    "ChartOptions",
    "ChartReference",
    "Term",
]

MAX_SCRIPT_CHARS = 200_000
Term = Literal["pixels", "text", "layout", "type", "color"]
TERMS: tuple[Term, ...] = ("pixels", "text", "layout", "type", "color")
STRUCTURE_TERMS: tuple[Term, ...] = ("text", "layout", "type", "color")
DEFAULT_WEIGHTS: dict[Term, float] = dict.fromkeys(TERMS, 1.0)
CHARTMIMIC: dict[str, object] = {
    "weights": {"pixels": 0.0, "text": 1.0, "layout": 1.0, "type": 1.0, "color": 1.0},
    "tick_labels": "none",
    "color_reading": "chartmimic",
    "empty_sides": "zero",
}


class ChartReference(BaseModel):
    """The target chart: plotting code (rendered like the response) or an image."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target_code: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_SCRIPT_CHARS,
        description="The target's matplotlib script, run in the sandbox like the response "
        "(its render and record are cached by the code's hash).",
    )
    target_png: str | None = Field(
        None,
        min_length=1,
        description="The target as an image file (PNG, JPEG...): base64, or "
        "`asset:<sha256>`. Only the pixel term can be scored against it.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> ChartReference:
        if (self.target_code is None) == (self.target_png is None):
            raise ValueError("give exactly one of target_code and target_png")
        return self


class ChartOptions(EvidenceOptions):
    """How the script is run and the charts compared."""

    weights: dict[Term, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description="Weight of each term: pixels, text, layout, type, color (missing = 0).",
    )
    preset: Literal["default", "starvector", "chartmimic"] = Field(
        "default",
        description="`default` / `starvector`: the pixel metric mix of the `pixels` term "
        "(image presets). `chartmimic`: ChartMimic's four scores exactly (weights "
        "text/layout/type/color 1, pixels 0; tick_labels none; color_reading chartmimic; "
        "empty_sides zero; the default pixel mix if pixels are weighted).",
    )
    color_reading: Literal["chart_type", "chartmimic"] = Field(
        "chart_type",
        description="How the colour score groups colours. `chart_type` (rewardgate's): by "
        "the chart type the script called, every artist's final colour, the saved figure "
        "only. `chartmimic`: by the matplotlib function that logged the colour (barh "
        "under bar, an errorbar's line with plot lines), one entry per function and "
        "colour at call time (recoloured artists collapse), every figure.",
    )
    empty_sides: Literal["agree", "zero"] = Field(
        "agree",
        description="Two empty sides of a structure score (no texts, no colours...): "
        "`agree` scores 1, `zero` scores 0 (ChartMimic's rule).",
    )
    pixel_weights: dict[str, float] | None = Field(
        None, description=f"Custom pixel metric weights instead of the preset's: {PIXEL_TERMS}."
    )
    tick_labels: Literal["fixed", "none", "all"] = Field(
        "fixed",
        description="Tick labels in the text score: `fixed` (those the script set, such as "
        "category names; not a locator's numbers), `none` (ChartMimic's rule), `all`.",
    )
    size: int = Field(512, ge=32, le=2048, description="Side of the square comparison canvas.")
    dpi: int = Field(100, ge=20, le=300, description="Resolution the harness saves at.")
    figsize: tuple[float, float] = Field(
        (6.4, 4.8),
        description="Default figure size in inches (a script's own figsize is kept).",
    )
    seed: int = Field(0, ge=0, description="Seed of `random` and `numpy.random` in each run.")
    time_limit_s: float = Field(
        20.0, gt=0, le=300, description="Wall-clock limit of the script, its render included."
    )
    memory_mb: int = Field(1024, ge=128, le=16384, description="Memory for the script.")
    backend: str = Field("bwrap", description="Sandbox backend.")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: object) -> object:
        """The `chartmimic` preset fills the options the request leaves unset."""
        if isinstance(data, dict) and data.get("preset") == "chartmimic":
            return {**CHARTMIMIC, **data}
        return data

    @property
    def pixel_preset(self) -> str:
        """The image preset of the `pixels` term (`chartmimic` names none: the default)."""
        return "default" if self.preset == "chartmimic" else self.preset

    @model_validator(mode="after")
    def _check(self) -> ChartOptions:
        if any(w < 0 for w in self.weights.values()) or not any(self.weights.values()):
            raise ValueError("weights must be non-negative with at least one positive")
        if self.pixel_weights is not None:
            unknown = set(self.pixel_weights) - set(PIXEL_TERMS)
            if unknown:
                raise ValueError(f"unknown pixel_weights {sorted(unknown)}; known: {PIXEL_TERMS}")
            values = self.pixel_weights.values()
            if any(w < 0 for w in values) or not any(values):
                raise ValueError("pixel_weights must be non-negative with one positive")
        if min(self.figsize) <= 0 or max(self.figsize) > 50:
            raise ValueError("figsize must be positive inches, at most 50")
        return self

    def active_weights(self) -> dict[Term, float]:
        """The terms that count (positive weight), in the order of `TERMS`."""
        return {t: float(self.weights[t]) for t in TERMS if self.weights.get(t)}
