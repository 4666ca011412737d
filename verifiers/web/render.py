"""A page as the metrics need it: its screenshot on the comparison canvas and its blocks.

Both sides go through here, so a response and an HTML target are drawn by the same
browser under the same viewport and cut to the same canvas. Targets are cached per
worker by (html, viewport, canvas size, chromium, sandbox backend): a GRPO group sends
the same target with every response.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from rewardgate.verifiers.image.raster import image_to_canvas
from rewardgate.verifiers.web.blocks import Block, parse_blocks
from rewardgate.verifiers.web.browser import Capture, browser_manager
from rewardgate.verifiers.web.containment import browser_backend
from rewardgate.verifiers.web.d2c_blocks import d2c_blocks, has_body

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["RenderedPage", "render_page", "rendered_target"]

CACHED_TARGETS = 32


@dataclass(frozen=True)
class RenderedPage:
    """A page's canvas (uint8 RGB, `size` x `size`), text blocks and captured size."""

    canvas: NDArray[np.uint8]
    blocks: list[Block]
    width: int
    height: int
    truncated: bool


def render_page(
    html: str,
    viewport: tuple[int, int],
    size: int,
    timeout_s: float,
    chromium: str | None,
    reading: str = "dom",
) -> RenderedPage:
    """Render `html`; raises `browser.RenderFailed` for the page's faults.

    `reading`: `dom` (one block per DOM text node, `blocks`) or `design2code`
    (Design2Code's recoloured-screenshot blocks, `d2c_blocks`).
    """
    design2code = reading == "design2code"
    capture = browser_manager(chromium).render(html, viewport, timeout_s, design2code)
    return _page(capture, size, html if design2code else None)


def rendered_target(
    html: str,
    viewport: tuple[int, int],
    size: int,
    timeout_s: float,
    chromium: str | None,
    reading: str = "dom",
) -> RenderedPage:
    """`render_page` for a target, kept per worker (and per backend it was drawn on)."""
    return _rendered_target(html, viewport, size, timeout_s, chromium, reading, browser_backend())


@lru_cache(maxsize=CACHED_TARGETS)
def _rendered_target(
    html: str,
    viewport: tuple[int, int],
    size: int,
    timeout_s: float,
    chromium: str | None,
    reading: str,
    backend: str,
) -> RenderedPage:
    page = render_page(html, viewport, size, timeout_s, chromium, reading)
    page.canvas.flags.writeable = False  # shared by every item of the group
    return page


def _page(capture: Capture, size: int, d2c_source: str | None) -> RenderedPage:
    from PIL import Image

    with Image.open(io.BytesIO(capture.png)) as image:
        canvas = image_to_canvas(image, size)
    if d2c_source is not None and capture.recoloured is not None:
        first, second, tree = capture.recoloured
        blocks = d2c_blocks(capture.png, first, second, tree) if has_body(d2c_source) else []
    else:
        blocks = parse_blocks(capture.blocks, capture.width, capture.height)
    return RenderedPage(canvas, blocks, capture.width, capture.height, capture.truncated)
