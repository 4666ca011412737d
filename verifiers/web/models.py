"""The web verifier's reference and options."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardgate.verifiers.evidence_images import EvidenceOptions
from rewardgate.verifiers.web.presets import PRESETS, STRUCTURE_TERMS, PresetName

__all__ = ["WebOptions", "WebReference"]


class WebReference(BaseModel):
    """The target page: HTML (rendered like the response), or a screenshot of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target_html: str | None = Field(
        None,
        min_length=1,
        description="The target page as HTML, rendered like the response; enables the "
        "block-level scores (block, text, position, color).",
    )
    target_png: str | None = Field(
        None,
        min_length=1,
        description="The target as a screenshot (PNG, JPEG...): base64, or `asset:<sha256>`; "
        "only the image terms can be scored against it.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> WebReference:
        if (self.target_html is None) == (self.target_png is None):
            raise ValueError("give exactly one of target_html and target_png")
        return self


class WebOptions(EvidenceOptions):
    """How pages are rendered and scored (see `rewardgate.verifiers.web.presets`)."""

    preset: PresetName = Field(
        "default", description="Metric mix: default (blocks + pixels) or design2code (+ CLIP)."
    )
    weights: dict[str, float] | None = Field(
        None,
        description="Custom term weights replacing the preset's: block, text, position, "
        "color (HTML targets only), mse, ssim, l2, l2_canny, l2_sobel and configured "
        "perceptual metrics (clip, dreamsim, ...).",
    )
    blocks: Literal["dom", "design2code"] | None = Field(
        None,
        description="How text blocks are read. `dom`: one block per DOM text node, its "
        "layout box and computed colour (rewardgate's). `design2code`: Design2Code's own "
        "extraction (its text tags recoloured, tight glyph boxes from the screenshots, "
        "inline markup inside its parent's block) and scoring (difflib text similarity, "
        "two pages without text score 0). Unset: design2code under the design2code "
        "preset, else dom.",
    )
    viewport_width: int = Field(1280, ge=200, le=4096, description="Browser viewport width, px.")
    viewport_height: int = Field(720, ge=200, le=4096, description="Browser viewport height, px.")
    size: int = Field(
        512, ge=32, le=2048, description="Side of the square canvas the image terms compare on."
    )
    render_timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Time one page may take to load, run its scripts and be captured; a "
        "page past it scores the lowest reward (`render_timeout`).",
    )

    @model_validator(mode="after")
    def _weights(self) -> WebOptions:
        if self.weights is not None:
            if any(w < 0 for w in self.weights.values()):
                raise ValueError("weights must be non-negative")
            if not any(self.weights.values()):
                raise ValueError("at least one weight must be positive")
        return self

    @property
    def block_reading(self) -> str:
        """`blocks`, or the preset's reading where it is unset."""
        if self.blocks is not None:
            return self.blocks
        return "design2code" if self.preset == "design2code" else "dom"

    def active_weights(self, html_target: bool) -> dict[str, float]:
        """The weights in force; without an HTML target the block-level terms drop out."""
        chosen = self.weights if self.weights is not None else dict(PRESETS[self.preset])
        return {
            name: float(w)
            for name, w in chosen.items()
            if w and (html_target or name not in STRUCTURE_TERMS)
        }
