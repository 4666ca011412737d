"""The `grounding` verifier: boxes, counts and labels of vision-language models.

Visual-RFT, VLM-R1 and Vision-R1 reward a model's boxes by their overlap with gold boxes.
The prediction is read from the response's last `<answer>...</answer>` (else the whole
text); `boxes.py` says which box notations read. Tasks:

- `rec` (referring expression comprehension): the first predicted box against the first
  gold box; 1 when IoU >= `iou_threshold` (`rec_reward: "iou"`: the IoU itself).
- `detection`: boxes matched greedily by IoU (each used once, IoU >= threshold, labels
  agreeing when `match_labels`); reward sum(matched IoU) / max(#gold, #predicted), so
  missed and spurious boxes both cost. No gold and no prediction is 1.
- `count`: the number of predicted boxes, else the last integer of the answer, against
  `count` (or the number of gold boxes).
- `classify`: the answer, lower-cased without surrounding punctuation, against `label`.

`coordinates` says how the response's boxes are written, `reference_coordinates` the
reference's (by default the same); when they differ `image_size` converts them.

Presets reproduce the papers' code (vendored in `tests/verifiers/grounding_reference/`):
`vlm_r1` (task rec): VLM-R1's `iou_reward` — the first `[int, int, int, int]` in the
first answer tag, scored by its `iou` (inclusive pixel ends), the IoU itself as reward;
`visual_rft` (task detection): Visual-RFT's `accuracy_reward_iou` + `accuracy_reward_confidence`
— predictions `{"Position": [...], "Confidence": c}` sorted by confidence, each matched
to its best unmatched gold box when IoU > threshold; IoU reward sum / max(#gold,
#predicted), confidence reward mean(c if matched else 1 - c); the reward is their sum
(the trainer adds them), both in `details`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.grounding.boxes import Box, greedy_match, iou, read_boxes, vlm_r1_iou
from rewardgate.verifiers.qa.tags import answer_tags, first_answer

__all__ = ["GroundingOptions", "GroundingReference", "GroundingVerifier"]

_INT_BOX = re.compile(r"\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]")
_INTEGER = re.compile(r"(?<![\d.])-?\d{1,9}(?![\d.])")
Coordinates = Literal["pixel", "normalized"]


class GroundingReference(BaseModel):
    """`{"boxes": [[x1, y1, x2, y2], ...], "labels"?: [...], "count"?: int, "label"?: str}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    boxes: tuple[tuple[float, float, float, float], ...] = ()
    labels: tuple[str, ...] | None = None
    count: int | None = Field(default=None, ge=0)
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        if (
            isinstance(data, list)
            and len(data) == 4
            and all(isinstance(v, (int, float)) for v in data)
        ):
            return {"boxes": [data]}
        if isinstance(data, list):
            return {"boxes": data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> GroundingReference:
        import math

        if any(not math.isfinite(c) for box in self.boxes for c in box):
            raise ValueError("boxes: coordinates must be finite")
        if self.labels is not None and len(self.labels) != len(self.boxes):
            raise ValueError("labels: one per box")
        return self


class GroundingOptions(VerifierOptions):
    task: Literal["rec", "detection", "count", "classify"] = "rec"
    iou_threshold: float = Field(default=0.5, ge=0, le=1)
    coordinates: Coordinates = Field(default="pixel", description="The response's boxes.")
    reference_coordinates: Coordinates | None = Field(
        default=None, description="The reference's boxes; by default as `coordinates`."
    )
    image_size: tuple[float, float] | None = Field(default=None, description="[width, height].")
    preset: Literal["vlm_r1", "visual_rft"] | None = None
    rec_reward: Literal["threshold", "iou"] = Field(
        default="threshold", description="rec: 1 at IoU >= threshold, or the IoU itself."
    )
    match_labels: bool = Field(default=False, description="detection: labels must agree.")


class GroundingVerifier(Verifier[GroundingReference, GroundingOptions]):
    name = "grounding"
    version = "1"
    description = (
        "Visual grounding and detection (Visual-RFT, VLM-R1): boxes from JSON or text, "
        "IoU, REC threshold reward, matched detection with confidence, counting, labels."
    )
    Reference: ClassVar[type[BaseModel]] = GroundingReference
    Options: ClassVar[type[VerifierOptions]] = GroundingOptions
    conformance = Conformance(
        full=Case("<answer>[0, 0, 10, 10]</answer>", [0, 0, 10, 10]),
        zero=Case("<answer>[20, 20, 30, 30]</answer>", [0, 0, 10, 10]),
        invalid=Case("[1, 2, 3, 4]", {"boxes": [[0, 0, 1]]}),  # a box of three numbers
    )
    source_modules = ("rewardgate.verifiers.qa",)  # its <answer> scan

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[GroundingReference, GroundingOptions]:
        prepared: Prepared[GroundingReference, GroundingOptions] = super().prepare(
            reference, options
        )
        ref, opts = prepared.reference, prepared.options
        if opts.task == "rec" and not ref.boxes:
            raise InvalidRequest("reference.boxes: rec needs a gold box")
        if opts.task == "count" and ref.count is None and not ref.boxes:
            raise InvalidRequest("reference.count: count needs a count or gold boxes")
        if opts.task == "classify" and ref.label is None:
            raise InvalidRequest("reference.label: classify needs a label")
        if opts.match_labels and ref.labels is None:
            raise InvalidRequest("reference.labels: match_labels needs gold labels")
        wanted = {"vlm_r1": "rec", "visual_rft": "detection"}
        if opts.preset is not None and opts.task != wanted[opts.preset]:
            raise InvalidRequest(f"options.preset: {opts.preset} is for task {wanted[opts.preset]}")
        converts = (opts.reference_coordinates or opts.coordinates) != opts.coordinates
        if converts and opts.image_size is None:
            raise InvalidRequest("options.image_size: needed to convert coordinates")
        if opts.image_size is not None and min(opts.image_size) <= 0:
            raise InvalidRequest("options.image_size: must be positive")
        return prepared

    def judge(
        self, response: str, reference: GroundingReference, options: GroundingOptions
    ) -> Verdict:
        if options.preset == "vlm_r1":
            # Inlined (positional verdict, coordinates unpacked): this path is about a
            # microsecond per item and each call cost a tenth of it (bench/cheap_verifiers.py).
            tag = first_answer(response)
            found = _INT_BOX.search(tag) if tag is not None else None
            if found is None:
                return Verdict(0.0, None, {"predicted": None})
            x1, y1, x2, y2 = found.groups()
            coords = [float(x1), float(y1), float(x2), float(y2)]
            overlap = vlm_r1_iou(coords, reference.boxes[0])
            return Verdict(overlap, None, {"predicted": [coords], "iou": overlap})
        answers = answer_tags(response)
        answer = answers[-1] if answers else response
        if options.task == "classify":
            return _classify(answer, reference)
        gold = [
            Box(coords, None if reference.labels is None else reference.labels[i])
            for i, coords in enumerate(reference.boxes)
        ]
        predicted = [_convert(box, options) for box in read_boxes(answer)]
        details: dict[str, Any] = {"predicted": [box.as_dict() for box in predicted[:50]]}
        if options.task == "count":
            return _count(answer, predicted, reference, details)
        if options.preset == "visual_rft":
            return _visual_rft(predicted, gold, options, details)
        if options.task == "rec":
            if not predicted:
                return Verdict(0.0, details={**details, "reason": "no box"})
            overlap = iou(predicted[0].coords, gold[0].coords)
            details["iou"] = overlap
            if options.rec_reward == "iou":
                return Verdict(overlap, None, details)
            return Verdict(float(overlap >= options.iou_threshold), None, details)
        return _detection(predicted, gold, options, details)


def _convert(box: Box, options: GroundingOptions) -> Box:
    target = options.reference_coordinates or options.coordinates
    if target == options.coordinates or options.image_size is None:
        return box
    w, h = options.image_size
    scale = (w, h, w, h) if target == "pixel" else (1 / w, 1 / h, 1 / w, 1 / h)
    x1, y1, x2, y2 = (c * s for c, s in zip(box.coords, scale, strict=True))
    return Box((x1, y1, x2, y2), box.label, box.confidence)


def _detection(
    predicted: list[Box], gold: list[Box], options: GroundingOptions, details: dict[str, Any]
) -> Verdict:
    if not gold:
        return Verdict(float(not predicted), details={**details, "matches": []})
    matches = greedy_match(predicted, gold, options.iou_threshold, options.match_labels)
    details["matches"] = [{"predicted": i, "gold": j, "iou": o} for i, j, o in matches]
    details["missed"] = len(gold) - len(matches)
    details["spurious"] = len(predicted) - len(matches)
    total = sum(o for _, _, o in matches)
    return Verdict(total / max(len(gold), len(predicted)), details=details)


def _visual_rft(
    predicted: list[Box], gold: list[Box], options: GroundingOptions, details: dict[str, Any]
) -> Verdict:
    if not predicted or any(box.confidence is None for box in predicted):
        return Verdict(0.0, details={**details, "reason": "no boxes with confidences"})
    unique: dict[tuple[float, ...], Box] = {}
    for box in predicted:
        unique.setdefault(box.coords, box)
    ranked = sorted(unique.values(), key=lambda b: -(b.confidence or 0.0))
    used: set[int] = set()
    results = []
    for box in ranked:
        best, best_j = 0.0, -1
        for j, g in enumerate(gold):
            if j not in used:
                overlap = iou(box.coords, g.coords)
                if overlap > best:
                    best, best_j = overlap, j
        if best > options.iou_threshold:
            used.add(best_j)
            results.append((best, box.confidence or 0.0))
        else:
            results.append((0.0, box.confidence or 0.0))
    iou_reward = min(1.0, sum(o for o, _ in results) / max(len(gold), len(results)))
    confidence = sum(c if o else 1 - c for o, c in results) / len(results)
    confidence = min(1.0, max(0.0, confidence))
    details["iou_results"] = [[o, c] for o, c in results]
    details["iou_reward"], details["confidence_reward"] = iou_reward, confidence
    return Verdict(iou_reward + confidence, details=details)


def _count(
    answer: str, predicted: list[Box], reference: GroundingReference, details: dict[str, Any]
) -> Verdict:
    gold = reference.count if reference.count is not None else len(reference.boxes)
    if predicted:
        count: int | None = len(predicted)
    else:
        numbers = _INTEGER.findall(answer[-10_000:])
        count = int(numbers[-1]) if numbers else None
    return Verdict(float(count == gold), details={**details, "count": count, "gold_count": gold})


def _classify(answer: str, reference: GroundingReference) -> Verdict:
    mine = _label(answer)
    gold = _label(reference.label or "")
    return Verdict(float(mine == gold), details={"label": mine[:200], "gold_label": gold})


def _label(text: str) -> str:
    return " ".join(text.strip().strip(".,;:!?\"'`").lower().split())
