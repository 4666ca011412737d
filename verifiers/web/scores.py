"""Design2Code's four block-level scores of a page against its target.

From the merged blocks and the matching (`matching.find_possible_merge`), as Design2Code's
`visual_eval_v3_multi` computes them (`metrics/visual_score.py`; paper sec. 3.2):

* **block** (Block-Match): the matched blocks' areas over all blocks' areas, matched or
  not, on both pages: `sum_M (S(r)+S(g)) / (sum_M (S(r)+S(g)) + sum_U S)`; missing and
  hallucinated text both cost, the more the larger they are.
* **text**: mean text similarity of the matched pairs.
* **position**: mean of `1 - max(|dx|, |dy|)` of the matched pairs' box centres, in
  page fractions.
* **color**: mean CIEDE2000 similarity `max(0, 1 - dE00 / 100)` of the matched pairs'
  text colours (scikit-image's `deltaE_ciede2000` on D65 Lab, as colormath computes it).

With no matched pair all four are 0, as in Design2Code. Two pages that both have no
text at all are a case the reference code scores 0 (its "no detected blocks" branch);
here, under the default `dom` reading, they agree on it, so all four are 1; under the
`design2code` reading they score 0 as there, and text similarity is difflib's ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardgate.verifiers.evidence_images import Outline
from rewardgate.verifiers.web.blocks import Block
from rewardgate.verifiers.web.matching import (
    MIN_TEXT_SIMILARITY,
    find_possible_merge,
    text_similarity,
)

__all__ = ["BlockScores", "block_scores", "color_similarities", "color_similarity"]

# Matched pairs listed in `details`, so a large page cannot bloat a result.
MAX_SHOWN_PAIRS = 20


@dataclass
class BlockScores:
    """The four terms and the evidence behind them."""

    block: float
    text: float
    position: float
    color: float
    pred_blocks: int
    target_blocks: int
    matched: int
    pairs: list[dict[str, Any]] = field(default_factory=list)
    # Every (merged) block's box and whether it matched, per page: what evidence images
    # outline. Not part of `details`.
    pred_outlines: list[Outline] = field(default_factory=list)
    target_outlines: list[Outline] = field(default_factory=list)

    def terms(self) -> dict[str, float]:
        return {
            "block": self.block,
            "text": self.text,
            "position": self.position,
            "color": self.color,
        }

    def details(self) -> dict[str, Any]:
        return {
            "pred_blocks": self.pred_blocks,
            "target_blocks": self.target_blocks,
            "matched": self.matched,
            "pairs": self.pairs,
        }


def color_similarity(
    first: tuple[float, float, float], second: tuple[float, float, float]
) -> float:
    """`max(0, 1 - dE00 / 100)` of two RGB colours (0-255)."""
    return color_similarities([first], [second])[0]


def color_similarities(
    first: Sequence[tuple[float, float, float]], second: Sequence[tuple[float, float, float]]
) -> list[float]:
    """`color_similarity` of each pair, in one vectorised pass."""
    import numpy as np
    from skimage.color import deltaE_ciede2000, rgb2lab

    if not first:
        return []
    pairs = np.array([first, second], dtype=np.float64) / 255.0  # (2, n, 3): an "image"
    lab = rgb2lab(pairs)
    delta = deltaE_ciede2000(lab[0], lab[1])
    return [max(0.0, 1.0 - float(d) / 100.0) for d in np.atleast_1d(delta)]


def block_scores(pred: list[Block], target: list[Block], reading: str = "dom") -> BlockScores:
    """Match the two pages' blocks and score the matching (`reading`: see the docstring)."""
    design2code = reading == "design2code"
    if not pred and not target and not design2code:
        return BlockScores(1.0, 1.0, 1.0, 1.0, 0, 0, 0)
    if not pred or not target:
        result = BlockScores(0.0, 0.0, 0.0, 0.0, len(pred), len(target), 0)
        _outline(result, pred, target, set())
        return result
    kind = "difflib" if design2code else "indel"
    merged_pred, merged_target, matching = find_possible_merge(pred, target, kind)
    pairs = []
    for i, j in matching:
        similarity = text_similarity(merged_pred[i].text, merged_target[j].text, kind)
        if similarity >= MIN_TEXT_SIMILARITY:
            pairs.append((merged_pred[i], merged_target[j], similarity))
    result = BlockScores(0.0, 0.0, 0.0, 0.0, len(merged_pred), len(merged_target), len(pairs))
    matched_ids = {id(p) for p, _, _ in pairs} | {id(t) for _, t, _ in pairs}
    _outline(result, merged_pred, merged_target, matched_ids)
    if not pairs:
        return result
    unmatched = sum(b.area for b in (*merged_pred, *merged_target) if id(b) not in matched_ids)
    matched_area = sum(p.area + t.area for p, t, _ in pairs)
    colors = color_similarities([p.color for p, _, _ in pairs], [t.color for _, t, _ in pairs])
    texts, positions = [], []
    for (p, t, similarity), color in zip(pairs, colors, strict=True):
        (px, py), (tx, ty) = p.centre, t.centre
        position = 1.0 - max(abs(px - tx), abs(py - ty))
        texts.append(similarity)
        positions.append(position)
        if len(result.pairs) < MAX_SHOWN_PAIRS:
            result.pairs.append(
                {
                    "pred": p.text[:80],
                    "target": t.text[:80],
                    "text": round(similarity, 4),
                    "position": round(position, 4),
                    "color": round(color, 4),
                }
            )
    result.block = matched_area / (matched_area + unmatched)
    result.text = sum(texts) / len(texts)
    result.position = sum(positions) / len(positions)
    result.color = sum(colors) / len(colors)
    return result


def _outline(
    result: BlockScores, pred: list[Block], target: list[Block], matched: set[int]
) -> None:
    result.pred_outlines = [(b.bbox, id(b) in matched) for b in pred]
    result.target_outlines = [(b.bbox, id(b) in matched) for b in target]
