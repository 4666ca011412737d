"""Reward presets as stage weights, SQL-R1's length bonus, and BIRD's R-VES buckets.

Every preset is a `RewardWeights`: the stages a response passes or fails
(format, execute, result) each add their weight, so custom weights are the same
mechanism. Sources:

- binary: execution accuracy, 1 on a match, else 0.
- arctic (Arctic-Text2SQL-R1): 1 on a match, 0.1 when the query runs but is wrong, 0
  when it fails to run; here 0.1 for running plus 0.9 for the match.
- sql_r1 (SQL-R1, verl/utils/reward_score/synsql.py): format +1/-1; only with a good
  format, execution +2 (runs) / -2 (fails or times out) and result +3/-3; on a match a
  length bonus `len(sql)/len(answer) + 0.5*min(len(think+answer), 2048)/2048`.
"""

from __future__ import annotations

from collections.abc import Sequence

from rewardgate.verifiers.sql.models import RewardWeights

__all__ = ["LENGTH_LIMIT", "PRESETS", "clean_abnormal", "length_bonus", "ves_bucket"]

PRESETS: dict[str, RewardWeights] = {
    "binary": RewardWeights(match=1.0),
    "arctic": RewardWeights(executes=0.1, match=0.9),
    "sql_r1": RewardWeights(
        format_ok=1.0,
        format_bad=-1.0,
        executes=2.0,
        fails=-2.0,
        match=3.0,
        mismatch=-3.0,
        length=1.0,
        gate_on_format=True,
    ),
}

LENGTH_LIMIT = 2048


def length_bonus(query: str, think: str, answer: str) -> float:
    """SQL-R1's length score (v2: paid only on a match); `query` as SQL-R1 measures it."""
    if not answer:
        return 0.0
    in_answer = len(query) / len(answer)
    total = len(think) + len(answer)
    if total <= LENGTH_LIMIT:
        return in_answer + total / LENGTH_LIMIT * 0.5
    return 0.5 + in_answer


def clean_abnormal(ratios: Sequence[float]) -> list[float]:
    """BIRD's outlier filter: keep ratios strictly within three standard deviations.

    When every ratio is equal (deviation 0) BIRD keeps none and divides by zero; we keep
    them all, which is the ratio BIRD means.
    """
    mean = sum(ratios) / len(ratios)
    std = (sum((r - mean) ** 2 for r in ratios) / len(ratios)) ** 0.5
    if std == 0:
        return list(ratios)
    return [r for r in ratios if mean - 3 * std < r < mean + 3 * std]


def ves_bucket(time_ratio: float) -> float:
    """BIRD's R-VES reward for a correct prediction, from gold_time / pred_time."""
    if time_ratio >= 2:
        return 1.25
    if time_ratio >= 1:
        return 1.0
    if time_ratio >= 0.5:
        return 0.75
    if time_ratio >= 0.25:
        return 0.5
    return 0.25
