"""The svg verifier's reference and options."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardgate.verifiers.evidence_images import EvidenceOptions

__all__ = ["PresetName", "SvgOptions", "SvgReference"]

PresetName = Literal["default", "rlrf", "starvector"]


class SvgReference(BaseModel):
    """The target drawing: SVG text, or an image (base64 or `asset:<sha256>`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target_svg: str | None = Field(
        None, min_length=1, description="The target as SVG text, rendered like the response."
    )
    target_png: str | None = Field(
        None,
        min_length=1,
        description="The target as an image file (PNG, JPEG...): base64, or `asset:<sha256>`.",
    )
    target_length: int | None = Field(
        None,
        ge=1,
        description="Length of the target SVG in characters, for the length term when "
        "the target is an image (default: the length of `target_svg`).",
    )

    @model_validator(mode="after")
    def _one_target(self) -> SvgReference:
        if (self.target_svg is None) == (self.target_png is None):
            raise ValueError("give exactly one of target_svg and target_png")
        return self


class SvgOptions(EvidenceOptions):
    """How the drawing is rendered and scored (see `rewardgate.verifiers.image.presets`)."""

    preset: PresetName = Field("default", description="Metric mix: default, rlrf or starvector.")
    weights: dict[str, float] | None = Field(
        None,
        description="Custom term weights replacing the preset's (the preset still sets "
        "the lowest reward): mse, ssim, l2, l2_canny, l2_sobel, length, and configured "
        "perceptual metrics (dreamsim, dreamsim_canny, ...).",
    )
    size: int = Field(512, ge=32, le=2048, description="Side of the square canvas, px.")

    @model_validator(mode="after")
    def _weights(self) -> SvgOptions:
        if self.weights is not None:
            if any(w < 0 for w in self.weights.values()):
                raise ValueError("weights must be non-negative")
            if not any(self.weights.values()):
                raise ValueError("at least one weight must be positive")
        return self
