"""The `preference` verifier: hand-computed verdict tables, RM-R1's reward code as the oracle."""

from __future__ import annotations

from typing import Any

import pytest

from rewardgate.verifiers.compose import ComposeVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.preference import PreferenceVerifier
from tests.verifiers.preference_reference import lm_as_judge

PREF = PreferenceVerifier()
PENALTY = {"unparsable_reward": -1.0}


def score(response: str, reference: Any, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="preference", response=response, reference=reference, options=options
    )
    return PREF.verify(request)


HAND = [
    pytest.param("<answer>[[A]]</answer>", "A", {}, 1.0, id="label-right"),
    pytest.param("<answer>[[B]]</answer>", "A", {}, 0.0, id="label-wrong"),
    pytest.param("Overall [[B]] is better.", "B", {}, 1.0, id="label-no-tag"),
    pytest.param("<answer>[[ b ]]</answer>", {"preferred": "B"}, {}, 1.0, id="lower-spaced"),
    pytest.param("<answer>[[2]]</answer>", 2, {}, 1.0, id="number"),
    pytest.param("<answer>[[1]]</answer>", "model_a", {}, 1.0, id="rm-r1-label"),
    pytest.param("<answer>[[A]]</answer>", "model_b", {}, 0.0, id="rm-r1-label-wrong"),
    pytest.param("first [[B]] then <answer>[[A]]</answer>", "A", {}, 1.0, id="answer-tag-wins"),
    pytest.param("<answer>[[A]] or [[B]]</answer>", "A", PENALTY, -1.0, id="hedged"),
    pytest.param("<answer>[[A]]</answer>[[B]]", "B", {}, 0.0, id="tag-over-tail"),
    pytest.param("I prefer A.", "A", PENALTY, -1.0, id="no-brackets"),
    pytest.param("", "A", PENALTY, -1.0, id="empty"),
    pytest.param("<answer>[[C]]</answer>", "A", PENALTY, -1.0, id="pairwise-c"),
    pytest.param("<answer>[[3]]</answer>", "A", PENALTY, -1.0, id="pairwise-3"),
    pytest.param("<answer>[[0]]</answer>", "A", PENALTY, -1.0, id="zero"),
    pytest.param("<answer>[[AB]]</answer>", "A", PENALTY, -1.0, id="two-letters"),
    pytest.param("<answer>[A]</answer>", "A", PENALTY, -1.0, id="single-brackets"),
    pytest.param("<answer>[[8, 3]]</answer>", "A", {}, 1.0, id="scores-a"),
    pytest.param("<answer>[[3, 8.5]]</answer>", "B", {}, 1.0, id="scores-b"),
    pytest.param("<answer>[[3,8]]</answer>", "A", {}, 0.0, id="scores-wrong"),
    pytest.param("<answer>[[5, 5]]</answer>", "A", PENALTY, 0.0, id="scores-tie-is-wrong"),
    pytest.param("<answer>[[1, 2, 3]]</answer>", "A", PENALTY, -1.0, id="scores-count"),
    pytest.param("<answer>[[-1, -2]]</answer>", "A", {}, 1.0, id="negative-scores"),
    pytest.param(
        "<answer>[[C]]</answer>",
        {"preferred": "C", "n": 4},
        {"format": "best_of_n"},
        1.0,
        id="bon-letter",
    ),
    pytest.param(
        "<answer>[[4]]</answer>",
        {"preferred": 4, "n": 4},
        {"format": "best_of_n"},
        1.0,
        id="bon-number",
    ),
    pytest.param(
        "<answer>[[E]]</answer>",
        {"preferred": 1, "n": 4},
        {"format": "best_of_n", **PENALTY},
        -1.0,
        id="bon-past-n",
    ),
    pytest.param(
        "<answer>[[1, 9, 4]]</answer>",
        {"preferred": 2, "n": 3},
        {"format": "best_of_n"},
        1.0,
        id="bon-scores",
    ),
    pytest.param(
        "<answer>[[1, 9, 4]]</answer>",
        {"preferred": 3},
        {"format": "best_of_n"},
        0.0,
        id="bon-scores-no-n",
    ),
    pytest.param(
        "<answer>[[D]]</answer>", {"preferred": "d"}, {"format": "best_of_n"}, 1.0, id="bon-no-n"
    ),
    pytest.param("[[A]]" * 50_000 + "[[B]]", "B", PENALTY, -1.0, id="huge-hedge"),
    pytest.param(
        "<answer>[[" + "9" * 5000 + ", 1]]</answer>", "A", PENALTY, -1.0, id="huge-number"
    ),
    pytest.param("<answer>[[1e400, 1]]</answer>", "A", PENALTY, -1.0, id="exponent-unread"),
    pytest.param(
        "<answer>[[A]]</answer>",
        "A",
        {"correct_reward": 2.0, "wrong_reward": -0.5},
        2.0,
        id="custom-rewards",
    ),
]


