"""A real perceptual-metric plugin for the tests: its "weights" are a local JSON file.

It exercises the loading path the built-in DreamSim/LPIPS/CLIP loaders use (a factory
named in the server's config, called with the local path) without model weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def load(path: Path) -> object:
    """Distance: channel-weighted mean absolute difference in [0, 1], weights from `path`."""
    import numpy as np

    weights = np.asarray(json.loads(path.read_text())["channel_weights"], dtype=np.float64)

    def distance(pred: NDArray[np.uint8], target: NDArray[np.uint8]) -> float:
        diff = np.abs(pred.astype(np.float64) - target.astype(np.float64)) / 255.0
        return float((diff.mean(axis=(0, 1)) * weights).sum() / weights.sum())

    return distance
