"""From a response and a target to a verdict: extract, check, render, compare.

`details["reason"]` says what decided: `scored` (the drawing was compared; the
metrics are in `details`), or, with the preset's lowest reward, `no_svg`, a
`sanitise` rejection code (`parse_error`, `entities_forbidden`, `external_reference`,
`canvas_too_large`, `too_many_elements`, `use_cycle`, ...), or `render_failed`
(cairosvg could not draw it). A target that cannot be drawn is `InvalidRequest`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardgate.verifiers.base import Verdict
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.evidence_images import attach_images, difference_map, wants_images
from rewardgate.verifiers.image.compare import compare
from rewardgate.verifiers.image.perceptual import PerceptualMetric, load_metric, resolve
from rewardgate.verifiers.image.presets import PIXEL_TERMS, PRESETS
from rewardgate.verifiers.svg.extract import extract_svg
from rewardgate.verifiers.svg.models import SvgOptions, SvgReference
from rewardgate.verifiers.svg.render import render
from rewardgate.verifiers.svg.sanitise import Limits, Rejected, sanitise
from rewardgate.verifiers.svg.targets import target_image

__all__ = ["judge", "perceptual_terms"]

# Evidence keeps this much of the extracted SVG, so a huge answer cannot bloat a result.
MAX_SHOWN_CHARS = 2000


def perceptual_terms(options: SvgOptions, configured: dict[str, Any]) -> dict[str, Any]:
    """The perceptual metrics the weights name, each checked against the server's config."""
    weights = options.weights or PRESETS[options.preset].weights
    names = [t for t, w in weights.items() if w and t not in (*PIXEL_TERMS, "length")]
    return {term: resolve(term, configured) for term in names}


def judge(
    response: str,
    reference: SvgReference,
    options: SvgOptions,
    limits: Limits,
    asset_dir: Path | None,
    configured: dict[str, Any],
    max_image_bytes: int = 0,
) -> Verdict:
    """The verdict; with `evidence: "images"` the renders too, within `max_image_bytes`."""
    lowest = PRESETS[options.preset].lowest
    svg = extract_svg(response)
    if svg is None:
        return Verdict(lowest, details={"reason": "no_svg"})
    details: dict[str, Any] = {"svg": svg[:MAX_SHOWN_CHARS], "svg_chars": len(svg)}
    try:
        safe = sanitise(svg, limits)
    except Rejected as exc:
        return Verdict(lowest, details={**details, "reason": exc.reason, "message": exc.message})
    details["canvas"] = {"width": safe.width, "height": safe.height, "elements": safe.elements}
    target = target_image(reference, options.size, asset_dir, limits)
    try:
        image = render(safe, options.size, limits)
    except Exception as exc:  # cairosvg's errors on odd input are assorted; all the SVG's
        message = f"{type(exc).__name__}: {str(exc)[:300]}"
        return Verdict(lowest, details={**details, "reason": "render_failed", "message": message})
    perceptual: dict[str, PerceptualMetric] = {
        spec.name: load_metric(spec) for spec in perceptual_terms(options, configured).values()
    }
    try:
        scores = compare(
            image,
            target,
            options.preset,
            options.weights,
            lengths=_lengths(svg, reference, options),
            perceptual=perceptual,
        )
    except ValueError as exc:
        raise InvalidRequest(f"options.weights: {exc}") from None
    details = {**details, "reason": "scored", **scores.details()}
    if wants_images(options):
        images = {"target": target, "candidate": image, "difference": difference_map(image, target)}
        attach_images(details, images, max_image_bytes)
    return Verdict(scores.reward, details=details)


def _lengths(svg: str, reference: SvgReference, options: SvgOptions) -> tuple[float, float] | None:
    target_length = reference.target_length
    if target_length is None and reference.target_svg is not None:
        target_length = len(reference.target_svg)
    return None if target_length is None else (float(len(svg)), float(target_length))
