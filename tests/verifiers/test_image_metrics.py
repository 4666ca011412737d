"""The shared image metrics against hand-computed values and the papers' formulas."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rewardgate.verifiers.errors import InvalidRequest, VerifierError
from rewardgate.verifiers.image import (
    PRESETS,
    PerceptualSpec,
    compare,
    length_reward,
    load_metric,
    mse,
    normalised_l2,
    normalised_l2_reward,
    png_to_canvas,
    ssim,
)
from rewardgate.verifiers.image.perceptual import resolve, term_reward

PLUGIN = "tests.verifiers.image_plugin:load"


def img(*rows: list[int]) -> np.ndarray:
    """A one-channel float image in [0, 1] from rows of 0-255 values."""
    return np.asarray(rows, dtype=np.float64) / 255.0


def solid(colour: tuple[int, int, int], size: int = 32) -> np.ndarray:
    return np.tile(np.asarray(colour, dtype=np.uint8), (size, size, 1))


def square(colour: tuple[int, int, int] = (0, 0, 0), shift: int = 0, size: int = 64) -> np.ndarray:
    """A filled square on white, moved right by `shift` pixels."""
    image = solid((255, 255, 255), size)
    image[16:40, 16 + shift : 40 + shift] = colour
    return image


# --- RLRF normalised L2: clip(1 - mean((z(I) - z(I_hat))^2), -1, 1) -------------------


@pytest.mark.parametrize(
    ("pred", "target", "distance"),
    [
        pytest.param(img([0, 255], [0, 255]), img([0, 255], [0, 255]), 0.0, id="identical"),
        # z = [-1, 1, -1, 1] vs [1, -1, 1, -1]: every difference is 2.
        pytest.param(img([0, 255], [0, 255]), img([255, 0], [255, 0]), 4.0, id="inverted"),
        # Standardisation removes scale and offset: [0, 51] vs [100, 200] match.
        pytest.param(img([0, 51], [0, 51]), img([100, 200], [100, 200]), 0.0, id="affine"),
        # rho = 1/sqrt(3) between [0,0,0,1] and [0,0,1,1]: distance 2 - 2/sqrt(3).
        pytest.param(
            img([0, 0], [0, 255]), img([0, 0], [255, 255]), 2 - 2 / math.sqrt(3), id="rho"
        ),
        # A constant side has z = 0: the varying side's mean(z^2) = 1 remains.
        pytest.param(img([255, 255], [255, 255]), img([0, 255], [0, 0]), 1.0, id="one-blank"),
        pytest.param(img([0, 255], [0, 0]), img([7, 7], [7, 7]), 1.0, id="other-blank"),
        # Both constant: the raw values compare.
        pytest.param(img([255, 255]), img([255, 255]), 0.0, id="both-blank-equal"),
        pytest.param(img([255, 255]), img([0, 0]), 1.0, id="white-vs-black"),
        pytest.param(img([51, 51]), img([153, 153]), 0.16, id="grey-vs-grey"),
    ],
)
def test_normalised_l2_hand_computed(pred: np.ndarray, target: np.ndarray, distance: float) -> None:
    assert normalised_l2(pred, target) == pytest.approx(distance, abs=1e-12)
    assert normalised_l2_reward(normalised_l2(pred, target)) == pytest.approx(
        min(1.0, max(-1.0, 1 - distance)), abs=1e-12
    )


def test_normalised_l2_averages_channels() -> None:
    """A red square vs a black one: R is constant in the red one (1), G and B agree (0)."""
    red = square((255, 0, 0)).astype(np.float64) / 255
    black = square((0, 0, 0)).astype(np.float64) / 255
    assert normalised_l2(red, black) == pytest.approx(1 / 3, abs=1e-12)


@pytest.mark.parametrize(
    ("distance", "reward"),
    [(0.0, 1.0), (0.25, 0.75), (1.0, 0.0), (2.0, -1.0), (4.0, -1.0), (-0.5, 1.0)],
    ids=["zero", "quarter", "one", "two", "clipped-low", "clipped-high"],
)
def test_normalised_l2_reward_clips(distance: float, reward: float) -> None:
    assert normalised_l2_reward(distance) == reward


# --- StarVector's MSE and SSIM ----------------------------------------------------------


@pytest.mark.parametrize(
    ("pred", "target", "expected"),
    [
        pytest.param(solid((0, 0, 0)), solid((255, 255, 255)), 1.0, id="black-vs-white"),
        pytest.param(solid((255, 0, 0)), solid((255, 255, 255)), 2 / 3, id="red-vs-white"),
        pytest.param(solid((51, 51, 51)), solid((0, 0, 0)), 0.04, id="grey-0.2"),
        pytest.param(square(), square(), 0.0, id="identical"),
        # 24x24 of 64x64 pixels go from black to white in all three channels.
        pytest.param(square(), solid((255, 255, 255), 64), 576 / 4096, id="blank"),
    ],
)
def test_mse_hand_computed(pred: np.ndarray, target: np.ndarray, expected: float) -> None:
    assert mse(pred, target) == pytest.approx(expected, abs=1e-12)


def _ssim_one_window(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two 11x11 images by its formula: one uniform window, sample covariance."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for c in range(3):
        x, y = a[..., c].astype(np.float64).ravel(), b[..., c].astype(np.float64).ravel()
        mx, my = x.mean(), y.mean()
        vx, vy = x.var(ddof=1), y.var(ddof=1)
        vxy = ((x - mx) * (y - my)).sum() / (x.size - 1)
        values.append(
            ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        )
    return float(np.mean(values))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_is_starvectors_uniform_11x11_window(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (11, 11, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-60, 60, a.shape), 0, 255).astype(np.uint8)
    assert ssim(a, b) == pytest.approx(_ssim_one_window(a, b), abs=1e-9)


def test_ssim_of_two_flat_images() -> None:
    """No variance anywhere: only the luminance term, C1 / (255^2 + C1), is left."""
    c1 = (0.01 * 255) ** 2
    assert ssim(solid((255, 255, 255)), solid((0, 0, 0))) == pytest.approx(
        c1 / (255**2 + c1), rel=1e-9
    )


# --- RLRF's length reward ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pred_len", "gt_len", "expected"),
    [
        (0, 100, 1.0),
        (50, 100, 1.0),
        (75, 100, 1 - 0.25**2),
        (100, 100, 0.75),
        (150, 100, 0.0),
        (200, 100, 1 - 1.5**2),
        (250, 100, -3.0),
        (3, 2, 0.0),
    ],
    ids=["empty", "half", "three-quarters", "equal", "one-and-a-half", "double", "2.5x", "tiny"],
)
def test_length_reward_hand_computed(pred_len: int, gt_len: int, expected: float) -> None:
    assert length_reward(pred_len, gt_len) == pytest.approx(expected, abs=1e-12)


def test_length_reward_needs_a_target_length() -> None:
    with pytest.raises(ValueError, match="positive"):
        length_reward(10, 0)


# --- Presets ----------------------------------------------------------------------------

C1 = (0.01 * 255) ** 2
FLAT_SSIM = C1 / (255**2 + C1)


@pytest.mark.parametrize(
    ("preset", "pred", "target", "lengths", "expected"),
    [
        pytest.param("default", square(), square(), None, 1.0, id="default-identical"),
        # ssim of flat images, 1 - mse = 0, l2 of constant channels raw: 1 -> reward 0.
        pytest.param(
            "default", solid((255,) * 3), solid((0,) * 3), None, FLAT_SSIM / 3, id="default-flat"
        ),
        pytest.param("starvector", square(), square(), None, 1.0, id="starvector-identical"),
        pytest.param(
            "starvector",
            solid((255,) * 3),
            solid((0,) * 3),
            None,
            FLAT_SSIM / 2,
            id="starvector-flat",
        ),
        # (l2 + l2_canny + length) / 3 with length 1 - (50/100)^2 at equal lengths.
        pytest.param("rlrf", square(), square(), (100, 100), (1 + 1 + 0.75) / 3, id="rlrf-eq-len"),
        pytest.param("rlrf", square(), square(), (50, 100), 1.0, id="rlrf-half-length"),
        # The length term is clipped at -1: 2.5x the target would be -3.
        pytest.param("rlrf", square(), square(), (250, 100), (1 + 1 - 1) / 3, id="rlrf-clip-len"),
        # Flat white vs black: l2 raw 1 -> 0; no edges on either side -> l2_canny 1.
        pytest.param("rlrf", solid((255,) * 3), solid((0,) * 3), (50, 100), 2 / 3, id="rlrf-flat"),
    ],
)
def test_presets_hand_computed(
    preset: str,
    pred: np.ndarray,
    target: np.ndarray,
    lengths: tuple[int, int] | None,
    expected: float,
) -> None:
    scores = compare(pred, target, preset, lengths=lengths)
    assert scores.reward == pytest.approx(expected, abs=1e-12)
    assert set(scores.terms) == set(PRESETS[preset].weights)


def test_identical_images_score_exactly_one_under_default() -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert compare(image, image.copy()).reward == 1.0


def test_recolour_is_seen_although_normalised_l2_is_blind_to_it() -> None:
    """Dark grey for black keeps every channel's correlation: only colour terms notice."""
    grey = square((64, 64, 64))
    scores = compare(grey, square())
    assert scores.terms["l2"] == 1.0
    assert scores.reward < 1.0
    assert scores.terms["ssim"] < 1.0 and scores.terms["mse"] < 1.0


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_shift_order_and_blank(preset: str) -> None:
    target = square()
    lengths = (50, 100)
    same = compare(square(), target, preset, lengths=lengths).reward
    small = compare(square(shift=2), target, preset, lengths=lengths).reward
    large = compare(square(shift=8), target, preset, lengths=lengths).reward
    blank = compare(solid((255,) * 3, 64), target, preset, lengths=lengths).reward
    assert same > small > large
    assert blank < same


