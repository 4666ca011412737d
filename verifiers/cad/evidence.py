"""The CAD verifier's evidence images: the views its sandboxed runner drew of both parts.

The runner sends grey levels, not an image file (`views.draw`): they are checked for
their announced size here and only then made into PNGs, so nothing the sandbox sends
is decoded as a file format on the host.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from rewardgate.verifiers.evidence_images import attach_images

__all__ = ["MAX_SIDE", "attach_views"]

MAX_SIDE = 2048  # the most pixels a strip of views may have on a side


def attach_views(details: dict[str, Any], report: dict[str, Any], max_bytes: int) -> None:
    """`details["images"]` `reference` and `candidate` from the report's `views`."""
    import numpy as np

    views = report.get("views")
    if not isinstance(views, dict):
        details["images_note"] = f"no views: {str(report.get('views_error'))[:300]}"
        return
    try:
        height, width = int(views["height"]), int(views["width"])
        if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
            raise ValueError(f"a strip of {width}x{height}")
        images = {}
        for side in ("reference", "candidate"):
            grey = np.frombuffer(base64.b64decode(views[side], validate=True), dtype=np.uint8)
            if grey.size != height * width:
                raise ValueError(f"{side}: {grey.size} levels for {width}x{height}")
            images[side] = np.repeat(grey.reshape(height, width, 1), 3, axis=2)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        details["images_note"] = f"no views: the runner's were malformed ({exc})"
        return
    names = views.get("views")
    if isinstance(names, list):
        details["views"] = [str(name)[:20] for name in names[:8]]
    attach_images(details, images, max_bytes)
