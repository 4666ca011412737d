"""From a response and a target to a verdict: extract, render, match blocks, compare pixels.

`details["reason"]` says what decided: `scored` (the page was compared; each term is in
`details["terms"]`, the block matching in `details["blocks"]`, the raw image metrics in
`details["metrics"]`), or, with reward 0: `no_html` (nothing to render), `too_large`
(over `MAX_HTML_CHARS`), `render_timeout` (the page did not load and draw in
`render_timeout_s`, e.g. a script that never ends), `page_crashed`, `browser_crashed`
(the page killed the browser twice), `navigated` (the page left itself). A target that
cannot be rendered is `InvalidRequest`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.base import Verdict
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.evidence_images import attach_images, wants_images
from rewardgate.verifiers.image.compare import compare, mix
from rewardgate.verifiers.image.perceptual import PerceptualMetric, load_metric, resolve
from rewardgate.verifiers.image.presets import PIXEL_TERMS
from rewardgate.verifiers.image.raster import png_to_canvas
from rewardgate.verifiers.web.browser import RenderFailed
from rewardgate.verifiers.web.extract import extract_html
from rewardgate.verifiers.web.models import WebOptions, WebReference
from rewardgate.verifiers.web.presets import STRUCTURE_TERMS
from rewardgate.verifiers.web.render import render_page, rendered_target
from rewardgate.verifiers.web.scores import block_scores

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from rewardgate.verifiers.web.blocks import Block
    from rewardgate.verifiers.web.scores import BlockScores

__all__ = ["check_weights", "judge", "target_png_bytes"]

LOWEST = 0.0
# Evidence keeps this much of the extracted page, so a huge answer cannot bloat a result.
MAX_SHOWN_CHARS = 2000
# Longest page rendered (Design2Code's pages are tens of kB; this is generous).
MAX_HTML_CHARS = 4 * 2**20
# Largest target screenshot accepted, in pixels (the largest page we capture, and some).
MAX_TARGET_PIXELS = 64 * 2**20


def check_weights(options: WebOptions, html_target: bool, configured: dict[str, Any]) -> None:
    """Every weighted term must be known (perceptual ones configured) and one must remain."""
    weights = options.active_weights(html_target)
    if not weights:
        raise InvalidRequest(
            "options.weights: only block-level terms are weighted, and a target_png has no "
            "blocks; weight an image term (ssim, mse, l2, ...) too"
        )
    for term in weights:
        if term not in (*STRUCTURE_TERMS, *PIXEL_TERMS):
            resolve(term, configured)  # raises InvalidRequest if not configured


def target_png_bytes(reference: WebReference, asset_dir: Path | None) -> bytes:
    """The target screenshot's file bytes (base64 or an uploaded asset)."""
    from rewardgate.verifiers.image.targets import image_bytes

    return image_bytes(reference.target_png or "", asset_dir)


@lru_cache(maxsize=32)
def _png_target(reference: WebReference, size: int, asset_dir: Path | None) -> NDArray[np.uint8]:
    try:
        canvas = png_to_canvas(target_png_bytes(reference, asset_dir), size, MAX_TARGET_PIXELS)
    except ValueError as exc:
        raise InvalidRequest(f"reference.target_png: {exc}") from None
    canvas.flags.writeable = False
    return canvas


def _target(
    reference: WebReference, options: WebOptions, asset_dir: Path | None, chromium: str | None
) -> tuple[NDArray[np.uint8], list[Block] | None]:
    if reference.target_html is None:
        return _png_target(reference, options.size, asset_dir), None
    viewport = (options.viewport_width, options.viewport_height)
    try:
        page = rendered_target(
            reference.target_html,
            viewport,
            options.size,
            options.render_timeout_s,
            chromium,
            options.block_reading,
        )
    except RenderFailed as exc:
        raise InvalidRequest(f"reference.target_html: {exc.reason}: {exc.message}") from None
    return page.canvas, page.blocks


def judge(
    response: str,
    reference: WebReference,
    options: WebOptions,
    asset_dir: Path | None,
    chromium: str | None,
    configured: dict[str, Any],
    max_image_bytes: int = 0,
) -> Verdict:
    """The verdict; with `evidence: "images"` the screenshots too, within `max_image_bytes`."""
    html = extract_html(response)
    if html is None:
        return Verdict(LOWEST, details={"reason": "no_html"})
    details: dict[str, Any] = {"html": html[:MAX_SHOWN_CHARS], "html_chars": len(html)}
    if len(html) > MAX_HTML_CHARS:
        message = f"the page has {len(html)} characters, over {MAX_HTML_CHARS}"
        return Verdict(LOWEST, details={**details, "reason": "too_large", "message": message})
    target_canvas, target_blocks = _target(reference, options, asset_dir, chromium)
    weights = options.active_weights(target_blocks is not None)
    viewport = (options.viewport_width, options.viewport_height)
    try:
        page = render_page(
            html, viewport, options.size, options.render_timeout_s, chromium, options.block_reading
        )
    except RenderFailed as exc:
        return Verdict(LOWEST, details={**details, "reason": exc.reason, "message": exc.message})
    details["page"] = {"width": page.width, "height": page.height, "truncated": page.truncated}
    terms: dict[str, float] = {}
    scored: BlockScores | None = None
    if target_blocks is not None and any(t in weights for t in STRUCTURE_TERMS):
        scored = block_scores(page.blocks, target_blocks, options.block_reading)
        terms.update({t: v for t, v in scored.terms().items() if t in weights})
        details["blocks"] = scored.details()
    image_weights = {t: w for t, w in weights.items() if t not in STRUCTURE_TERMS}
    if image_weights:
        perceptual: dict[str, PerceptualMetric] = {}
        for term in image_weights:
            if term not in PIXEL_TERMS:
                spec = resolve(term, configured)
                perceptual[spec.name] = load_metric(spec)
        try:
            scores = compare(
                page.canvas, target_canvas, "default", image_weights, perceptual=perceptual
            )
        except ValueError as exc:
            raise InvalidRequest(f"options.weights: {exc}") from None
        terms.update(scores.terms)
        details["metrics"] = scores.metrics
    reward = mix(terms, weights, LOWEST)
    details = {**details, "reason": "scored", "weights": weights, "terms": terms}
    if wants_images(options):
        from rewardgate.verifiers.web.evidence import page_images

        images = page_images(page, target_canvas, reference, options, chromium, scored)
        attach_images(details, images, max_image_bytes)
    return Verdict(reward, details=details)