FLATS = [solid((255, 255, 255), 32), solid((0, 0, 0), 32), solid((255, 0, 0), 32)]
SHAPES = [square(size=32), square((0, 0, 255), size=32)]


@pytest.mark.parametrize("pred", FLATS + SHAPES, ids=["white", "black", "red", "sq", "blue-sq"])
@pytest.mark.parametrize("target", FLATS + SHAPES, ids=["white", "black", "red", "sq", "blue-sq"])
def test_degenerate_images_never_give_nan(pred: np.ndarray, target: np.ndarray) -> None:
    weights = {"mse": 1, "ssim": 1, "l2": 1, "l2_canny": 1, "l2_sobel": 1}
    scores = compare(pred, target, weights=weights)
    values = [scores.reward, *scores.terms.values()]
    assert all(math.isfinite(v) for v in values), scores.terms
    if pred is target:
        assert scores.reward == 1.0


def test_details_carry_every_computed_metric_and_only_those() -> None:
    scores = compare(square(shift=1), square(), weights={"l2_sobel": 2.0, "mse": 1.0})
    details = scores.details()
    assert set(details["metrics"]) == set(details["terms"]) == {"l2_sobel", "mse"}
    assert details["weights"] == {"l2_sobel": 2.0, "mse": 1.0}
    expected = (2 * details["terms"]["l2_sobel"] + details["terms"]["mse"]) / 3
    assert scores.reward == pytest.approx(expected)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"psnr": 1.0}, "unknown term"),
        ({"mse": -1.0, "ssim": 1.0}, "non-negative"),
        ({"mse": 0.0}, "one positive"),
        ({"length": 1.0}, "target's length"),
    ],
    ids=["unknown", "negative", "all-zero", "length-without-lengths"],
)
def test_bad_weights_raise(weights: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compare(square(), square(), weights=weights)


def test_images_must_match() -> None:
    with pytest.raises(ValueError, match="shape"):
        compare(square(size=64), square(size=32))


# --- Perceptual plugins -----------------------------------------------------------------


@pytest.fixture
def toy_weights(tmp_path: Path) -> Path:
    path = tmp_path / "toy.json"
    path.write_text(json.dumps({"channel_weights": [1.0, 1.0, 2.0]}))
    return path


def test_plugin_loads_local_weights_and_scores(toy_weights: Path) -> None:
    metric = load_metric(PerceptualSpec("toy", toy_weights, PLUGIN))
    white, black = solid((255,) * 3), solid((0,) * 3)
    assert metric(white, white) == 0.0
    assert metric(white, black) == 1.0
    scores = compare(
        square(shift=4), square(), weights={"toy": 1, "toy_canny": 1}, perceptual={"toy": metric}
    )
    assert set(scores.terms) == {"toy", "toy_canny"}
    assert 0 < scores.terms["toy"] < 1 and 0 < scores.terms["toy_canny"] < 1
    assert scores.terms["toy"] == 1 - scores.metrics["toy"]


@pytest.mark.parametrize(
    ("term", "distance", "reward"),
    [("dreamsim", 0.25, 0.5), ("dreamsim_canny", 0.5, 0.0), ("lpips", 0.25, 0.75)],
)
def test_perceptual_rewards_follow_their_papers(term: str, distance: float, reward: float) -> None:
    assert term_reward(term, distance) == reward


def test_unconfigured_metric_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="not configured"):
        resolve("dreamsim", {})


