"""The target image of a reference, rendered once per worker and kept.

A GRPO group sends the same target with every response, so the rendered target is
cached by (reference, size) in each worker process.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.image.raster import png_to_canvas
from rewardgate.verifiers.svg.render import render
from rewardgate.verifiers.svg.sanitise import Limits, Rejected, SafeSvg, sanitise

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from rewardgate.verifiers.svg.models import SvgReference

__all__ = ["check_target", "png_bytes", "target_image"]

CACHED_TARGETS = 64


def check_target(reference: SvgReference, asset_dir: Path | None, limits: Limits) -> None:
    """Refuse a malformed reference up front (`InvalidRequest`), before any worker."""
    if reference.target_svg is not None:
        safe_target(reference.target_svg, limits)
    else:
        _check_image(png_bytes(reference.target_png or "", asset_dir), limits)


def _check_image(data: bytes, limits: Limits) -> None:
    """The header must be an image's, within the pixel limit (pixels decode in the worker)."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = image.width * image.height
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidRequest(f"reference.target_png: not a readable image: {exc}") from None
    if pixels > limits.max_image_pixels:
        raise InvalidRequest(f"reference.target_png: image of {pixels} pixels is too large")


def safe_target(text: str, limits: Limits) -> SafeSvg:
    try:
        return sanitise(text, limits)
    except Rejected as exc:
        raise InvalidRequest(f"reference.target_svg: {exc.reason}: {exc.message}") from None


def png_bytes(target: str, asset_dir: Path | None) -> bytes:
    """The image file a `target_png` names: an uploaded asset or base64 text."""
    from rewardgate.verifiers.assets import ASSET_PREFIX, AssetStore

    if target.startswith(ASSET_PREFIX):
        if asset_dir is None:
            raise InvalidRequest("reference.target_png: this server has no asset store")
        return AssetStore(asset_dir, 1, 1).resolve(target).read_bytes()
    if target.startswith("data:") and "," in target:
        target = target.split(",", 1)[1]
    try:
        return base64.b64decode("".join(target.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("reference.target_png: neither base64 nor asset:<sha256>") from None


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
        data = png_bytes(reference.target_png or "", asset_dir)
        try:
            image = png_to_canvas(data, size, limits.max_image_pixels)
        except ValueError as exc:
            raise InvalidRequest(f"reference.target_png: {exc}") from None
    image.flags.writeable = False  # shared by every item of the group
    return image
