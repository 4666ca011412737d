"""The `qa` verifier: hand-computed EM/F1/cover-EM tables, Search-R1's code as the oracle."""

from __future__ import annotations

from typing import Any

import pytest

from rewardgate.verifiers.compose import ComposeVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.qa import QaVerifier, normalize_answer
from tests.verifiers.qa_reference import qa_em, qa_em_format

QA = QaVerifier()


def score(response: str, reference: Any, **options: Any) -> RewardResult:
    return QA.verify(
        RewardRequest(verifier="qa", response=response, reference=reference, options=options)
    )


HAND = [
    pytest.param("<answer>Paris</answer>", "Paris", {}, 1.0, id="em-exact"),
    pytest.param("<answer>  the PARIS. </answer>", "Paris", {}, 1.0, id="em-normalised"),
    pytest.param("<answer>Paris, France</answer>", "Paris", {}, 0.0, id="em-longer"),
    pytest.param("<answer>London</answer>", ["Paris", "London"], {}, 1.0, id="em-alias"),
    pytest.param("<answer>x</answer> then <answer>Paris</answer>", "Paris", {}, 1.0, id="last-tag"),
    pytest.param(
        "<answer>Paris</answer> <answer>x</answer>", "Paris", {}, 0.0, id="last-tag-wrong"
    ),
    pytest.param("so \\boxed{Paris}", "Paris", {}, 1.0, id="box"),
    pytest.param("<answer>Paris</answer> \\boxed{Rome}", "Paris", {}, 1.0, id="tag-before-box"),
    pytest.param("Paris", "Paris", {}, 0.0, id="no-answer"),
    pytest.param("Paris", "Paris", {"extract": "none"}, 1.0, id="extract-none"),
    pytest.param("\\boxed{Paris}", "Paris", {"extract": "answer_tag"}, 0.0, id="tag-only"),
    pytest.param("<answer>Paris</answer>", "Paris", {"extract": "boxed"}, 0.0, id="box-only"),
    pytest.param("<answer>Paris</answer", "Paris", {}, 0.0, id="unclosed-tag"),
    pytest.param("<answer></answer>", "Paris", {}, 0.0, id="empty-answer"),
    pytest.param("<answer>the</answer>", "a", {}, 1.0, id="articles-only-both-empty"),
    pytest.param("<answer>Paris France</answer>", "Paris", {"metric": "f1"}, 2 / 3, id="f1-half"),
    pytest.param("<answer>the cat sat</answer>", "cat sat down", {"metric": "f1"}, 0.8, id="f1"),
    pytest.param("<answer>dog</answer>", "cat", {"metric": "f1"}, 0.0, id="f1-none"),
    pytest.param(
        "<answer>Paris France</answer>", ["France", "x"], {"metric": "f1"}, 2 / 3, id="f1-max"
    ),
    pytest.param("<answer>a a a</answer>", "a", {"metric": "f1"}, 0.0, id="f1-empty-after-norm"),
    pytest.param(
        "<answer>it is Paris, France</answer>", "Paris", {"metric": "cover_em"}, 1.0, id="cover"
    ),
    pytest.param(
        "<answer>New York City</answer>", "new york", {"metric": "cover_em"}, 1.0, id="cover-multi"
    ),
    pytest.param("<answer>10 years</answer>", "1", {"metric": "cover_em"}, 0.0, id="cover-words"),
    pytest.param(
        "<answer>York New</answer>", "new york", {"metric": "cover_em"}, 0.0, id="cover-order"
    ),
    pytest.param("<answer>Ünïcödé Straße</answer>", "ünïcödé straße", {}, 1.0, id="unicode"),
    pytest.param("<answer>" + "x" * 100_000 + "</answer>", "x", {}, 0.0, id="huge-answer"),
    pytest.param("<answer><answer>Paris</answer></answer>", "Paris", {}, 0.0, id="nested-tags"),
    pytest.param("\\boxed{\\text{Paris}}", "Paris", {}, 0.0, id="box-with-latex"),
    pytest.param("\x00<answer>Paris\x00</answer>", "Paris", {}, 0.0, id="nul-byte"),
    pytest.param("<answer>1,000</answer>", "1000", {}, 1.0, id="punctuation-in-number"),
]


@pytest.mark.parametrize(("response", "reference", "options", "expected"), HAND)
def test_hand_computed(
    response: str, reference: Any, options: dict[str, Any], expected: float
) -> None:
    result = score(response, reference, **options)
    assert result.status == "ok"
    assert result.reward == pytest.approx(expected)


def test_details_show_the_extracted_answer_and_the_matched_alias() -> None:
    details = score("<answer>The Big Apple!</answer>", ["NYC", "big apple"]).details
    assert details["answer"] == "The Big Apple!"
    assert details["normalized"] == "big apple"
    assert details["matched"] == "big apple"
    assert details["scores"] == [0.0, 1.0]
    assert details["source"] == "answer_tag"


