"""Reading boxes out of a model's text, and the IoU and matching that score them.

A box is `[x1, y1, x2, y2]` (top-left, bottom-right). Models write boxes as JSON (a box,
a list of boxes, objects with `bbox_2d` / `bbox` / `box` / `Position` and optional
`label` and `confidence` / `Confidence` / `score`, Python-style single quotes too) or in
running text; whatever reads, in order, is the prediction. Non-finite numbers, boxes of
the wrong length and more than `MAX_BOXES` boxes are not read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Box", "greedy_match", "iou", "read_boxes", "vlm_r1_iou"]

MAX_BOXES = 200
MAX_TEXT = 200_000
_NUM = r"[-+]?(?:\d{1,9}(?:\.\d{0,9})?|\.\d{1,9})"
_TEXT_BOX = re.compile(rf"[\[(]\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*[\])]")
_JSON_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_BOX_KEYS = ("bbox_2d", "bbox", "box", "Position", "position")
_LABEL_KEYS = ("label", "Label", "category", "name")
_CONFIDENCE_KEYS = ("confidence", "Confidence", "score")


@dataclass(frozen=True)
class Box:
    coords: tuple[float, float, float, float]
    label: str | None = None
    confidence: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"box": [round(c, 4) for c in self.coords]}
        if self.label is not None:
            out["label"] = self.label[:100]
        if self.confidence is not None:
            out["confidence"] = self.confidence
        return out


def read_boxes(text: str) -> list[Box]:
    """Every box the text gives, in order: its JSON if it has any, else its `[a, b, c, d]`s."""
    text = text[:MAX_TEXT]
    for candidate in _json_candidates(text):
        boxes = _from_json(candidate)
        if boxes:
            return boxes[:MAX_BOXES]
    boxes = []
    for match in _TEXT_BOX.finditer(text):
        coords = tuple(float(v) for v in match.groups())
        boxes.append(Box(coords))  # type: ignore[arg-type]
        if len(boxes) == MAX_BOXES:
            break
    return boxes


def _json_candidates(text: str) -> list[str]:
    found = [m.group(1) for m in _JSON_FENCE.finditer(text)]
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        found.append(stripped)
    return found


def _from_json(text: str) -> list[Box]:
    data: Any = None
    for attempt in (text, text.replace("'", '"')):
        try:
            data = json.loads(attempt, parse_constant=_refuse)
            break
        except (ValueError, RecursionError):
            continue
    if data is None:
        return []
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return []
    if len(data) == 4 and all(_is_number(v) for v in data):
        data = [data]
    boxes = []
    for item in data[:MAX_BOXES]:
        box = _item(item)
        if box is None:
            return []
        boxes.append(box)
    return boxes


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not a coordinate")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _item(item: Any) -> Box | None:
    label = confidence = None
    if isinstance(item, dict):
        coords = next((item[k] for k in _BOX_KEYS if k in item), None)
        label = next((str(item[k]) for k in _LABEL_KEYS if k in item), None)
        raw = next((item[k] for k in _CONFIDENCE_KEYS if k in item), None)
        if raw is not None:
            if not _is_number(raw):
                return None
            confidence = float(raw)
    else:
        coords = item
    if not (isinstance(coords, list) and len(coords) == 4 and all(map(_is_number, coords))):
        return None
    return Box(tuple(float(c) for c in coords), label, confidence)  # type: ignore[arg-type]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two boxes; a degenerate box (x2 <= x1) overlaps nothing."""
    if a[2] <= a[0] or a[3] <= a[1] or b[2] <= b[0] or b[3] <= b[1]:
        return 0.0
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def vlm_r1_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """VLM-R1's `iou` (inclusive pixel ends: intersection `+1`, areas without), or 0 where
    its formula divides by zero."""
    # Unpacked once, with two-way comparisons instead of max()/min(): this is the whole
    # of the vlm_r1 preset's arithmetic, run once per item (bench/cheap_verifiers.py).
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    inter_x1 = ax1 if ax1 > bx1 else bx1
    inter_y1 = ay1 if ay1 > by1 else by1
    inter_x2 = (ax2 if ax2 < bx2 else bx2) - 1
    inter_y2 = (ay2 if ay2 < by2 else by2) - 1
    inter = 0.0
    if inter_x1 < inter_x2 and inter_y1 < inter_y2:
        inter = (inter_x2 - inter_x1 + 1) * (inter_y2 - inter_y1 + 1)
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union else 0.0


def greedy_match(
    predicted: list[Box], gold: list[Box], threshold: float, labels: bool
) -> list[tuple[int, int, float]]:
    """Pairs (predicted, gold, IoU), best IoU first, each box used once, IoU >= threshold;
    with `labels`, only boxes whose labels agree (case-insensitive) pair."""
    pairs = []
    for i, p in enumerate(predicted):
        for j, g in enumerate(gold):
            if labels and (p.label or "").strip().lower() != (g.label or "").strip().lower():
                continue
            overlap = iou(p.coords, g.coords)
            if overlap >= threshold and overlap > 0:
                pairs.append((overlap, i, j))
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    used_p: set[int] = set()
    used_g: set[int] = set()
    matches = []
    for overlap, i, j in pairs:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            matches.append((i, j, overlap))
    return matches
