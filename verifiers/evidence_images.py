"""Evidence images: the PNGs a rendering verifier returns when a request asks for them.

Why a drawing scored 0.62 is seen, not read: with the option `evidence: "images"` the
svg, chart and web verifiers put the target's render, the candidate's render and a
difference heat-map (web: the screenshots with the text blocks outlined) into
`details["images"]` as `data:image/png;base64,...` strings. Everything drawn here is
made from the pixels and boxes the verifier already computed for its reward (the
renders it compared, the blocks it matched), on the host side with numpy and Pillow;
nothing is re-rendered and nothing model-written is interpreted here, so an image can
neither change the reward nor run the model's markup anywhere new.

The images of one verdict are capped by the verifier's `evidence_max_bytes` setting
(base64 characters in all): past it they are halved in size until they fit (down to
`MIN_SIDE` pixels), else dropped, and `details["images_note"]` says which. A verdict
with images is never cached (`wants_images` drives each verifier's `cacheable_for`):
PNGs would crowd training verdicts out of a byte-bounded cache, and a cached verdict
without images must not answer a request that asked for them.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from rewardgate.contract.settings import VerifierSettings
from rewardgate.contract.verifier import VerifierOptions

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MIN_SIDE",
    "PNG_PREFIX",
    "EvidenceOptions",
    "EvidenceSettings",
    "Outline",
    "attach_images",
    "difference_map",
    "outlined",
    "wants_images",
]

PNG_PREFIX = "data:image/png;base64,"
DEFAULT_MAX_BYTES = 2_000_000
# Smallest side an image is shrunk to before the images are dropped instead.
MIN_SIDE = 64
# Differences below this (of 255, the largest channel's) are drawn as no difference:
# anti-aliasing and JPEG targets leave faint noise everywhere.
_NOISE = 8
MATCHED = (0, 150, 60)
UNMATCHED = (220, 30, 30)

# An outline: box (x, y, w, h) as fractions of the drawn page, and whether it matched.
Outline = tuple[tuple[float, float, float, float], bool]


class EvidenceOptions(VerifierOptions):
    """Options of a verifier that can return evidence images (the `evidence` knob)."""

    evidence: Literal["none", "images"] = Field(
        "none",
        description="`images`: also return the target and candidate renders and their "
        "difference as PNG data URIs in `details.images` (capped by the verifier's "
        "`evidence_max_bytes` setting). Never changes the reward; such verdicts are not cached.",
    )


class EvidenceSettings(VerifierSettings):
    """Settings of a verifier that can return evidence images."""

    evidence_max_bytes: int = Field(
        DEFAULT_MAX_BYTES,
        ge=0,
        description="Most bytes of PNG data (base64) one verdict's evidence images may "
        "carry; past it they are downscaled, then dropped with `details.images_note`.",
    )


def wants_images(options: Any) -> bool:
    """Whether `options` ask for evidence images (False for options without the knob)."""
    return getattr(options, "evidence", "none") == "images"


def difference_map(candidate: NDArray[np.uint8], target: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Where two same-sized RGB rasters differ, as a heat-map over a faint copy of the target.

    Each pixel's difference is its largest channel difference; none is white-ish (the
    target's drawing at a quarter of its contrast, for orientation), the largest red.
    """
    import numpy as np

    if candidate.shape != target.shape:
        raise ValueError(f"rasters of shapes {candidate.shape} and {target.shape}")
    # Channel by channel in uint8 (a strided reduction over the last axis is ~10x slower).
    channels = [
        np.maximum(c, t) - np.minimum(c, t)
        for c, t in zip(_split(candidate), _split(target), strict=True)
    ]
    diff = np.maximum.reduce(channels)
    red, green, blue = _split(target)
    grey = (red.astype(np.uint16) + green + blue) // 3
    index = diff.astype(np.intp) * 256 + grey
    return np.take(_palette().reshape(-1, 3), index, axis=0)


