"""The `preference` verifier: hand-computed verdict tables, RM-R1's reward code as the oracle."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.base import FrozenDetails
from rewardgate.verifiers.compose import ComposeVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.preference import PreferenceVerifier
from rewardgate.verifiers.preference.r1_reward import MAX_ANSWER_CHARS, r1_reward_format
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


# --- R1-Reward's own code as the oracle --------------------------------------------------

R1_CASES = json.loads((Path(lm_as_judge.__file__).parent / "r1_reward" / "cases.json").read_text())


@pytest.mark.parametrize("case", R1_CASES, ids=[str(i) for i in range(len(R1_CASES))])
def test_r1_reward_matches_the_papers_code(case: dict[str, Any]) -> None:
    """Values computed by R1-Reward's math_verifier_mllm.py (r1_reward/compute.py)."""
    options = {"preset": "r1_reward", "consistency": case["consistency"]}
    result = score(case["judgement"], case["preferred"], **options)
    total, fmt, accuracy = case["paper"]
    assert result.status == "ok"
    assert (result.reward, result.details["format"], result.details["correct"]) == (
        total,
        fmt == 1.0,
        accuracy == 1.0,
    )


def test_r1_reward_format_is_the_papers_function() -> None:
    """verify_format, loaded from the unchanged file, on the table's judgements and more."""
    source = (Path(lm_as_judge.__file__).parent / "r1_reward" / "math_verifier_mllm.py").read_text()
    namespace: dict[str, Any] = {
        "re": re,
        "format_pattern": r"^<think>.*?</think><answer>.*?</answer>$",
    }
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == "verify_format":
            exec(compile(ast.Module([node], []), "math_verifier_mllm.py", "exec"), namespace)
    texts = [case["judgement"].strip() for case in R1_CASES] + [
        "<think></think><answer></answer>",
        "<think>a</think><answer>1</answer>\n",
        "<think>a</think>\n<answer>1</answer>",
        "<think>" * 20_000 + "</think><answer>1</answer>",
        "<think>a</think><answer>1</answer></answer>",
        "<think>a</think></think><answer>1</answer>",
    ]
    for text in texts:
        assert r1_reward_format(text) == namespace["verify_format"](text), text


@pytest.mark.parametrize(
    ("answer", "gold", "ours", "papers"),
    [
        pytest.param("1 or 2", 2, 0.5, 1.5, id="hedge-or"),
        pytest.param("1, 2", 2, 0.5, 1.5, id="hedge-comma"),
        pytest.param("[[1]]", 1, 1.5, 0.5, id="rm-r1-style-label"),
    ],
)
def test_r1_reward_known_differences(answer: str, gold: int, ours: float, papers: float) -> None:
    """Where we depart from the paper's code on purpose (README, r1_reward.py): a hedge
    earns no accuracy; `papers` is what compute.py's run of its code gave."""
    result = score(f"<think>t</think><answer>{answer}</answer>", gold, preset="r1_reward")
    assert result.reward == ours != papers


def test_r1_reward_hostile_judgements_stay_linear_and_bounded() -> None:
    huge = "<think>" + "<answer>" * 100_000
    assert len(huge) > MAX_ANSWER_CHARS
    result = score(huge, 1, preset="r1_reward")
    assert (result.status, result.reward, result.details["format"]) == ("ok", 0.0, False)
    assert len(result.details["answer"]) <= 300


def test_r1_reward_options_are_checked() -> None:
    with pytest.raises(InvalidRequest, match="consistency"):
        PREF.prepare("A", {"consistency": 1})
    with pytest.raises(InvalidRequest, match="consistency"):
        PREF.prepare("A", {"preset": "r1_reward", "consistency": 2})
    with pytest.raises(InvalidRequest, match="pairwise"):
        PREF.prepare({"preferred": 1, "n": 3}, {"preset": "r1_reward", "format": "best_of_n"})
    assert PREF.lowest_reward_for(PREF.prepare("A", {"preset": "r1_reward"}).options) == 0.0


def test_r1_reward_unclosed_answer_tags_are_not_read() -> None:
    """Under the cap, an unclosed `<answer>` never reaches the `math` verifier's regex."""
    text = "<think>t</think>" + "<answer>" * 400 + "2"
    result = score(text, 2, preset="r1_reward")
    assert (result.reward, result.details["reason"]) == (0.0, "unclosed <answer>")


def test_rm_r1_shares_its_verdicts_read_only_and_every_result_is_its_own() -> None:
    """The rm_r1 preset returns one prebuilt verdict per outcome: editing one in place
    must fail, not change every later item's, and what leaves (pickled to the gateway,
    validated into a result) is a plain dict of its own."""
    import pickle

    verifier = PreferenceVerifier()
    prepared = verifier.prepare("A", {"preset": "rm_r1"})
    right = "<eval>x</eval><answer>[[A]]</answer>"
    first = verifier.judge(right, prepared.reference, prepared.options)
    second = verifier.judge(right, prepared.reference, prepared.options)
    assert first.reward == 1.0 and first.details == {"preferred": 1, "correct": True}
    with pytest.raises(TypeError, match="read-only"):
        first.details["correct"] = False
    with pytest.raises(TypeError, match="read-only"):
        first.details.update(correct=False)
    assert second.details == {"preferred": 1, "correct": True}
    crossed = pickle.loads(pickle.dumps(first.details))
    assert crossed == first.details
    result = verifier.result(first, "i1")
    result.details["correct"] = "edited by a caller"
    again = verifier.result(verifier.judge(right, prepared.reference, prepared.options), "i2")
    assert again.details == {"preferred": 1, "correct": True}
    wrong = verifier.judge("<answer>[[B]]</answer>", prepared.reference, prepared.options)
    assert (wrong.reward, wrong.details) == (-1.0, {"preferred": 1, "correct": False})


