"""Named mixes of the web verifier's terms.

Design2Code (Si et al. 2024, "Design2Code: How Far Are We From Automating Front-End
Engineering?", sec. 3.2) scores a page by the mean of five parts: Block-Match, Text,
Position, Color (see `scores`) and CLIP similarity of the screenshots. CLIP needs
weights this server may not have, so:

* `default`: the four block-level terms and the image module's default pixel mix
  (SSIM, `1 - MSE`, RLRF's normalised L2) in CLIP's place, each of the five parts
  weighing 1 (the pixel part's three terms 1/3 each). Identical pages score exactly 1.
* `design2code`: the paper's mix, with CLIP as the fifth part; needs the `clip`
  perceptual metric configured (setting `image_perceptual`).

Against a screenshot target (`target_png`) there is no DOM to take blocks from, so the
block-level terms drop out and the remaining weights are renormalised.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

__all__ = ["PRESETS", "STRUCTURE_TERMS", "PresetName"]

PresetName = Literal["default", "design2code"]

# Terms computed from the DOM blocks of two pages (Design2Code's), not their pixels.
STRUCTURE_TERMS = ("block", "text", "position", "color")

_THIRD = 1.0 / 3.0

PRESETS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "default": MappingProxyType(
            {
                "block": 1.0,
                "text": 1.0,
                "position": 1.0,
                "color": 1.0,
                "ssim": _THIRD,
                "mse": _THIRD,
                "l2": _THIRD,
            }
        ),
        "design2code": MappingProxyType(
            {"block": 1.0, "text": 1.0, "position": 1.0, "color": 1.0, "clip": 1.0}
        ),
    }
)
