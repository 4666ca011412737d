"""RLRF's code-length reward: a drawing longer than the target costs, a shorter one not.

RLRF (sec. 3.2, "SVG length deviation"): `R_len = 1 - ((1/L_gt) * max(0, L_pred - L_gt/2))**2`.
Outputs up to half the target's length get 1; past that the penalty grows with the
square of the excess, so the reward is unbounded below (presets clip it, see
`presets`). Lengths are whatever unit the caller counts (RLRF counts tokens; the svg
verifier counts characters, since no SVG tokenizer is assumed on the server).
"""

from __future__ import annotations

__all__ = ["length_reward"]


def length_reward(pred_len: float, gt_len: float) -> float:
    """`1 - ((1/L_gt) * max(0, L_pred - L_gt/2))**2`; `gt_len` must be positive."""
    if gt_len <= 0:
        raise ValueError(f"the target length must be positive, got {gt_len}")
    excess = max(0.0, pred_len - gt_len / 2)
    return 1.0 - (excess / gt_len) ** 2
