"""Named mixes of image metrics, so a trainer picks a paper's reward by name.

A preset is a weighted mean of *terms* (each metric turned into a reward) and a
`lowest` reward: what invalid output (no drawing, unparsable, unsafe) gets, and the
floor under any drawing's reward, so a drawing never pays less than no drawing.

* `default`: pixel and structure only: SSIM, `1 - MSE` and RLRF's normalised L2,
  equally weighted; an identical image scores exactly 1.0. Normalised L2 alone is blind
  to a uniform recolour (standardisation removes it), so the colour-aware SSIM and MSE
  are in the mix. Lowest 0.
* `rlrf`: RLRF's image-to-SVG mix without its learned metrics (they need weights, see
  `perceptual`): normalised L2, L2 on Canny edge maps and the length reward, equally
  weighted (the reference code averages its terms); invalid output gets -1, as in
  RLRF. The length term is clipped at -1 like the others, so -1 is the lowest reward.
  RLRF's DreamSim terms join through custom weights (`dreamsim`, `dreamsim_canny`)
  where the server configures a DreamSim plugin.
* `starvector`: StarVector's reported metrics as a reward: the mean of SSIM and
  `1 - MSE` (its `compute_SSIM.py` and `compute_l2.py`). Lowest 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["PIXEL_TERMS", "PRESETS", "Preset"]

# Terms computed from the two images alone (perceptual terms come from plugins).
PIXEL_TERMS = ("mse", "ssim", "l2", "l2_canny", "l2_sobel")


@dataclass(frozen=True)
class Preset:
    name: str
    weights: Mapping[str, float]
    lowest: float
    description: str


def _preset(name: str, weights: dict[str, float], lowest: float, description: str) -> Preset:
    return Preset(name, MappingProxyType(weights), lowest, description)


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        "default": _preset(
            "default",
            {"ssim": 1.0, "mse": 1.0, "l2": 1.0},
            0.0,
            "mean of SSIM, 1 - MSE and RLRF's normalised L2; identical images score 1",
        ),
        "rlrf": _preset(
            "rlrf",
            {"l2": 1.0, "l2_canny": 1.0, "length": 1.0},
            -1.0,
            "RLRF: mean of normalised L2, Canny-edge L2 and the length reward; invalid -1",
        ),
        "starvector": _preset(
            "starvector",
            {"ssim": 1.0, "mse": 1.0},
            0.0,
            "StarVector's metrics: mean of SSIM and 1 - MSE",
        ),
    }
)