def test_the_label_read_without_the_regex_is_the_regexs_on_random_texts() -> None:
    """`read_verdict` reads a lone `[[A]]` without its regex; on texts built from label
    fragments (nested and overlapping brackets, Unicode spaces and digits, several
    labels) the labels it reports must be the regex's every time."""
    import random

    from rewardgate.verifiers.preference import _LABEL, _pick, read_verdict

    pieces = ["[[", "]]", "[", "]", "A", "b", "Z", "7", "\u0663", " ", "\u00a0", "\n", "x"]
    rng = random.Random(7)
    for _ in range(20_000):
        region = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 9)))
        if "[[" not in region:
            continue
        labels = _LABEL.findall(region)
        expected = [_pick(labels[0])] if len(labels) == 1 else sorted({_pick(x) for x in labels})
        _, evidence = read_verdict(f"<answer>{region}</answer>", None)
        assert evidence["labels"] == expected, region


def test_the_shortcuts_give_the_general_readings_verdict_on_random_texts() -> None:
    """`judge` answers the usual judgements by shortcuts (a prebuilt verdict for a bare
    `[[X]]` answer tag, a one-go reading of a lone `[[X]]` in it); on random texts (tags,
    labels, scores, brackets, Unicode) its verdict — reward and details, in the same key
    order — must be the general reading's every time, and both shortcuts must be used."""
    import random

    from rewardgate.verifiers.preference import read_verdict

    pieces = ["<answer>", "</answer>", "[[", "]]", "A", "B", "c", "Z", "2", ",", " ", "\u00a0"]
    pieces += ["[[A]]", "[[ b ]]", "[[C]]", "[[\u00a0B\n]]", "[[a]]", "[[B]]"] * 3
    rng = random.Random(11)
    verifier = PreferenceVerifier()
    prepared = {
        (gold, n): verifier.prepare(gold, {"format": "best_of_n"} if n != 2 else {})
        for gold, n in [(1, 2), (2, 2), (1, None), (3, 4)]
    }
    shared = read_one_go = 0
    for _ in range(30_000):

        def some(k: int) -> str:
            return "".join(rng.choice(pieces) for _ in range(rng.randint(0, k)))

        text = f"{some(3)}<answer>{some(6) if rng.random() < 0.7 else some(1)}</answer>{some(2)}"
        gold, n = rng.choice(list(prepared))
        item = prepared[(gold, n)]
        verdict = verifier.judge(text, item.reference, item.options)
        pick, details = read_verdict(text, n)
        details["verdict"], details["preferred"] = pick, gold
        if pick is None:
            details["parsed"] = False
            expected = 0.0
        else:
            details["parsed"], details["correct"] = True, pick == gold
            expected = 1.0 if pick == gold else 0.0
        assert verdict.reward == expected, text
        assert list(verdict.details.items()) == list(details.items()), text
        assert verdict.steps is None
        shared += isinstance(verdict.details, FrozenDetails)
        read_one_go += pick is not None and not isinstance(verdict.details, FrozenDetails)
    assert shared > 1000 and read_one_go > 1000  # both shortcuts were exercised


def test_a_shared_usual_verdict_is_read_only_to_its_labels() -> None:
    """The prebuilt verdict of `<answer>[[A]]</answer>` is returned for every such item:
    neither its details nor the list inside them may be changed by a caller, and what
    leaves (pickled to the gateway, validated into a result) equals the plain reading."""
    import pickle

    verifier = PreferenceVerifier()
    prepared = verifier.prepare("A", {})
    first = verifier.judge("<answer>[[A]]</answer>", prepared.reference, prepared.options)
    again = verifier.judge("x <answer>[[A]]</answer>", prepared.reference, prepared.options)
    assert first is again and isinstance(first.details, FrozenDetails)
    with pytest.raises(TypeError, match="read-only"):
        first.details["labels"].append(2)
    with pytest.raises(TypeError, match="read-only"):
        first.details["labels"][0] = 2
    with pytest.raises(TypeError, match="read-only"):
        first.details["labels"] += [2]
    assert first.details["labels"] == [1]
    crossed = pickle.loads(pickle.dumps(first.details))
    assert crossed == first.details and crossed["labels"] == [1]
    result = verifier.result(first, "i1")
    assert result.model_dump(mode="json")["details"] == {
        "region": "answer_tag",
        "labels": [1],
        "verdict": 1,
        "preferred": 1,
        "parsed": True,
        "correct": True,
    }
