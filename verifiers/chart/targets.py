"""The target chart of a reference, made once per worker and kept.

A GRPO group sends the same target with every response, so a `target_code` is run
in the sandbox once per worker process and its canvas and record kept, keyed by
everything its render depends on (the code and the render options). A target that
does not draw a chart is a malformed request (`invalid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rewardgate.verifiers.chart.models import ChartOptions, ChartReference
from rewardgate.verifiers.chart.run import ChartRecord, Outcome, execute
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.image.raster import png_to_canvas
from rewardgate.verifiers.image.targets import check_image, image_bytes

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["MAX_IMAGE_PIXELS", "Target", "check_png", "target_of"]

CACHED_TARGETS = 64
MAX_IMAGE_PIXELS = 40_000_000


@dataclass(frozen=True)
class Target:
    canvas: NDArray[np.uint8]
    record: ChartRecord | None  # None for an image target: no structure to compare


def check_png(target: str, asset_dir: Path | None) -> None:
    check_image(image_bytes(target, asset_dir), MAX_IMAGE_PIXELS)


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
