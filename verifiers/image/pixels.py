"""Pixel metrics on two RGB images of the same size: MSE, SSIM and RLRF's normalised L2.

Images are `uint8` arrays of shape (H, W, 3), rendered on white. The formulas follow
the reference implementations:

* `mse`: StarVector's `L2DistanceCalculator` (starvector/metrics/compute_l2.py):
  `F.mse_loss` of the two images as `ToTensor()` makes them, i.e. in [0, 1].
* `ssim`: StarVector's `SSIMDistanceCalculator` (starvector/metrics/compute_SSIM.py):
  scikit-image's `structural_similarity` on the uint8 arrays (data range 255) with
  `win_size=11` and `channel_axis=-1`. StarVector also passes `sigma=1.5`, which
  scikit-image ignores without `gaussian_weights=True`, so the window is uniform 11x11.
* `normalised_l2`: RLRF (Rodriguez et al. 2025, "Rendering-Aware Reinforcement
  Learning for Vector Graphics Generation", sec. 3.2, image reconstruction reward):
  each image is standardised per channel to zero mean and unit variance, and the
  reward is `clip(1 - mean((z(I) - z(I_hat))**2), -1, 1)`.

With population statistics, `mean((z(a) - z(b))**2) = 2 * (1 - rho)` for the Pearson
correlation `rho` of the two channels, so the RLRF reward of one channel is `2*rho - 1`.

Degenerate case, defined here rather than leaking NaN: a *constant* channel (every
pixel equal: a blank page, or a red drawing's red channel on white) has no variance.
Its standardised values are defined as 0 (x - mean is 0 everywhere). So a constant
channel against a varying one contributes `mean(z**2) = 1` (reward 0: no
information), and when both sides are constant the raw values in [0, 1] are
compared instead (two blank pages agree exactly; white against black differs by 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "SSIM_WIN_SIZE",
    "check_pair",
    "grayscale",
    "mse",
    "normalised_l2",
    "normalised_l2_reward",
    "ssim",
    "standardise",
]

SSIM_WIN_SIZE = 11
# ITU-R BT.601 luma, as PIL's "L" mode and RLRF's reference edge code use.
_LUMA = (0.299, 0.587, 0.114)


def check_pair(pred: NDArray[np.uint8], target: NDArray[np.uint8]) -> None:
    """Both images must be uint8 RGB of one shape: the metrics compare pixel by pixel."""
    if pred.shape != target.shape:
        raise ValueError(f"images differ in shape: {pred.shape} vs {target.shape}")
    if pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB images, got shape {pred.shape}")
    if pred.dtype.name != "uint8" or target.dtype.name != "uint8":
        raise ValueError(f"expected uint8 images, got {pred.dtype} and {target.dtype}")


def unit(image: NDArray[np.uint8]) -> NDArray[np.float64]:
    """The image in [0, 1], as torchvision's `ToTensor` scales it."""
    import numpy as np

    return image.astype(np.float64) / 255.0


def mse(pred: NDArray[np.uint8], target: NDArray[np.uint8]) -> float:
    """Mean squared error of the images in [0, 1] (StarVector's L2 metric)."""
    import numpy as np

    diff = unit(pred) - unit(target)
    return float(np.mean(diff * diff))


def ssim(pred: NDArray[np.uint8], target: NDArray[np.uint8]) -> float:
    """StarVector's SSIM: uniform 11x11 window, colour channels averaged, range 255."""
    from skimage.metrics import structural_similarity

    return float(
        structural_similarity(pred, target, win_size=SSIM_WIN_SIZE, channel_axis=-1, data_range=255)
    )


def grayscale(image: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Luma in [0, 1] (BT.601 weights)."""
    rgb = unit(image)
    return rgb[..., 0] * _LUMA[0] + rgb[..., 1] * _LUMA[1] + rgb[..., 2] * _LUMA[2]


def standardise(channel: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """Zero mean, unit (population) variance; None for a constant channel."""
    import numpy as np

    if channel.max() == channel.min():  # exact: a float mean of a constant is not exact
        return None
    centred = channel - channel.mean()
    return centred / float(np.sqrt(np.mean(centred * centred)))


def _channel_l2(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    import numpy as np

    za, zb = standardise(a), standardise(b)
    if za is None and zb is None:
        diff = a - b  # both constant: compare the raw values
    elif za is None or zb is None:
        return 1.0  # mean(z**2) of the varying side; the constant side's z is 0
    else:
        diff = za - zb
    return float(np.mean(diff * diff))


def normalised_l2(pred: NDArray[np.float64], target: NDArray[np.float64]) -> float:
    """RLRF's distance `mean((z(I) - z(I_hat))**2)`, averaged over channels.

    Takes float images in [0, 1] of shape (H, W) or (H, W, C) (edge maps are 2-D).
    """
    if pred.ndim == 2:
        return _channel_l2(pred, target)
    channels = pred.shape[2]
    return sum(_channel_l2(pred[..., c], target[..., c]) for c in range(channels)) / channels


def normalised_l2_reward(distance: float) -> float:
    """RLRF's `clip(1 - distance, -1, 1)`."""
    return min(1.0, max(-1.0, 1.0 - distance))