def _split(image: NDArray[np.uint8]) -> list[NDArray[np.uint8]]:
    return [image[..., channel] for channel in range(3)]


@functools.cache
def _palette() -> NDArray[np.uint8]:
    """The heat-map's colour of each (difference, target grey) pair: a 256 x 256 table,
    so a map costs one lookup per pixel instead of float arithmetic on the image."""
    import numpy as np

    levels = np.arange(256, dtype=np.float32)
    strength = np.where(levels < _NOISE, 0.0, levels / 255.0)[:, None, None]
    faint = (255.0 - (255.0 - levels) * 0.25)[None, :, None]
    # White through yellow and orange to red as the difference grows.
    heat = np.stack(
        [
            np.full_like(strength[..., 0], 255.0),
            255.0 * (1 - strength[..., 0]),
            255.0 * (1 - strength[..., 0]) ** 3,
        ],
        axis=2,
    )
    mixed = np.where(
        strength > 0, heat * (0.35 + 0.65 * strength) + faint * 0.65 * (1 - strength), faint
    )
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def outlined(
    canvas: NDArray[np.uint8], page_size: tuple[int, int], outlines: Iterable[Outline]
) -> NDArray[np.uint8]:
    """`canvas` with each box drawn on it: green if matched, red if not.

    The canvas holds a `page_size` (width, height) page fitted into its square and
    centred, as `rewardgate.verifiers.image.raster.image_to_canvas` puts it there.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    from rewardgate.verifiers.image.raster import fitted_size

    side = canvas.shape[0]
    width, height = fitted_size(page_size[0], page_size[1], side)
    left, top = (side - width) // 2, (side - height) // 2
    image = Image.fromarray(np.ascontiguousarray(canvas))
    draw = ImageDraw.Draw(image)
    for (x, y, w, h), matched in outlines:
        box = (
            left + x * width,
            top + y * height,
            left + (x + w) * width,
            top + (y + h) * height,
        )
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            box = (box[0], box[1], max(box[2], box[0] + 1), max(box[3], box[1] + 1))
        draw.rectangle(box, outline=MATCHED if matched else UNMATCHED, width=2)
    return np.asarray(image, dtype=np.uint8)


def attach_images(
    details: dict[str, Any], images: Mapping[str, NDArray[np.uint8]], max_bytes: int
) -> None:
    """Put `images` into `details["images"]` as PNG data URIs, within `max_bytes` in all.

    Too large: every image is halved until they fit or one side would go under
    `MIN_SIDE`; then none is kept. `details["images_note"]` says what was done.
    """
    from PIL import Image

    pictures = {name: Image.fromarray(pixels) for name, pixels in images.items()}
    if not pictures:
        return
    if max_bytes <= 0:
        details["images_note"] = "images dropped: evidence_max_bytes is 0"
        return
    scale = 1.0
    while True:
        encoded = {name: _data_uri(picture, scale) for name, picture in pictures.items()}
        total = sum(len(uri) for uri in encoded.values())
        if total <= max_bytes:
            details["images"] = encoded
            if scale < 1.0:
                details["images_note"] = (
                    f"images downscaled to {scale:g} of their size to fit "
                    f"evidence_max_bytes ({max_bytes})"
                )
            return
        smallest = min(min(picture.size) for picture in pictures.values())
        if smallest * scale / 2 < MIN_SIDE:
            details["images_note"] = (
                f"images dropped: {total} bytes at {scale:g} of their size, over "
                f"evidence_max_bytes ({max_bytes})"
            )
            return
        scale /= 2


def _data_uri(picture: Any, scale: float) -> str:
    from PIL import Image

    if scale < 1.0:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.BOX)
    out = io.BytesIO()
    picture.save(out, "PNG", compress_level=3)  # zlib 3: as small as 6 here, twice as fast
    return PNG_PREFIX + base64.b64encode(out.getvalue()).decode("ascii")
