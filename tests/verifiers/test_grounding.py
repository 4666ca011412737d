"""The `grounding` verifier: hand-computed IoU tables, VLM-R1's and Visual-RFT's code as oracles."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rewardgate.verifiers.compose import ComposeVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.grounding import GroundingVerifier
from rewardgate.verifiers.models import RewardRequest, RewardResult
from tests.verifiers.grounding_reference import visual_rft, vlm_r1

GROUND = GroundingVerifier()
BOX = [0, 0, 10, 10]
TWO = {"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": ["cat", "dog"]}
IOU = {"rec_reward": "iou"}
DET = {"task": "detection"}


def score(response: str, reference: Any, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="grounding", response=response, reference=reference, options=options
    )
    return GROUND.verify(request)


HAND = [
    pytest.param("<answer>[0, 0, 10, 10]</answer>", BOX, {}, 1.0, id="rec-exact"),
    pytest.param("<answer>[5, 0, 15, 10]</answer>", BOX, IOU, 1 / 3, id="rec-iou-third"),
    pytest.param("<answer>[5, 0, 15, 10]</answer>", BOX, {}, 0.0, id="rec-below-threshold"),
    pytest.param("<answer>[0, 0, 5, 10]</answer>", BOX, {}, 1.0, id="rec-at-threshold"),
    pytest.param("<answer>[0,0,5,10]</answer>", BOX, {"iou_threshold": 0.6}, 0.0, id="rec-0.6"),
    pytest.param("The box is (0, 0, 10, 10).", BOX, {}, 1.0, id="rec-text-parens"),
    pytest.param(
        '<answer>{"bbox_2d": [0, 0, 10, 10], "label": "cat"}</answer>',
        BOX,
        {},
        1.0,
        id="rec-json-object",
    ),
    pytest.param('```json\n[{"bbox_2d": [0, 0, 5, 10]}]\n```', BOX, IOU, 0.5, id="rec-json-fence"),
    pytest.param(
        "<answer>[0, 0, 10, 10] [50, 50, 60, 60]</answer>", BOX, {}, 1.0, id="rec-first-box"
    ),
    pytest.param(
        "<answer>[0.0, 0.0, 0.5, 0.5]</answer>",
        {"boxes": [[0, 0, 100, 100]]},
        {
            "coordinates": "normalized",
            "reference_coordinates": "pixel",
            "image_size": [200, 200],
            **IOU,
        },
        1.0,
        id="rec-normalized-to-pixel",
    ),
    pytest.param(
        "<answer>[0, 0, 100, 100]</answer>",
        {"boxes": [[0, 0, 0.5, 0.5]]},
        {
            "coordinates": "pixel",
            "reference_coordinates": "normalized",
            "image_size": [200, 200],
            **IOU,
        },
        1.0,
        id="rec-pixel-to-normalized",
    ),
    pytest.param(
        "<answer>[0.1, 0.1, 0.6, 0.6]</answer>",
        [0.1, 0.1, 0.6, 0.6],
        {"coordinates": "normalized"},
        1.0,
        id="rec-both-normalized",
    ),
    pytest.param("no box here", BOX, {}, 0.0, id="rec-no-box"),
    pytest.param("<answer>[10, 10, 0, 0]</answer>", BOX, IOU, 0.0, id="rec-inverted"),
    pytest.param("<answer>[0, 0, 0, 10]</answer>", BOX, IOU, 0.0, id="rec-zero-width"),
    pytest.param("<answer>[0, 0, 10]</answer>", BOX, {}, 0.0, id="rec-three-numbers"),
    pytest.param("<answer>[NaN, 0, 10, 10]</answer>", BOX, {}, 0.0, id="rec-nan"),
    pytest.param("<answer>[1e999, 0, 10, 10]</answer>", BOX, {}, 0.0, id="rec-huge"),
    pytest.param("<answer>[" * 10_000 + "</answer>", BOX, {}, 0.0, id="rec-deep-brackets"),
    pytest.param("<answer>[-5, -5, 10, 10]</answer>", BOX, IOU, 100 / 225, id="rec-negative"),
    pytest.param("<answer>[0,0,10,10],[20,20,30,30]</answer>", TWO, DET, 1.0, id="det-both"),
    pytest.param("<answer>[20,20,30,30]</answer>", TWO, DET, 0.5, id="det-one-missed"),
    pytest.param(
        "<answer>[0,0,10,10] [20,20,30,30] [50,50,60,60]</answer>",
        TWO,
        DET,
        2 / 3,
        id="det-one-spurious",
    ),
    pytest.param("<answer>[0,0,10,10] [0,0,10,10]</answer>", TWO, DET, 0.5, id="det-duplicate"),
    pytest.param("<answer>[0,0,5,10] [20,20,30,30]</answer>", TWO, DET, 0.75, id="det-partial"),
    pytest.param("<answer>[0,0,4,10]</answer>", TWO, DET, 0.0, id="det-below-threshold"),
    pytest.param(
        '[{"bbox_2d": [0,0,10,10], "label": "dog"}, {"bbox_2d": [20,20,30,30], "label": "dog"}]',
        TWO,
        {**DET, "match_labels": True},
        0.5,
        id="det-labels",
    ),
    pytest.param("nothing", {"boxes": []}, DET, 1.0, id="det-none-none"),
    pytest.param("<answer>[0,0,1,1]</answer>", {"boxes": []}, DET, 0.0, id="det-none-some"),
    pytest.param(
        "<answer>[0,0,10,10] [20,20,30,30]</answer>", TWO, {"task": "count"}, 1.0, id="count-boxes"
    ),
    pytest.param(
        "<answer>There are 3 cats.</answer>",
        {"count": 3},
        {"task": "count"},
        1.0,
        id="count-number",
    ),
    pytest.param(
        "<answer>2 or 3</answer>", {"count": 2}, {"task": "count"}, 0.0, id="count-last-number"
    ),
    pytest.param("<answer>3.5</answer>", {"count": 3}, {"task": "count"}, 0.0, id="count-decimal"),
    pytest.param("<answer>many</answer>", {"count": 3}, {"task": "count"}, 0.0, id="count-none"),
    pytest.param(
        "<answer> Golden Retriever. </answer>",
        {"label": "golden retriever"},
        {"task": "classify"},
        1.0,
        id="classify",
    ),
    pytest.param(
        "<answer>retriever</answer>",
        {"label": "golden retriever"},
        {"task": "classify"},
        0.0,
        id="classify-wrong",
    ),
]


@pytest.mark.parametrize(("response", "reference", "options", "expected"), HAND)
def test_hand_computed(
    response: str, reference: Any, options: dict[str, Any], expected: float
) -> None:
    result = score(response, reference, **options)
    assert result.status == "ok"
    assert result.reward == pytest.approx(expected)


def test_details_show_boxes_matching_and_iou() -> None:
    details = score("<answer>[0,0,5,10] [20,20,30,30] [90,90,95,95]</answer>", TWO, **DET).details
    assert [p["box"] for p in details["predicted"]] == [
        [0, 0, 5, 10],
        [20, 20, 30, 30],
        [90, 90, 95, 95],
    ]
    assert details["matches"] == [
        {"predicted": 1, "gold": 1, "iou": 1.0},
        {"predicted": 0, "gold": 0, "iou": 0.5},
    ]
    assert (details["missed"], details["spurious"]) == (0, 1)


@pytest.mark.parametrize(
    ("reference", "options", "field"),
    [
        pytest.param(None, {}, "reference.boxes", id="rec-without-box"),
        pytest.param({"boxes": [[0, 0, 1]]}, {}, "reference.boxes", id="three-coords"),
        pytest.param({"boxes": [["a", 0, 1, 1]]}, {}, "reference.boxes", id="not-numbers"),
        pytest.param({"boxes": [[0, 0, float("inf"), 1]]}, {}, "finite", id="infinite"),
        pytest.param({"boxes": [BOX], "labels": ["a", "b"]}, {}, "labels", id="labels-count"),
        pytest.param({"boxes": [BOX]}, {"task": "classify"}, "reference.label", id="no-label"),
        pytest.param({}, {"task": "count"}, "reference.count", id="no-count"),
        pytest.param({"count": -1}, {"task": "count"}, "reference.count", id="negative-count"),
        pytest.param([BOX], {"iou_threshold": 2}, "options.iou_threshold", id="threshold"),
        pytest.param(
            [BOX],
            {"coordinates": "normalized", "reference_coordinates": "pixel"},
            "image_size",
            id="convert-without-size",
        ),
        pytest.param([BOX], {"preset": "visual_rft"}, "preset", id="preset-task"),
        pytest.param([BOX], {"task": "detection", "match_labels": True}, "labels", id="no-labels"),
        pytest.param([BOX], {"image_size": [0, 10]}, "image_size", id="zero-size"),
    ],
)
def test_malformed_requests_are_invalid(
    reference: Any, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest, match=field):
        GROUND.prepare(reference, options)


# --- VLM-R1's and Visual-RFT's code as oracles -------------------------------------------

REC = [
    ("<answer>[10, 20, 110, 220]</answer>", [10, 20, 110, 220]),
    ("<answer>[10, 20, 110, 220]</answer>", [15, 25, 100, 200]),
    ("<answer>[0, 0, 50, 50]</answer>", [25, 25, 75, 75]),
    ("<answer>[0, 0, 5, 5]</answer>", [100, 100, 200, 200]),
    ("<answer>[3,4,9,9]</answer>", [3, 4, 9, 9]),
    ("<answer>[1, 1, 2, 2]</answer>", [0, 0, 3, 3]),
    ('<think>x</think><answer>{"bbox_2d": [12, 30, 90, 140]}</answer>', [10, 28, 95, 150]),
]


@pytest.mark.parametrize(("response", "gold"), REC)
def test_vlm_r1_matches_its_iou(response: str, gold: list[int]) -> None:
    [box] = [[int(v) for v in response.split("[")[1].split("]")[0].split(",")]]
    expected = vlm_r1.iou(box, gold)
    ours = score(response, [gold], preset="vlm_r1")
    assert ours.reward == pytest.approx(expected)


def test_vlm_r1_reads_its_first_tag_and_integer_boxes_only() -> None:
    assert score("<answer>[0.5, 0, 10, 10]</answer>", [BOX], preset="vlm_r1").reward == 0.0
    first = "<answer>[0, 0, 10, 10]</answer><answer>[50, 50, 60, 60]</answer>"
    assert score(first, [BOX], preset="vlm_r1").reward == 1.0


GOLD_DET = [[10, 10, 50, 50], [60, 60, 100, 100], [0, 80, 30, 120]]
PREDICTIONS = [
    [([10, 10, 50, 50], 0.9), ([60, 60, 100, 100], 0.8), ([0, 80, 30, 120], 0.7)],
    [([12, 12, 48, 52], 0.9), ([65, 58, 100, 104], 0.6)],
    [([10, 10, 50, 50], 0.9), ([200, 200, 210, 210], 0.3)],
    [([200, 200, 210, 210], 0.95)],
    [([10, 10, 50, 50], 0.5), ([10, 10, 50, 50], 0.9), ([11, 11, 50, 50], 0.4)],
    [([10, 10, 30, 30], 0.9), ([10, 10, 50, 50], 0.2), ([60, 60, 100, 100], 1.0)],
    [
        ([0, 0, 200, 200], 0.99),
        ([61, 61, 99, 99], 0.1),
        ([1, 81, 30, 119], 0.5),
        ([12, 10, 50, 48], 0.75),
    ],
]


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_visual_rft_matches_its_rewards(prediction: list[tuple[list[int], float]]) -> None:
    answer = str([{"Position": box, "Confidence": c} for box, c in prediction])
    gold_text = "<answer>" + str([{"Position": b, "Confidence": 1} for b in GOLD_DET]) + "</answer>"
    completion = [[{"content": f"<think>boxes</think><answer>{answer}</answer>"}]]
    their_iou = _visual_rft_iou(completion[0][0]["content"], gold_text)
    their_conf = _visual_rft_confidence(completion[0][0]["content"], gold_text)
    ours = score(completion[0][0]["content"], GOLD_DET, task="detection", preset="visual_rft")
    assert ours.details["iou_reward"] == pytest.approx(their_iou)
    assert ours.details["confidence_reward"] == pytest.approx(their_conf)
    assert ours.reward == pytest.approx(their_iou + their_conf)


def _their_boxes(content: str, sol: str) -> tuple[list[Any], list[Any]]:
    student = "<answer>" + content.split("<answer>")[1].split("</answer>")[0].strip() + "</answer>"
    student = student.replace("[[", "[").replace("]]", "]").replace("\n", "")
    return visual_rft.extract_bbox(sol), visual_rft.remove_duplicates(
        visual_rft.extract_bbox(student)
    )


def _visual_rft_iou(content: str, sol: str) -> float:
    gold, student = _their_boxes(content, sol)
    results = visual_rft.sort_and_calculate_iou(gold, student)
    return min(1.0, visual_rft.compute_reward_iou_v2(results, len(gold)))


def _visual_rft_confidence(content: str, sol: str) -> float:
    gold, student = _their_boxes(content, sol)
    results = visual_rft.sort_and_calculate_iou(gold, student)
    return min(1.0, max(0.0, visual_rft.compute_reward_confidence(results)))


def test_visual_rft_without_confidences_is_zero() -> None:
    result = score(
        "<answer>[[10, 10, 50, 50]]</answer>", GOLD_DET, task="detection", preset="visual_rft"
    )
    assert (result.reward, result.details["reason"]) == (0.0, "no boxes with confidences")


def test_reads_at_most_a_bounded_number_of_boxes() -> None:
    many = json.dumps([[0, 0, 10, 10]] * 5000)
    result = score(many, TWO, task="count")
    assert result.details["count"] == 200


def test_usable_in_compose() -> None:
    request = RewardRequest(
        verifier="compose",
        response="<think>the cat</think>\n<answer>[0, 0, 10, 10]</answer>",
        reference={"boxes": [BOX]},
        options={
            "children": [
                {"name": "fmt", "verifier": "format", "weight": 0.5},
                {"name": "iou", "verifier": "grounding", "options": {"task": "rec"}},
            ]
        },
    )
    result = ComposeVerifier().verify(request)
    assert result.status == "ok"
    assert result.reward == pytest.approx(1.5)


def test_through_the_engine(verifier_engine: Any) -> None:
    engine = verifier_engine(GroundingVerifier)
    item = {
        "verifier": "grounding",
        "response": "<answer>[0, 0, 10, 10]</answer>",
        "reference": [BOX],
    }
    results = engine.score([item, {**item, "options": {"task": "classify"}}])
    assert [(r.status, r.reward) for r in results] == [("ok", 1.0), ("invalid", 0.0)]