@pytest.mark.parametrize(("response", "reference", "options", "expected"), HAND)
def test_hand_computed(
    response: str, reference: Any, options: dict[str, Any], expected: float
) -> None:
    result = score(response, reference, **options)
    assert result.status == "ok"
    assert result.reward == expected


def test_details_show_the_verdict_and_why() -> None:
    details = score("<answer>[[A]] or [[B]]</answer>", "A").details
    assert details["parsed"] is False
    assert details["reason"] == "ambiguous verdict"
    assert details["labels"] == [1, 2]
    details = score("<answer>[[3, 8.5]]</answer>", "B").details
    assert details["scores"] == [3.0, 8.5]
    assert (details["verdict"], details["preferred"], details["correct"]) == (2, 2, True)


@pytest.mark.parametrize(
    ("reference", "options", "field"),
    [
        pytest.param(None, {}, "reference.preferred", id="missing"),
        pytest.param("Z", {}, "reference.preferred", id="z-pairwise"),
        pytest.param(0, {}, "reference.preferred", id="zero"),
        pytest.param("maybe", {}, "reference.preferred", id="word"),
        pytest.param(True, {}, "preferred", id="boolean"),
        pytest.param({"preferred": 1, "n": 3}, {}, "reference.n", id="pairwise-n"),
        pytest.param({"preferred": 5, "n": 4}, {"format": "best_of_n"}, "preferred", id="past-n"),
        pytest.param("A", {"format": "listwise"}, "options.format", id="unknown-format"),
        pytest.param("A", {"preset": "rm_r1", "format": "best_of_n"}, "preset", id="rm-r1-bon"),
    ],
)
def test_malformed_requests_are_invalid(
    reference: Any, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest, match=field):
        PREF.prepare(reference, options)


# --- RM-R1's own code as the oracle ------------------------------------------------------

JUDGEMENTS = [
    "<rubric>...</rubric><eval>...</eval><answer>[[A]]</answer>",
    "<answer>[[B]]</answer>",
    "<answer>[[A]]</answer><answer>[[B]]</answer>",
    "<answer>[[A]]</answer>" + "x" * 80,
    "<answer>[[A]]</answer>" + "x" * 58,
    "<answer>[[A]]</answer>" + "x" * 59,
    "<answer> [[A]] </answer>",
    "[[A]]",
    "<answer>[[a]]</answer>",
    "",
    "<answer>[[B]]</answer>\n",
    "A is better <answer>[[A]]</answer> really",
]


@pytest.mark.parametrize("judgement", JUDGEMENTS)
@pytest.mark.parametrize("gold", ["model_a", "model_b"])
def test_rm_r1_matches_the_papers_code(judgement: str, gold: str) -> None:
    ours = score(judgement, gold, preset="rm_r1")
    assert ours.reward == lm_as_judge.lm_as_judge_match("x", judgement, gold, {})


def test_rm_r1_lowest_reward_is_its_penalty() -> None:
    prepared = PREF.prepare("A", {"preset": "rm_r1"})
    assert PREF.lowest_reward_for(prepared.options) == -1.0
    assert PREF.lowest_reward_for(PREF.prepare("A", PENALTY).options) == -1.0


def test_usable_in_compose() -> None:
    request = RewardRequest(
        verifier="compose",
        response="<think>A cites sources</think>\n<answer>[[A]]</answer>",
        reference={"preferred": "A"},
        options={
            "children": [
                {"name": "fmt", "verifier": "format", "weight": 0.5},
                {"name": "pref", "verifier": "preference", "weight": 1.0},
            ]
        },
    )
    result = ComposeVerifier().verify(request)
    assert result.status == "ok"
    assert result.reward == pytest.approx(1.5)


def test_through_the_engine(verifier_engine: Any) -> None:
    engine = verifier_engine(PreferenceVerifier)
    item = {"verifier": "preference", "response": "[[B]]", "reference": "A"}
    results = engine.score(
        [item, {**item, "options": {"preset": "rm_r1"}}, {**item, "reference": 0}]
    )
    assert [(r.status, r.reward) for r in results] == [("ok", 0.0), ("ok", -1.0), ("invalid", 0.0)]
