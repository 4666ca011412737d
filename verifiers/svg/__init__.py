"""The `svg` verifier: render the model's SVG and compare it with the target image.

Rendering is cairosvg's, after `sanitise` has refused entity tricks, external
references and oversized or explosive drawings; scoring is the shared image metrics
(`rewardgate.verifiers.image`) under a preset (`default`, `rlrf`, `starvector`) or custom
weights. Whatever the SVG is (missing, malformed, hostile, undrawable) is a verdict
with the preset's lowest reward. Importing this package is cheap: cairosvg, numpy and
scikit-image load on the first judgement (or in `warmup`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.evidence_images import EvidenceSettings, wants_images
from rewardgate.verifiers.image.presets import PRESETS
from rewardgate.verifiers.svg.extract import extract_svg
from rewardgate.verifiers.svg.judge import judge, perceptual_terms
from rewardgate.verifiers.svg.models import SvgOptions, SvgReference
from rewardgate.verifiers.svg.sanitise import Limits

__all__ = ["Limits", "SvgOptions", "SvgReference", "SvgSettings", "SvgVerifier", "extract_svg"]


class SvgSettings(EvidenceSettings):
    """What this server lets one SVG draw (`[verifiers.svg]`)."""

    legacy_keys = ("max_elements", "max_canvas_px")

    max_elements: int = Field(
        10_000, ge=1, description="Most elements an SVG may draw, each `<use>` counting its copy."
    )
    max_canvas_px: int = Field(
        16_384, ge=1, description="Largest SVG width, height or viewBox side (px) rendered."
    )


_WARMUP_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="4" height="4"/></svg>'
)


class SvgVerifier(Verifier[SvgReference, SvgOptions]):
    name = "svg"
    version = "1"
    description = (
        "SVG drawing vs a target (SVG or image): sanitised cairosvg render on a white "
        "square canvas, scored by MSE/SSIM/RLRF normalised L2, edge maps and length "
        "(presets default, rlrf, starvector)."
    )
    Reference: ClassVar[type[BaseModel]] = SvgReference
    Options: ClassVar[type[VerifierOptions]] = SvgOptions
    conformance = Conformance(
        full=Case(_WARMUP_SVG, {"target_svg": _WARMUP_SVG}),
        zero=Case("no drawing here", {"target_svg": _WARMUP_SVG}),
        invalid=Case(_WARMUP_SVG, {}),  # no target
    )
    source_modules = ("rewardgate.verifiers.image",)
    judging_packages = ("cairosvg", "defusedxml", "numpy", "pillow", "scikit-image", "scipy")
    lowest_reward = 0.0
    Settings = SvgSettings
    settings: SvgSettings

    @property
    def limits(self) -> Limits:
        """The server's limits (`[verifiers.svg]` `max_elements`, `max_canvas_px`)."""
        return Limits(
            max_elements=self.settings.max_elements,
            max_canvas_px=float(self.settings.max_canvas_px),
        )

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[SvgReference, SvgOptions]:
        """Validate, check the target's XML or image header, and every weighted term."""
        from rewardgate.verifiers.svg.targets import check_target

        prepared = super().prepare(reference, options)
        ref, opts = prepared.reference, prepared.options
        weights = opts.weights or PRESETS[opts.preset].weights
        if weights.get("length") and ref.target_svg is None and ref.target_length is None:
            raise InvalidRequest("reference: the length term needs target_svg or target_length")
        perceptual_terms(opts, self._perceptual_config())
        check_target(ref, self.env.asset_dir, self.limits)
        return prepared

    def lowest_reward_for(self, options: SvgOptions) -> float:
        return PRESETS[options.preset].lowest

    def judge(self, response: str, reference: SvgReference, options: SvgOptions) -> Verdict:
        return judge(
            response,
            reference,
            options,
            self.limits,
            self.env.asset_dir,
            self._perceptual_config(),
            self.settings.evidence_max_bytes,
        )

    def cacheable_for(self, reference: SvgReference, options: SvgOptions) -> bool:
        """Verdicts with evidence images are not cached (see `evidence_images`)."""
        return not wants_images(options)

    def warmup(self) -> None:
        """Load cairo, numpy, scikit-image and scipy before workers fork."""
        reference = SvgReference(target_svg=_WARMUP_SVG)
        for preset in PRESETS:
            self.judge(_WARMUP_SVG, reference, SvgOptions(preset=preset, size=32))

    def health(self) -> dict[str, str]:
        try:
            import cairosvg  # noqa: F401  (loads libcairo through cairocffi)
        except (ImportError, OSError) as exc:
            return {"cairosvg": f'unavailable ({exc}): pip install "rewardgate[render]"'}
        return {"cairosvg": "ok"}

    def _perceptual_config(self) -> dict[str, Any]:
        return dict(self.env.image_perceptual)
