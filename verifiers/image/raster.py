"""Bringing any raster to the comparison canvas: RGB on white, fitted into a square, padded.

Renders and target images must match pixel for pixel, so both go through the same
steps: transparency composited on white, the longer side scaled to `size` with the
aspect ratio kept (Lanczos, as RLRF's reference code resizes), and the rest of the
square filled with white, the image centred (StarVector pads to a square the same way).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL.Image import Image

__all__ = ["fitted_size", "image_to_canvas", "pad_to_square", "png_to_canvas"]


def fitted_size(width: float, height: float, size: int) -> tuple[int, int]:
    """(w, h) of a width x height box scaled so its longer side is `size`, at least 1 px."""
    scale = size / max(width, height)
    return max(1, min(size, round(width * scale))), max(1, min(size, round(height * scale)))


def pad_to_square(image: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    """`image` (h, w, 3), h and w at most `size`, centred on a white size x size canvas."""
    import numpy as np

    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    canvas = np.full((size, size, 3), 255, dtype=np.uint8)
    top, left = (size - height) // 2, (size - width) // 2
    canvas[top : top + height, left : left + width] = image
    return canvas


def image_to_canvas(image: Image, size: int) -> NDArray[np.uint8]:
    """A PIL image on white, fitted into `size` x `size` and padded."""
    import numpy as np
    from PIL import Image as PILImage

    rgba = image.convert("RGBA")
    white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = PILImage.alpha_composite(white, rgba).convert("RGB")
    fitted = fitted_size(rgb.width, rgb.height, size)
    if fitted != rgb.size:
        rgb = rgb.resize(fitted, PILImage.Resampling.LANCZOS)
    return pad_to_square(np.asarray(rgb, dtype=np.uint8), size)


def png_to_canvas(data: bytes, size: int, max_pixels: int) -> NDArray[np.uint8]:
    """Decode an image file (PNG, JPEG, ...) onto the canvas.

    Raises ValueError for undecodable data or more than `max_pixels` pixels, checked
    from the header before the pixels are decoded (a small file can claim a huge image).
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        image = PILImage.open(io.BytesIO(data))
        if image.width * image.height > max_pixels:
            raise ValueError(f"image of {image.width}x{image.height} exceeds {max_pixels} pixels")
        image.load()
    except (UnidentifiedImageError, OSError, PILImage.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image: {exc}") from None
    return image_to_canvas(image, size)
