"""Rendering a sanitised SVG with cairosvg onto the comparison canvas.

cairosvg's `unsafe` mode stays off and its URL fetcher is ours: it hands over only
`data:` raster images that `sanitise` would accept, re-encoded as PNG (cairosvg parses
any fetched bytes containing `<svg` as a nested document, whatever their media type),
and refuses everything else, so a reference the sanitiser somehow missed still reaches
no file and no network. The drawing is rendered at its intrinsic aspect ratio, fitted
into `size` x `size` on white and padded (see `rewardgate.verifiers.image.raster`).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rewardgate.verifiers.image.raster import fitted_size, pad_to_square
from rewardgate.verifiers.svg.sanitise import Limits, Rejected, SafeSvg, decode_data_uri

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from numpy.typing import NDArray

__all__ = ["RefusedFetch", "fetcher", "render"]


class RefusedFetch(Exception):
    """cairosvg asked for a resource we do not hand out."""


def fetcher(limits: Limits) -> Callable[[str, str], bytes]:
    """cairosvg's `url_fetcher(url, resource_type)`: data: raster images only."""

    def fetch(url: str, resource_type: str) -> bytes:
        from PIL import Image

        if not url.lower().startswith("data:"):
            raise RefusedFetch(f"refused to fetch {url[:80]!r}")
        try:
            data = decode_data_uri(url, limits)
        except Rejected as exc:
            raise RefusedFetch(exc.message) from None
        out = io.BytesIO()
        with Image.open(io.BytesIO(data)) as image:
            image.save(out, "PNG")
        return out.getvalue()

    return fetch


def render(svg: SafeSvg, size: int, limits: Limits) -> NDArray[np.uint8]:
    """The SVG as a (size, size, 3) uint8 RGB array on white.

    Raises whatever cairosvg raises for an SVG it cannot draw; the caller decides
    whether that is the model's fault (a verdict) or the request's (a bad target).
    """
    import numpy as np
    from cairosvg.parser import Tree
    from cairosvg.surface import PNGSurface

    tree = Tree(bytestring=svg.data, url_fetcher=fetcher(limits), unsafe=False)
    width, height = fitted_size(svg.width, svg.height, size)
    surface = PNGSurface(
        tree,
        None,
        96,
        parent_width=svg.width,
        parent_height=svg.height,
        output_width=width,
        output_height=height,
        background_color="white",
    )
    image = surface.cairo
    image.flush()
    stride = image.get_stride()
    rows = np.frombuffer(image.get_data(), dtype=np.uint8).reshape(image.get_height(), stride)
    # ARGB32 is native-endian: B, G, R, A in memory on little-endian machines. The
    # background is opaque, so the premultiplied colours are the plain ones.
    bgra = rows[:, : image.get_width() * 4].reshape(image.get_height(), image.get_width(), 4)
    rgb = np.ascontiguousarray(bgra[..., 2::-1]) if _little_endian() else bgra[..., 1:]
    surface.finish()
    return pad_to_square(np.ascontiguousarray(rgb), size)


def _little_endian() -> bool:
    import sys

    return sys.byteorder == "little"