@pytest.mark.parametrize(
    ("reference", "options", "field"),
    [
        pytest.param([], {}, "reference.answers", id="no-aliases"),
        pytest.param({"answers": [1]}, {}, "reference.answers", id="not-strings"),
        pytest.param(None, {}, "reference.answers", id="missing"),
        pytest.param({"answers": ["x"], "extra": 1}, {}, "reference.extra", id="unknown-key"),
        pytest.param("x", {"metric": "bleu"}, "options.metric", id="unknown-metric"),
        pytest.param("x", {"preset": "nope"}, "options.preset", id="unknown-preset"),
    ],
)
def test_malformed_requests_are_invalid(
    reference: Any, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest, match=field):
        QA.prepare(reference, options)


def test_reference_shapes() -> None:
    for reference in ("Paris", ["Paris"], {"answers": "Paris"}, {"target": ["Paris"]}):
        assert QA.prepare(reference, {}).reference.answers == ("Paris",)


# --- Search-R1's own code as the oracle ------------------------------------------------

PROMPT = (
    "<|im_start|>user\nAnswer the question. For example, <answer> Beijing </answer>. "
    "Question: ...<|im_end|>\n<|im_start|>assistant\n"
)
GOLD = ["Paris", "City of Light"]
RESPONSES = [
    "<think>easy</think><answer>Paris</answer>",
    "<think>easy</think><answer>paris!</answer>",
    "<think>hm</think><answer>the city of light</answer>",
    "<think>hm</think><answer>London</answer>",
    "<answer>Paris</answer>",
    "Paris",
    "<think>a</think><search>capital of France</search><information>Paris is the capital"
    "</information><think>b</think><answer>Paris</answer>",
    "<think>a</think><search>q</search><information>Paris is big</information>"
    "<think>b</think><answer>Lyon</answer>",
    "<think>a</think><search>q</search><information>nothing</information>"
    "<think>b</think><answer>Lyon</answer>",
    "<think>a</think><search>q</search><information>Paris</information><think>b</think>",
    "<think>a</think>junk<answer>Paris</answer>",
    "<think>a</think><answer>Paris</answer> trailing",
    "<think>a<answer>Paris</answer>",
    "<answer>Paris is where</answer>",
    "<think>a</think><answer>Parisian</answer>",
    "",
    "<think></think><answer></answer>",
    "<think>a</think><answer>x</answer><answer>Paris</answer>",
]


@pytest.mark.parametrize("response", RESPONSES)
@pytest.mark.parametrize("includes_prompt", [False, True])
def test_search_r1_matches_the_papers_code(response: str, includes_prompt: bool) -> None:
    text = PROMPT + response if includes_prompt else response
    ours = score(text, GOLD, preset="search_r1", response_includes_prompt=includes_prompt)
    assert ours.reward == qa_em.compute_score_em(PROMPT + response, {"target": GOLD})
    sub = score(text, GOLD, preset="search_r1_subem", response_includes_prompt=includes_prompt)
    assert sub.reward == qa_em.compute_score_subem(PROMPT + response, {"target": GOLD})


@pytest.mark.parametrize("response", RESPONSES)
@pytest.mark.parametrize(
    "weights",
    [
        {"structure_format_score": 0.2, "final_format_score": 0.1, "retrieval_score": 0.0},
        {"structure_format_score": 0.2, "final_format_score": 0.1, "retrieval_score": 0.1},
    ],
)
def test_search_r1_format_matches_the_papers_code(response: str, weights: dict[str, float]) -> None:
    expected = qa_em_format.compute_score_em(PROMPT + response, {"target": GOLD}, **weights)
    alone = score(response, GOLD, preset="search_r1_format", **weights)
    whole = score(
        PROMPT + response, GOLD, preset="search_r1_format", response_includes_prompt=True, **weights
    )
    assert alone.reward == pytest.approx(expected)
    assert whole.reward == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", ["The  Eiffel-Tower!", "a an the", "  Ünïcödé  ", "x.y,z", "\tA\nB\r\nC", ""]
)
def test_normalisation_is_squads(text: str) -> None:
    assert normalize_answer(text) == qa_em.normalize_answer(text)


def test_lowest_reward_follows_the_preset_weights() -> None:
    prepared = QA.prepare("x", {"preset": "search_r1", "format_score": -0.5})
    assert QA.lowest_reward_for(prepared.options) == -0.5


def test_usable_in_compose() -> None:
    request = RewardRequest(
        verifier="compose",
        response="<think>a</think><answer>Paris</answer>",
        reference=["Paris"],
        options={
            "children": [
                {"name": "fmt", "verifier": "format", "weight": 0.1},
                {"name": "em", "verifier": "qa", "weight": 0.9, "gate": "fmt"},
            ]
        },
    )
    result = ComposeVerifier().verify(request)
    assert result.status == "ok"
    assert result.reward == pytest.approx(1.0)


