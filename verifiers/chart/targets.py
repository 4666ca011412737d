"""The target chart of a reference, made once per worker and kept.

A GRPO group sends the same target with every response, so a `target_code` is run
in the sandbox once per worker process and its canvas and record kept, keyed by
everything its render depends on (the code and the render options). A target that
does not draw a chart is a malformed request (`invalid`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rewardgate.verifiers.chart.models import ChartOptions, ChartReference
from rewardgate.verifiers.chart.run import ChartRecord, Outcome, execute
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.image.raster import png_to_canvas

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["MAX_IMAGE_PIXELS", "Target", "check_png", "image_bytes", "target_of"]

CACHED_TARGETS = 64
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 32 << 20


@dataclass(frozen=True)
class Target:
    canvas: NDArray[np.uint8]
    record: ChartRecord | None  # None for an image target: no structure to compare


def image_bytes(target: str, asset_dir: Path | None) -> bytes:
    """The image file a `target_png` names: an uploaded asset or base64 text."""
    from rewardgate.verifiers.assets import ASSET_PREFIX, AssetStore

    if target.startswith(ASSET_PREFIX):
        if asset_dir is None:
            raise InvalidRequest("reference.target_png: this server has no asset store")
        path = AssetStore(asset_dir, 1, 1).resolve(target)
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise InvalidRequest(f"reference.target_png: over {MAX_IMAGE_BYTES} bytes")
        return path.read_bytes()
    if target.startswith("data:") and "," in target:
        target = target.split(",", 1)[1]
    try:
        return base64.b64decode("".join(target.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("reference.target_png: neither base64 nor asset:<sha256>") from None


def check_png(target: str, asset_dir: Path | None) -> None:
    """The header must be an image's, within the pixel limit (pixels decode in a worker)."""
    import io

    from PIL import Image, UnidentifiedImageError

    data = image_bytes(target, asset_dir)
    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = image.width * image.height
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidRequest(f"reference.target_png: not a readable image: {exc}") from None
    if pixels > MAX_IMAGE_PIXELS:
        raise InvalidRequest(f"reference.target_png: image of {pixels} pixels is too large")


def canvas_of(png: bytes, size: int) -> NDArray[np.uint8]:
    return png_to_canvas(png, size, MAX_IMAGE_PIXELS)


RenderKey = tuple[int, int, tuple[float, float], int, float, int, str]


def _render_key(options: ChartOptions) -> RenderKey:
    """What a target's render depends on; items differing only in weights share it."""
    o = options
    return (o.size, o.dpi, o.figsize, o.seed, o.time_limit_s, o.memory_mb, o.backend)


@lru_cache(maxsize=CACHED_TARGETS)
def _rendered(code: str, key: RenderKey) -> tuple[Outcome, NDArray[np.uint8] | None]:
    size, dpi, figsize, seed, time_limit_s, memory_mb, backend = key
    options = ChartOptions(
        size=size,
        dpi=dpi,
        figsize=figsize,
        seed=seed,
        time_limit_s=time_limit_s,
        memory_mb=memory_mb,
        backend=backend,
    )
    outcome = execute(code, options)
    if outcome.label != "ok" or outcome.png is None:
        return outcome, None
    canvas = canvas_of(outcome.png, size)
    canvas.flags.writeable = False  # shared by every item of the group
    return outcome, canvas


def target_of(reference: ChartReference, options: ChartOptions, asset_dir: Path | None) -> Target:
    """The target's canvas (and record, for code); `InvalidRequest` if it draws nothing."""
    if reference.target_code is None:
        data = image_bytes(reference.target_png or "", asset_dir)
        try:
            canvas = canvas_of(data, options.size)
        except ValueError as exc:
            raise InvalidRequest(f"reference.target_png: {exc}") from None
        return Target(canvas, None)
    outcome, rendered = _rendered(reference.target_code, _render_key(options))
    if rendered is None or outcome.record is None:
        why = f"{outcome.label}: {outcome.message}".rstrip(": ")
        raise InvalidRequest(f"reference.target_code draws no chart ({why})")
    return Target(rendered, outcome.record)
