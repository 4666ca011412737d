"""`compare(pred, target, preset, weights)`: every weighted metric, its reward term, the mix.

The one entry point the svg, chart and web verifiers share: they render, this scores.
Only the terms with a positive weight are computed (SSIM and edge maps cost more than
the rest), and `Scores.details()` carries every one that was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.image.edges import canny_map, sobel_map
from rewardgate.verifiers.image.length import length_reward
from rewardgate.verifiers.image.perceptual import (
    PerceptualMetric,
    base_name,
    term_reward,
)
from rewardgate.verifiers.image.pixels import (
    check_pair,
    mse,
    normalised_l2,
    normalised_l2_reward,
    ssim,
    unit,
)
from rewardgate.verifiers.image.presets import PIXEL_TERMS, PRESETS, Preset

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Scores", "compare", "mix", "preset_weights"]


@dataclass
class Scores:
    """The mixed reward, each term's reward and each raw metric, for `details`."""

    reward: float
    preset: str
    weights: dict[str, float]
    terms: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "weights": self.weights,
            "terms": self.terms,
            "metrics": self.metrics,
        }


def preset_weights(preset: str, weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """The weights in force: the custom ones if given, else the preset's; zeros dropped."""
    chosen = PRESETS[preset].weights if weights is None else weights
    active = {name: float(w) for name, w in chosen.items() if w}
    if not active or any(w < 0 for w in active.values()):
        raise ValueError(f"weights must be non-negative with one positive: {dict(chosen)}")
    return active


def mix(terms: Mapping[str, float], weights: Mapping[str, float], lowest: float) -> float:
    """Weighted mean of the terms, floored at `lowest`.

    With every term 1 the numerator sums the same weights as the denominator in the
    same order, so the result is exactly 1.0.
    """
    total = sum(weights.values())
    value = sum(weights[name] * terms[name] for name in weights) / total
    return max(lowest, value)


def compare(
    pred: NDArray[np.uint8],
    target: NDArray[np.uint8],
    preset: str = "default",
    weights: Mapping[str, float] | None = None,
    *,
    lengths: tuple[float, float] | None = None,
    perceptual: Mapping[str, PerceptualMetric] | None = None,
) -> Scores:
    """Score `pred` against `target` (uint8 RGB, same shape, rendered on white).

    `lengths` is `(L_pred, L_gt)` for the `length` term; `perceptual` maps a metric
    name (`dreamsim`) to a loaded metric for its terms (`dreamsim`, `dreamsim_canny`).
    Raises ValueError for a term it cannot compute (unknown, or its input missing).
    """
    check_pair(pred, target)
    chosen: Preset = PRESETS[preset]
    active = preset_weights(preset, weights)
    scores = Scores(reward=0.0, preset=preset, weights=active)
    edges: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}

    def edge_pair(kind: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if kind not in edges:
            make = canny_map if kind == "canny" else sobel_map
            edges[kind] = (make(pred), make(target))
        return edges[kind]

    for term in active:
        if term == "mse":
            scores.metrics["mse"] = value = mse(pred, target)
            scores.terms["mse"] = 1.0 - value
        elif term == "ssim":
            scores.metrics["ssim"] = scores.terms["ssim"] = ssim(pred, target)
        elif term == "l2":
            scores.metrics["l2"] = value = normalised_l2(unit(pred), unit(target))
            scores.terms["l2"] = normalised_l2_reward(value)
        elif term in ("l2_canny", "l2_sobel"):
            a, b = edge_pair(term.removeprefix("l2_"))
            scores.metrics[term] = value = normalised_l2(a, b)
            scores.terms[term] = normalised_l2_reward(value)
        elif term == "length":
            if lengths is None:
                raise ValueError("the length term needs the target's length")
            scores.metrics["length"] = {"pred": lengths[0], "target": lengths[1]}
            scores.terms["length"] = max(-1.0, length_reward(*lengths))
        elif perceptual is not None and base_name(term) in perceptual:
            metric = perceptual[base_name(term)]
            if term.endswith("_canny"):
                pred_edges, target_edges = edge_pair("canny")
                distance = metric(_edge_image(pred_edges), _edge_image(target_edges))
            else:
                distance = metric(pred, target)
            scores.metrics[term] = distance
            scores.terms[term] = term_reward(term, distance)
        else:
            known = ", ".join((*PIXEL_TERMS, "length", "<perceptual>[_canny]"))
            raise ValueError(f"unknown term {term!r}; known: {known}")
    scores.reward = mix(scores.terms, active, chosen.lowest)
    return scores


def _edge_image(edge_map: NDArray[np.float64]) -> NDArray[np.uint8]:
    """An edge map as a grey RGB image, for metrics that take images (DreamSim on edges)."""
    import numpy as np

    grey = np.clip(np.rint(edge_map * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)
