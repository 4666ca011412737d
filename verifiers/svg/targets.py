"""The target image of a reference, rendered once per worker and kept.

A GRPO group sends the same target with every response, so the rendered target is
cached by (reference, size) in each worker process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.image.raster import png_to_canvas
from rewardgate.verifiers.image.targets import check_image, image_bytes
from rewardgate.verifiers.svg.render import render
from rewardgate.verifiers.svg.sanitise import Limits, Rejected, SafeSvg, sanitise

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from rewardgate.verifiers.svg.models import SvgReference

__all__ = ["check_target", "target_image"]

CACHED_TARGETS = 64


def check_target(reference: SvgReference, asset_dir: Path | None, limits: Limits) -> None:
    """Refuse a malformed reference up front (`InvalidRequest`), before any worker."""
    if reference.target_svg is not None:
        safe_target(reference.target_svg, limits)
    else:
        check_image(image_bytes(reference.target_png or "", asset_dir), limits.max_image_pixels)


def safe_target(text: str, limits: Limits) -> SafeSvg:
    try:
        return sanitise(text, limits)
    except Rejected as exc:
        raise InvalidRequest(f"reference.target_svg: {exc.reason}: {exc.message}") from None


@lru_cache(maxsize=CACHED_TARGETS)
def target_image(
    reference: SvgReference, size: int, asset_dir: Path | None, limits: Limits
) -> NDArray[np.uint8]:
    """The target on the canvas; a target that cannot be drawn is `InvalidRequest`."""
    if reference.target_svg is not None:
        safe = safe_target(reference.target_svg, limits)
        try:
            image = render(safe, size, limits)
        except Exception as exc:
            raise InvalidRequest(
                f"reference.target_svg: cairosvg cannot draw it: {type(exc).__name__}: {exc}"
            ) from None
    else:
        data = image_bytes(reference.target_png or "", asset_dir)
        try:
            image = png_to_canvas(data, size, limits.max_image_pixels)
        except ValueError as exc:
            raise InvalidRequest(f"reference.target_png: {exc}") from None
    image.flags.writeable = False  # shared by every item of the group
    return image
