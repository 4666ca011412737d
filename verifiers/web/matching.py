"""Design2Code's block matching: merge neighbouring blocks where it helps, then Hungarian.

Carried over from Design2Code's `metrics/visual_score.py`:

* the cost of pairing two blocks is minus their text similarity (`create_cost_matrix`);
* `find_possible_merge`: repeatedly try merging each pair of neighbouring blocks of
  either page; a merge is kept when it improves the optimal matching by more than 0.05
  in `difference_of_means` of the matched costs (their multisets less what the two
  matchings share); non-overlapping improving merges are applied best first
  (`merge_blocks_by_list`), until neither page changes;
* the final matching adds the context bonus (`adjust_cost_for_context`, bonus 0.1,
  window 1): a confident pair (similarity above 0.5) gets 0.1 times the sum of the two
  best costs around it, so runs of matching neighbours win over isolated look-alikes;
* pairs whose text similarity is under 0.5 are dropped afterwards.

Text similarity is the Indel (LCS-based) normalised similarity, `2 * LCS / (|a| + |b|)`:
what the paper defines ("twice the number of overlapping characters divided by the total
number of characters"). The reference code computes it with difflib's Ratcliff/Obershelp
`SequenceMatcher.ratio()`, a greedy approximation of the same quantity (equal on most
short strings, never above it); rapidfuzz computes the exact one in C for a whole matrix
at once, which keeps the merge search affordable.

Under the `design2code` block reading the similarity is difflib's `ratio()` itself
(`similarity="difflib"`), so the preset gives the reference code's numbers.

One shortcut, exact: when every matched cost is already -1 (each matched pair
identical), no merge can pass `difference_of_means`, so the search stops.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rewardgate.verifiers.web.blocks import Block

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CONSECUTIVE_BONUS",
    "MERGE_GAIN",
    "MIN_TEXT_SIMILARITY",
    "WINDOW_SIZE",
    "adjust_cost_for_context",
    "difference_of_means",
    "find_possible_merge",
    "merge_blocks",
    "text_similarity",
]

CONSECUTIVE_BONUS = 0.1
WINDOW_SIZE = 1
MERGE_GAIN = 0.05
MIN_TEXT_SIMILARITY = 0.5


def text_similarity(a: str, b: str, similarity: str = "indel") -> float:
    """`2 * LCS / (|a| + |b|)` of two texts (1.0 for two empty ones), or with
    `similarity="difflib"` Design2Code's `SequenceMatcher(None, a, b).ratio()`."""
    if similarity == "difflib":
        from difflib import SequenceMatcher

        return float(SequenceMatcher(None, a, b).ratio())
    from rapidfuzz.distance import Indel

    return float(Indel.normalized_similarity(a, b))


def _similarities(
    a: Sequence[str], b: Sequence[str], similarity: str = "indel"
) -> NDArray[np.float64]:
    import numpy as np
    from rapidfuzz.distance import Indel
    from rapidfuzz.process import cdist

    if not a or not b:
        return np.zeros((len(a), len(b)))
    if similarity == "difflib":
        return np.array([[text_similarity(x, y, similarity) for y in b] for x in a])
    return np.asarray(cdist(a, b, scorer=Indel.normalized_similarity, dtype=np.float64))


def merge_blocks(first: Block, second: Block) -> Block:
    """Design2Code's `merge_blocks_wo_check`: texts joined, box union, colours averaged."""
    x1, y1, w1, h1 = first.bbox
    x2, y2, w2, h2 = second.bbox
    left, top = min(x1, x2), min(y1, y2)
    right, bottom = max(x1 + w1, x2 + w2), max(y1 + h1, y2 + h2)
    r, g, b = ((c1 + c2) / 2 for c1, c2 in zip(first.color, second.color, strict=True))
    return Block(f"{first.text} {second.text}", (left, top, right - left, bottom - top), (r, g, b))


def adjust_cost_for_context(
    cost: NDArray[np.float64], bonus: float, window: int
) -> NDArray[np.float64]:
    """Design2Code's context bonus: see the module docstring."""
    import numpy as np

    adjusted = np.copy(cost)
    if window <= 0 or bonus == 0:
        return adjusted
    for i, j in zip(*np.nonzero(cost < -0.5), strict=True):
        nearby = cost[max(0, i - window) : i + window + 1, max(0, j - window) : j + window + 1]
        values = np.sort(nearby.ravel())[::-1]
        values = np.delete(values, np.nonzero(values == cost[i, j])[0][0])
        adjusted[i, j] += bonus * float(np.sum(values[-window * 2 :]))
    return adjusted


