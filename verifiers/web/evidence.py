"""The web verifier's evidence images: both screenshots with their text blocks outlined.

Drawn from what the verdict already computed: the two canvases the image terms
compared and the boxes of the blocks the matcher merged, green where a block found its
match on the other page, red where it did not (missing or hallucinated text). The
difference heat-map is taken between the plain canvases, before any outline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rewardgate.verifiers.evidence_images import difference_map, outlined
from rewardgate.verifiers.web.render import rendered_target

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from rewardgate.verifiers.web.models import WebOptions, WebReference
    from rewardgate.verifiers.web.render import RenderedPage
    from rewardgate.verifiers.web.scores import BlockScores

__all__ = ["page_images"]


def page_images(
    page: RenderedPage,
    target_canvas: NDArray[np.uint8],
    reference: WebReference,
    options: WebOptions,
    chromium: str | None,
    scored: BlockScores | None,
) -> dict[str, NDArray[np.uint8]]:
    """Target, candidate (outlined when blocks were matched) and their difference."""
    candidate, target = page.canvas, target_canvas
    if scored is not None:
        candidate = outlined(page.canvas, (page.width, page.height), scored.pred_outlines)
        if reference.target_html is not None:
            # The target's page as `judge` rendered it: this worker's cached copy.
            shown = rendered_target(
                reference.target_html,
                (options.viewport_width, options.viewport_height),
                options.size,
                options.render_timeout_s,
                chromium,
                options.block_reading,
            )
            target = outlined(target_canvas, (shown.width, shown.height), scored.target_outlines)
    return {
        "target": target,
        "candidate": candidate,
        "difference": difference_map(page.canvas, target_canvas),
    }
