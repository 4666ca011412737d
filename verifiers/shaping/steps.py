"""Transforms of per-step rewards from "On Designing Effective RL Reward at Training
Time for LLM Reasoning" (Gao et al., 2024), for any per-step signal.

- Clip: r'_k = min(r_k - eta, 0), so no step earns a positive process reward and a
  policy cannot farm reward by adding steps;
- Delta: r'_k = r_k - r_{k+1} for k < K and r'_K = r_K, so the return-to-go from any
  step, sum_{j>=k} r'_j, telescopes to r_k and longer solutions gain nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate, pairwise
from typing import Literal

__all__ = ["StepTransform", "clip", "delta", "returns_to_go", "transform"]

StepTransform = Literal["none", "clip", "delta", "clip_delta"]


def clip(rewards: Sequence[float], eta: float) -> list[float]:
    return [min(r - eta, 0.0) for r in rewards]


def delta(rewards: Sequence[float]) -> list[float]:
    return [a - b for a, b in pairwise(rewards)] + list(rewards[-1:])


def returns_to_go(rewards: Sequence[float]) -> list[float]:
    """G_k = sum of r_j for j >= k."""
    return list(accumulate(reversed(rewards)))[::-1]


def transform(rewards: Sequence[float], kind: StepTransform, eta: float) -> list[float]:
    """`clip_delta` clips first, then takes differences."""
    if kind == "clip":
        return clip(rewards, eta)
    if kind == "delta":
        return delta(rewards)
    if kind == "clip_delta":
        return delta(clip(rewards, eta))
    return list(rewards)
