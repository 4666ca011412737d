"""Image metrics shared by the rendering verifiers (svg, chart, web).

Verifiers render the model's output and the target to RGB arrays on one white square
canvas (`raster`), then `compare` them under a preset or custom weights. The formulas
are RLRF's and StarVector's (see `pixels`, `edges`, `length`, `presets`); learned
metrics are optional plugins with local weights (`perceptual`). Importing this package
is cheap: numpy, scikit-image and scipy load when a metric first runs.
"""

from rewardgate.verifiers.image.compare import Scores, compare, mix, preset_weights
from rewardgate.verifiers.image.edges import canny_map, sobel_map
from rewardgate.verifiers.image.length import length_reward
from rewardgate.verifiers.image.perceptual import PerceptualMetric, PerceptualSpec, load_metric
from rewardgate.verifiers.image.pixels import mse, normalised_l2, normalised_l2_reward, ssim
from rewardgate.verifiers.image.presets import PIXEL_TERMS, PRESETS, Preset
from rewardgate.verifiers.image.raster import (
    fitted_size,
    image_to_canvas,
    pad_to_square,
    png_to_canvas,
)

__all__ = [
    "PIXEL_TERMS",
    "PRESETS",
    "PerceptualMetric",
    "PerceptualSpec",
    "Preset",
    "Scores",
    "canny_map",
    "compare",
    "fitted_size",
    "image_to_canvas",
    "length_reward",
    "load_metric",
    "mix",
    "mse",
    "normalised_l2",
    "normalised_l2_reward",
    "pad_to_square",
    "png_to_canvas",
    "preset_weights",
    "sobel_map",
    "ssim",
]