def test_missing_weights_are_the_servers_error(tmp_path: Path) -> None:
    with pytest.raises(VerifierError, match="not found"):
        load_metric(PerceptualSpec("toy", tmp_path / "absent.json", PLUGIN))


def test_builtin_loader_without_its_package_is_the_servers_error(tmp_path: Path) -> None:
    with pytest.raises(VerifierError, match="dreamsim"):
        load_metric(PerceptualSpec("dreamsim", tmp_path))


# --- Rasters onto the canvas ------------------------------------------------------------


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_png_is_composited_on_white_fitted_and_padded() -> None:
    wide = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    wide.paste((0, 0, 255, 255), (0, 0, 20, 20))
    canvas = png_to_canvas(_png(wide), 80, 10**6)
    assert canvas.shape == (80, 80, 3)
    assert (canvas[:20] == 255).all() and (canvas[60:] == 255).all()  # padding
    assert tuple(canvas[40, 20]) == (0, 0, 255)  # scaled 2x, centred vertically
    assert tuple(canvas[40, 60]) == (255, 255, 255)  # transparent -> white


@pytest.mark.parametrize(
    ("data", "match"),
    [(b"not an image", "not a readable image"), (None, "exceeds")],
    ids=["garbage", "too-many-pixels"],
)
def test_png_refusals(data: bytes | None, match: str) -> None:
    data = data or _png(Image.new("L", (200, 200)))
    with pytest.raises(ValueError, match=match):
        png_to_canvas(data, 64, 100 * 100)