def _matching(
    sims: NDArray[np.float64], bonus: float = 0.0, window: int = WINDOW_SIZE
) -> tuple[list[tuple[int, int]], list[float]]:
    """The optimal matching of a similarity matrix and its pairs' (adjusted) costs."""
    from scipy.optimize import linear_sum_assignment

    cost = adjust_cost_for_context(-sims, bonus, window)
    rows, cols = linear_sum_assignment(cost)
    pairs = [(int(i), int(j)) for i, j in zip(rows, cols, strict=True)]
    return pairs, [float(cost[i, j]) for i, j in pairs]


def difference_of_means(current: Sequence[float], updated: Sequence[float]) -> float:
    """Design2Code's gain of `updated` over `current` (both lists of matched costs)."""
    count1, count2 = Counter(current), Counter(updated)
    for value in set(current) & set(updated):
        common = min(count1[value], count2[value])
        count1[value] -= common
        count2[value] -= common
    unique1, unique2 = list(count1.elements()), list(count2.elements())
    mean1 = sum(unique1) / len(unique1) if unique1 else 0.0
    mean2 = sum(unique2) / len(unique2) if unique2 else 0.0
    if mean1 - mean2 > 0:
        return mean1 - mean2 if min(unique1) > min(unique2) else 0.0
    return mean1 - mean2


def _merge_by_list(blocks: list[Block], merges: list[tuple[int, int, float]]) -> list[Block]:
    """Design2Code's `merge_blocks_by_list`: best first, skipping merges that overlap one done."""
    blocks = list(blocks)
    popped: list[int] = []
    pending = list(merges)
    while pending:
        i, j, _ = pending.pop(0)
        blocks[i] = merge_blocks(blocks[i], blocks[j])
        popped.append(j)
        pending = [p for p in pending if not ({p[0], p[1]} & {i, j})]
    for index in sorted(popped, reverse=True):
        blocks.pop(index)
    return blocks


def _improving_merges(
    blocks: list[Block],
    others: list[Block],
    sims: NDArray[np.float64],
    transpose: bool,
    similarity: str = "indel",
) -> list[tuple[int, int, float]]:
    """Neighbour merges of `blocks` that improve the matching against `others`."""
    import numpy as np

    def oriented(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        return matrix.T if transpose else matrix

    _, current = _matching(oriented(sims))
    if all(c == -1.0 for c in current):
        return []
    other_texts = [b.text for b in others]
    merges = []
    for i in range(len(blocks) - 1):
        merged = merge_blocks(blocks[i], blocks[i + 1])
        candidate = np.delete(sims, i + 1, axis=0)
        candidate[i] = _similarities([merged.text], other_texts, similarity)[0]
        _, updated = _matching(oriented(candidate))
        gain = difference_of_means(current, updated)
        if gain > MERGE_GAIN:
            merges.append((i, i + 1, gain))
    merges.sort(key=lambda m: m[2], reverse=True)
    return merges


def find_possible_merge(
    pred: list[Block], target: list[Block], similarity: str = "indel"
) -> tuple[list[Block], list[Block], list[tuple[int, int]]]:
    """Both pages' blocks after Design2Code's merge search, and the final matching."""
    while True:
        changed = False
        if len(pred) >= 2:
            sims = _similarities([b.text for b in pred], [b.text for b in target], similarity)
            merges = _improving_merges(pred, target, sims, False, similarity)
            if merges:
                pred = _merge_by_list(pred, merges)
                changed = True
        if len(target) >= 2:
            sims = _similarities([b.text for b in target], [b.text for b in pred], similarity)
            merges = _improving_merges(target, pred, sims, True, similarity)
            if merges:
                target = _merge_by_list(target, merges)
                changed = True
        if not changed:
            break
    sims = _similarities([b.text for b in pred], [b.text for b in target], similarity)
    matching, _ = _matching(sims, CONSECUTIVE_BONUS, WINDOW_SIZE)
    return pred, target, matching
