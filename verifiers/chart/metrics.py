"""ChartMimic's low-level scores on two chart records (github.com/ChartMimic/ChartMimic,
chart2code/utils/evaluator/, as `code4evaluation.py` runs them):

* `text_f1` (`text_evaluator.py`, `use_position=False`): each target text matched
  to an equal candidate text at most once; precision = matched / candidate texts,
  recall = matched / target texts, F1 their harmonic mean. ChartMimic deletes the
  ticks first; which tick labels count here is the `tick_labels` option (`judge`).
* `layout_f1` (`layout_evaluator.py`): the same multiset matching on the axes' grid
  positions (rows, columns, row span, column span).
* `type_f1` (`chart_type_evaluator.py`): per chart type, min(candidate count,
  target count) calls match; precision over the candidate's calls, recall over the
  target's.
* `color_f1` (`color_evaluator.py`, `color_utils.py`): colours are grouped by the
  chart type that drew them; within each group candidate and target colours are
  paired to maximise the summed similarity `max(0, 1 - CIEDE2000 / 100)` (`#RRGGBB`
  pairs; colormap names pair at 1 when equal, else 0). ChartMimic searches every
  permutation; the Hungarian algorithm finds the same maximum in polynomial time.
  Precision = total similarity / candidate colours, recall = / target colours. Over
  ten colours, ChartMimic first drops each colour within similarity 0.7 of one kept
  before it; here in sorted order, so the result does not depend on set order.

Two empty sides: ChartMimic scores 0 when either side is empty, also when both are
(identical code drawing no text would score 0); by default here two empty sides agree
(F1 = 1), one empty side scores 0. `empty_agree=False` is ChartMimic's rule (the
`chartmimic` preset). Colours may be `#RRGGBBAA` in ChartMimic's colour log (a script's
own string kept as given): they count as distinct entries and compare by `#RRGGBB`, as
ChartMimic's `hex_to_rgb` reads them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "F1",
    "color_f1",
    "color_similarity",
    "filter_colors",
    "layout_f1",
    "text_f1",
    "type_f1",
]

FILTER_ABOVE = 10  # ChartMimic filters near-duplicate colours when there are more
FILTER_SIMILARITY = 0.7


@dataclass(frozen=True)
class F1:
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, matched: float, predicted: int, target: int, empty_agree: bool = True) -> F1:
        if predicted == 0 and target == 0:
            return cls(1.0, 1.0, 1.0) if empty_agree else cls(0.0, 0.0, 0.0)
        if predicted == 0 or target == 0:
            return cls(0.0, 0.0, 0.0)
        precision, recall = matched / predicted, matched / target
        total = precision + recall
        return cls(precision, recall, 0.0 if total == 0 else 2 * precision * recall / total)

    def as_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def _multiset_f1(
    predicted: Sequence[Hashable], target: Sequence[Hashable], empty_agree: bool = True
) -> F1:
    """Each target item matches an equal predicted item at most once."""
    matched = sum((Counter(predicted) & Counter(target)).values())
    return F1.of(matched, len(predicted), len(target), empty_agree)


def text_f1(predicted: Sequence[str], target: Sequence[str], empty_agree: bool = True) -> F1:
    return _multiset_f1(predicted, target, empty_agree)


def layout_f1(
    predicted: Sequence[tuple[int, ...]],
    target: Sequence[tuple[int, ...]],
    empty_agree: bool = True,
) -> F1:
    return _multiset_f1(predicted, target, empty_agree)


def type_f1(
    predicted: Mapping[str, int], target: Mapping[str, int], empty_agree: bool = True
) -> F1:
    matched = sum(min(n, target[t]) for t, n in predicted.items() if t in target)
    return F1.of(matched, sum(predicted.values()), sum(target.values()), empty_agree)


def _lab(colors: Sequence[str]) -> NDArray[np.float64]:
    """CIELAB (D65, 2 degree observer) of `#RRGGBB` colours (ChartMimic uses colormath)."""
    import numpy as np
    from skimage.color import rgb2lab

    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=float)
    # (a #RRGGBBAA colour reads as its #RRGGBB, as ChartMimic's hex_to_rgb reads it)
    return np.asarray(rgb2lab(rgb.reshape(-1, 1, 3) / 255.0).reshape(-1, 3), dtype=np.float64)


def _is_hex(color: str) -> bool:
    return len(color) in (7, 9) and color.startswith("#")


def similarity_matrix(predicted: Sequence[str], target: Sequence[str]) -> NDArray[np.float64]:
    """`max(0, 1 - dE2000/100)` for two hex colours, 1/0 for equal/unequal colormap names."""
    import numpy as np
    from skimage.color import deltaE_ciede2000

    matrix = np.zeros((len(predicted), len(target)))
    hex_p = [i for i, c in enumerate(predicted) if _is_hex(c)]
    hex_t = [j for j, c in enumerate(target) if _is_hex(c)]
    if hex_p and hex_t:
        lab_p = _lab([predicted[i] for i in hex_p])
        lab_t = _lab([target[j] for j in hex_t])
        delta = deltaE_ciede2000(lab_p[:, None, :], lab_t[None, :, :])
        matrix[np.ix_(hex_p, hex_t)] = np.maximum(0.0, 1.0 - delta / 100.0)
    for i, a in enumerate(predicted):
        if not _is_hex(a):
            for j, b in enumerate(target):
                if not _is_hex(b) and a == b:
                    matrix[i, j] = 1.0
    return matrix


def color_similarity(a: str, b: str) -> float:
    return float(similarity_matrix([a], [b])[0, 0])


def filter_colors(colors: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """ChartMimic's `filter_color`: keep a colour unless one kept is within 0.7 of it."""
    ordered = sorted(colors)
    values = [c for _, c in ordered]
    matrix = similarity_matrix(values, values)
    kept: list[int] = []
    for i in range(len(ordered)):
        if all(matrix[i, k] <= FILTER_SIMILARITY for k in kept):
            kept.append(i)
    return [ordered[i] for i in kept]


def _best_total(predicted: Sequence[str], target: Sequence[str]) -> float:
    """The largest summed similarity of a one-to-one pairing (Hungarian algorithm)."""
    if not predicted or not target:
        return 0.0
    from scipy.optimize import linear_sum_assignment

    matrix = similarity_matrix(predicted, target)
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    return float(matrix[rows, cols].sum())


def _grouped(colors: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for group, color in colors:
        groups.setdefault(group, []).append(color)
    return groups


def color_f1(
    predicted: Sequence[tuple[str, str]],
    target: Sequence[tuple[str, str]],
    empty_agree: bool = True,
) -> F1:
    """`(group, colour)` pairs, each side de-duplicated; the group is the chart type
    (rewardgate's reading) or the logging function (ChartMimic's, `cm_colors`)."""
    pred, gold = sorted(set(predicted)), sorted(set(target))
    if len(pred) > FILTER_ABOVE:
        pred = filter_colors(pred)
    if len(gold) > FILTER_ABOVE:
        gold = filter_colors(gold)
    pred_groups, gold_groups = _grouped(pred), _grouped(gold)
    total = sum(
        _best_total(pred_groups.get(g, []), gold_groups.get(g, []))
        for g in sorted(pred_groups.keys() | gold_groups.keys())
    )
    return F1.of(total, len(pred), len(gold), empty_agree)