def test_through_the_engine(verifier_engine: Any) -> None:
    engine = verifier_engine(QaVerifier)
    results = engine.score(
        [
            {"verifier": "qa", "response": "<answer>paris</answer>", "reference": ["Paris"]},
            {"verifier": "qa", "response": "<answer>x</answer>", "reference": []},
        ]
    )
    assert [(r.status, r.reward) for r in results] == [("ok", 1.0), ("invalid", 0.0)]


@pytest.mark.parametrize(
    "text",
    [
        "<answer>a</answer>",
        "<answer>a</answer><answer>b</answer>",
        "<answer><answer>a</answer></answer>",
        "<answer>a<answer>b</answer>",
        "<answer>a\nb</answer> x <answer>",
        "</answer><answer>x</answer>",
        "<answer></answer>",
        "<answer>no close",
        "",
    ],
)
def test_the_linear_tag_scan_finds_what_the_papers_regex_finds(text: str) -> None:
    import re

    from rewardgate.verifiers.qa.tags import answer_tags, first_answer, last_answer

    found = re.findall(r"<answer>(.*?)</answer>", text, re.S)
    assert answer_tags(text) == found
    assert last_answer(text) == (found[-1] if found else None)
    assert first_answer(text) == (found[0] if found else None)


def test_the_last_tag_read_from_the_end_is_the_scans_on_random_texts() -> None:
    """`last_answer` reads from the end only where that provably equals the scan from
    the start; on texts made of tag fragments (nested, stray, overlapping, unclosed)
    it must agree with the papers' regex every time."""
    import random
    import re

    from rewardgate.verifiers.qa.tags import last_answer

    pieces = ["<answer>", "</answer>", "a", "<", ">", "/", "answer", "<answer", "</", " "]
    rng = random.Random(20261207)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        found = re.findall(r"<answer>(.*?)</answer>", text, re.S)
        assert last_answer(text) == (found[-1] if found else None), text


def test_many_unclosed_tags_are_a_verdict_not_a_hang() -> None:
    # 400 KB of openings: the papers' lazy regex takes minutes on this, the scan does not.
    hostile = "<answer>" * 50_000
    for preset in (None, "search_r1", "search_r1_format"):
        options = {} if preset is None else {"preset": preset}
        result = score(hostile + "<information>" * 50_000, "Paris", **options)
        assert (result.status, result.reward) == ("ok", 0.0)


# --- R1-Searcher's reward server as the oracle ---------------------------------------------

R1S_GOLD = "Barack Obama"
R1S_SOLUTIONS = [
    "I should search.</think>\n<answer>Barack Obama</answer>",
    "Hm.</think>\n<answer>Obama</answer>",
    "Hm.</think>\n<answer>president barack_obama!</answer>",
    "Hm.</think>\n<answer>George Bush</answer>",
    "Hm.</think>\nno answer at all",
    "<think>Hm.</think>\n<answer>Barack Obama</answer>",
    "Hm.</think>\n<answer>Barack Obama</answer><answer>Obama</answer>",
    "As an assistant, hm.</think>\n<answer>Barack Obama</answer>",
    "Hm.</think>\n<answer>it was the forty fourth president of the us, Barack Obama</answer>",
    "Let me search <|begin_of_query|>44th president<|end_of_query|>\n<|begin_of_documents|>\n"
    "(1) 奥巴马 Barack Obama was the 44th president<|end_of_documents|>\n\n"
    "So</think>\n<answer>Barack Obama</answer>",
    "Let me search <|begin_of_query|>44th president<|end_of_query|>\n"
    "So</think>\n<answer>Barack Obama</answer>",
    "答案 Hm.</think>\n<answer>Barack Obama</answer>",
    "Hm.</think>\n<answer><|begin_of_query|>x</answer>",
    "Hm.</think>\n<answer>True</answer>",
    "",
    "Hm.</think>\n<answer>Barack\u2018Obama\u2019</answer>",
]


@pytest.mark.parametrize("solution", R1S_SOLUTIONS)
@pytest.mark.parametrize("gold", [R1S_GOLD, "yes"])
def test_r1_searcher_matches_its_reward_server(solution: str, gold: str) -> None:
    from tests.verifiers.qa_reference import r1_searcher

    ours = score(solution, gold, preset="r1_searcher")
    assert ours.reward == pytest.approx(r1_searcher.score_one(solution, gold))


def test_r1_searcher_lowest_reward_is_its_penalty() -> None:
    assert QA.lowest_reward_for(QA.prepare("x", {"preset": "r1_searcher"}).options) == -2.0
