"""Target images named by a reference (`target_png`): base64 text or an uploaded asset.

One place for the svg, chart and web verifiers: the bytes are read (and size-capped)
in `prepare`, and only the header is checked there; pixels are decoded in a worker.
Every failure is the request's fault, so `InvalidRequest` naming the field.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["MAX_IMAGE_BYTES", "check_image", "image_bytes"]

MAX_IMAGE_BYTES = 32 << 20
FIELD = "reference.target_png"


def image_bytes(target: str, asset_dir: Path | None) -> bytes:
    """The image file `target` names: `asset:<sha256>`, base64, or a base64 data: URI."""
    from rewardgate.verifiers.assets import ASSET_PREFIX, AssetStore

    if target.startswith(ASSET_PREFIX):
        if asset_dir is None:
            raise InvalidRequest(f"{FIELD}: this server has no asset store")
        path = AssetStore(asset_dir, 1, 1).resolve(target)
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise InvalidRequest(f"{FIELD}: over {MAX_IMAGE_BYTES} bytes")
        return path.read_bytes()
    if target.startswith("data:") and "," in target:
        target = target.split(",", 1)[1]
    if len(target) > MAX_IMAGE_BYTES * 4 // 3 + 4096:
        raise InvalidRequest(f"{FIELD}: over {MAX_IMAGE_BYTES} bytes")
    try:
        return base64.b64decode("".join(target.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{FIELD}: neither base64 nor asset:<sha256>") from None


def check_image(data: bytes, max_pixels: int) -> None:
    """The header must be an image's, within `max_pixels` (read from the header only)."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = image.width * image.height
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidRequest(f"{FIELD}: not a readable image: {exc}") from None
    if pixels > max_pixels:
        raise InvalidRequest(f"{FIELD}: image of {pixels} pixels is too large")
