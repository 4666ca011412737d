"""Acceptance tests of the `math` verifier, run through real math-verify and sympy.

Three tables: math-verify's own equivalence cases (tests/data/math, Apache-2.0), our
extensions, and reward hacks that must score 0.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.math import MathVerifier
from rewardgate.verifiers.math.parse import read_gold
from rewardgate.verifiers.models import RewardRequest, RewardResult

CASES_FILE = Path(__file__).resolve().parent.parent / "data" / "math" / "math_verify_cases.jsonl"
CASES: list[dict[str, Any]] = [json.loads(line) for line in CASES_FILE.read_text().splitlines()]
# math-verify's test ran these two with LaTeX-only extraction, which does not read an
# inline `$...$` spanning lines; default extraction (ours and math-verify's) reads the 9.
LATEX_ONLY = {("$9$", "Answer $ \n 9 \n $"), ("$9$", "Answer \\( \n 9 \n \\)")}

VERIFIER = MathVerifier()


def score(response: str, reference: Any, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="math", response=response, reference=reference, options=options
    )
    return VERIFIER.verify(request)


def case_options(case: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        k: case[k] for k in ("strict", "allow_set_relation_comp") if k in case
    }
    if "precision" in case:
        options["float_rounding"] = case["precision"]
    return options


def case_id(index: int, case: dict[str, Any]) -> str:
    return f"{index:03d}-{case['source'].rsplit('::', 1)[-1]}-expect{case['expected']}"


# --- 1. math-verify's equivalence cases -------------------------------------------------


# The documented number rules (README, "Lists and numbers") differ from math-verify on
# these: a comma between numbers makes a list unless it groups digits in threes, so the
# gold `1,22` is the list 1, 22, and `0,111` (0.111 or the list 0, 111) is ambiguous,
# an invalid request. A decimal comma in a response against a one-number gold is read.
NUMBER_RULES = {("1,22", "1.22"), ("0,111", "0.111")}


def _suite_param(index: int, case: dict[str, Any]) -> Any:
    """One case of math-verify's suite: 253 of 255 agree (math-verify's own count with
    its default extraction), the two others are NUMBER_RULES and fail strictly."""
    marks = []
    if (case["gold"], case["pred"]) in NUMBER_RULES:
        marks.append(pytest.mark.xfail(strict=True, reason="the documented number rules"))
    return pytest.param(case, id=case_id(index, case), marks=marks)


@pytest.mark.parametrize("case", [_suite_param(index, case) for index, case in enumerate(CASES)])
def test_math_verify_case(case: dict[str, Any]) -> None:
    options = case_options(case)
    if (case["gold"], case["pred"]) in LATEX_ONLY:
        options["extraction"] = ["latex"]  # as math-verify's own test ran them
    result = score(case["pred"], case["gold"], **options)
    assert result.ok
    assert result.reward == case["expected"], result.details


# --- 2. extensions ----------------------------------------------------------------------

EXTENSIONS = [
    # symbolic evaluation
    ("$e^{i\\pi}$", "-1", {}, 1.0, "euler-identity"),
    ("\\boxed{e^{i\\pi}}", "-1", {"imaginary_unit": False}, 0.0, "euler-identity-i-as-symbol"),
    ("\\boxed{i^2}", "-1", {}, 1.0, "i-squared"),
    ("$\\binom{5}{2}$", "10", {}, 1.0, "binomial"),
    ("$5!$", "120", {}, 1.0, "factorial"),
    ("$\\log_2 8$", "3", {}, 1.0, "log-base-2"),
    ("$\\sqrt{16}$", "4", {}, 1.0, "sqrt"),
    ("$\\frac{1}{2}$", "0.5", {}, 1.0, "frac-vs-decimal"),
    ("$0.5$", "1/2", {}, 1.0, "decimal-vs-slash"),
    ("\\boxed{1/2}", "$\\frac{1}{2}$", {}, 1.0, "slash-vs-frac"),
    ("\\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt{2}}", {}, 1.0, "bare-latex-gold"),
    # inequalities and intervals, both directions
    ("$(2,\\infty)$", "x > 2", {}, 1.0, "interval-vs-gold-inequality"),
    ("$x > 2$", "(2, \\infty)", {}, 1.0, "inequality-vs-gold-interval"),
    ("\\boxed{x \\le 3}", "(-\\infty, 3]", {}, 1.0, "le-vs-gold-closed-interval"),
    ("\\boxed{(-\\infty, 3]}", "x \\le 3", {}, 1.0, "closed-interval-vs-gold-le"),
    ("\\boxed{2 < x < 5}", "(2, 5)", {}, 1.0, "chain-vs-gold-interval"),
    ("\\boxed{(2, 5)}", "2 < x < 5", {}, 1.0, "interval-vs-gold-chain"),
    ("\\boxed{3 \\ge x}", "(-\\infty, 3]", {}, 1.0, "flipped-inequality"),
    ("\\boxed{x \\ge 3}", "(-\\infty, 3]", {}, 0.0, "wrong-direction"),
    ("\\boxed{x > 2}", "[2, \\infty)", {}, 0.0, "strict-vs-closed"),
    ("$x > 2$", "(2, \\infty)", {"inequality_intervals": False}, 0.0, "intervals-off"),
    ("\\boxed{x^2 > 4}", "(-\\infty,-2)\\cup(2,\\infty)", {}, 0.0, "question-restated"),
    # plain-text final answers when there is no box
    ("So the answer is 42.", "42", {}, 1.0, "answer-is-42"),
    ("Final answer: 3/4", "3/4", {}, 1.0, "final-answer-fraction"),
    ("Hence the final answer is $\\frac{3}{4}$.", "0.75", {}, 1.0, "final-answer-latex"),
    ("So the answer is 41.", "42", {}, 0.0, "answer-is-wrong"),
    # box choice
    ("\\boxed{255}. Final Answer: The final answer is $10455$.", "10455", {}, 1.0, "later-phrase"),
    ("\\boxed{1} and \\boxed{2}", "\\{1, 2\\}", {}, 1.0, "boxes-joined-by-and"),
    ("\\boxed{(1, 2)}, \\boxed{(2, 1)}", "(1,2),(2,1)", {}, 1.0, "boxes-joined-by-comma"),
    ("\\boxed{5} ... wait, actually \\boxed{7}", "7", {}, 1.0, "self-correction-last"),
    ("\\boxed{5} ... wait, actually \\boxed{7}", "5", {"boxed": "first"}, 1.0, "first-box"),
    ("$\\boxed{5}$ and later $\\boxed{7}$", "7", {"boxed": "any"}, 1.0, "any-is-math-verify"),
    ("Answer: 12. \\boxed{5}", "12", {"boxed_match_priority": -1}, 1.0, "boxes-ignored"),
    ("no box, the answer is 42", "42", {"require_box": True}, 0.0, "require-box"),
    # multiple choice
    ("\\text{(B)}", "B", {}, 1.0, "text-paren-letter"),
    ("(B)", "B", {}, 1.0, "paren-letter"),
    ("B", "B", {}, 1.0, "bare-letter"),
    ("\\boxed{B}", "B", {}, 1.0, "boxed-letter"),
    ("The answer is B", "B", {}, 1.0, "answer-is-letter"),
    ("The answer is **(B)**.", "(B)", {}, 1.0, "gold-in-parens"),
    ("The correct option is $\\text{B}$", "$\\text{(B)}$", {}, 1.0, "correct-option"),
    ("$\\boxed{\\text{(B) } 12}$", "B", {}, 1.0, "letter-with-value"),
    ("\\boxed{C}", "B", {}, 0.0, "other-letter"),
    ("The answer is C", "(B)", {}, 0.0, "answer-is-other-letter"),
    ("\\boxed{12}", "B", {}, 0.0, "value-not-letter"),
    ("\\boxed{12}. Final answer: B", "B", {}, 1.0, "choice-in-later-phrase"),
    ("\\boxed{A, C}", "\\boxed{A} and \\boxed{C}", {}, 1.0, "multi-select-gold"),
    ("\\boxed{C}", "\\boxed{A} and \\boxed{C}", {}, 0.0, "multi-select-partial"),
    # math-verify's numeric knobs pass through
    ("\\boxed{0.3334}", "1/3", {}, 0.0, "rounding-6"),
    ("\\boxed{0.3334}", "1/3", {"float_rounding": 3}, 1.0, "rounding-3"),
    ("\\boxed{f(y)}", "f(x)", {"strict": False}, 1.0, "not-strict-variables"),
    ("\\boxed{x \\in [-2, 7]}", "-2 \\le x \\le 7", {}, 1.0, "gold-relation-pred-set"),
    ("\\boxed{x^2 < 4}", "(-2, 2)", {"allow_set_relation_comp": True}, 1.0, "set-relation"),
    ("\\boxed{x^2 < 4}", "(-2, 2)", {}, 0.0, "set-relation-off"),
    ("The answer is 42", "42", {"extraction": ["expr"]}, 1.0, "expr-only"),
    ("Answer $ \n 9 \n $", "$9$", {"extraction": ["latex"]}, 0.0, "latex-only"),
    ("Answer $ \n 9 \n $", "$9$", {}, 1.0, "latex-and-expr"),
]


@pytest.mark.parametrize(
    ("response", "gold", "options", "reward"),
    [pytest.param(*case[:4], id=case[4]) for case in EXTENSIONS],
)
def test_extension(response: str, gold: str, options: dict[str, Any], reward: float) -> None:
    result = score(response, gold, **options)
    assert result.ok
    assert result.reward == reward, result.details


# --- 3. reward hacks --------------------------------------------------------------------

GARBAGE = "".join("x+1=(2^{3" if i % 7 else "\\frac{1}{2} " for i in range(100_000))

HACKS = [
    ("\\boxed{}", "5", {}, "empty_box", "empty-box"),
    ("\\boxed{7}. Wait, no: \\boxed{ }", "7", {}, "empty_box", "last-box-empty"),
    ("I could not solve this problem.", "5", {}, "no_answer", "no-answer"),
    ("", "5", {}, "no_answer", "empty-response"),
    ("\\boxed{A, B, C, D}", "B", {}, "several_choices", "every-choice-in-box"),
    ("\\boxed{ABCD}", "B", {}, "several_choices", "every-choice-run"),
    ("The answer is A, B, C or D", "B", {}, "several_choices", "every-choice-stated"),
    ("Pick one: (A) 3 (B) 5 (C) 7 (D) 9", "A", {}, "no_choice", "choices-restated"),
    ("The options are A, B, C and D.", "D", {}, "no_choice", "choices-listed"),
    ("\\boxed{}", "B", {}, "empty_box", "empty-box-choice"),
    ("\\boxed{5} ... wait, actually \\boxed{7}", "5", {}, "not_equivalent", "only-earlier-box"),
    ("\\boxed{5} or \\boxed{7}", "5", {}, "not_equivalent", "hedged-boxes"),
    ("\\boxed{5, 7}", "5", {}, "not_equivalent", "hedged-set"),
    ("Is it \\boxed{5}, as the problem says? No: \\boxed{3}", "5", {}, "not_equivalent", "echo"),
    ("Show the sum is 42. I cannot.", "42", {"require_box": True}, "no_box", "restated-no-box"),
    ("\\boxed{9^{9^{9^{9}}}}", "5", {}, "answer_too_large", "power-tower"),
    ("\\boxed{10^{10^{10}}}", "5", {}, "answer_too_large", "googolplex-ish"),
    ("\\boxed{2^{-10^{10}}}", "0", {}, "answer_too_large", "tiny-power"),
    ("\\boxed{100000000!}", "5", {}, "answer_too_large", "huge-factorial"),
    ("\\boxed{\\binom{10^9}{5 \\cdot 10^8}}", "5", {}, "answer_too_large", "huge-binomial"),
    ("\\boxed{\\prod_{k=1}^{10^{9}} k}", "5", {}, "answer_too_large", "huge-product"),
    ("\\boxed{" + "1+" * 2000 + "1}", "2001", {}, "answer_too_long", "long-box"),
    ("\\boxed{" + "(" * 40 + "1" + ")" * 40 + "}", "1", {}, "answer_too_nested", "nested-box"),
    ("$" + "{" * 3000 + "1" + "}" * 3000 + "$", "1", {}, "answer_too_nested", "nested-math"),
    (GARBAGE, "5", {}, "answer_too_nested", "long-garbage"),
    ("5 " * 200_000, "B", {}, "no_choice", "long-garbage-choice"),
]


@pytest.mark.parametrize(
    ("response", "gold", "options", "rule"),
    [pytest.param(*case[:4], id=case[4]) for case in HACKS],
)
def test_reward_hack_scores_zero(
    response: str, gold: str, options: dict[str, Any], rule: str
) -> None:
    result = score(response, gold, **options)
    assert result.ok
    assert (result.reward, result.details["rule"]) == (0.0, rule), result.details


REJECT_MULTIPLE = [
    ("\\boxed{5} ... wait, actually \\boxed{7}", "7", 0.0, "correction"),
    ("\\boxed{5}. Check: \\boxed{\\frac{10}{2}}", "5", 1.0, "equivalent-boxes"),
    ("\\boxed{5}. Check: \\boxed{5}", "5", 1.0, "same-box-twice"),
    ("\\boxed{1} and \\boxed{2}", "\\{1, 2\\}", 1.0, "one-answer-in-two-boxes"),
    ("\\boxed{B}. Hmm, actually \\boxed{C}", "C", 0.0, "choice-correction"),
    ("\\boxed{C}. Yes: \\boxed{\\text{(C)}}", "C", 1.0, "same-choice-twice"),
    ("\\boxed{4}. Final answer: the final answer is 5.", "5", 0.0, "box-vs-later-phrase"),
    ("\\boxed{A}. Final answer: B", "B", 0.0, "box-vs-later-choice"),
]


@pytest.mark.parametrize(
    ("response", "gold", "reward"),
    [pytest.param(*case[:3], id=case[3]) for case in REJECT_MULTIPLE],
)
def test_reject_multiple_answers(response: str, gold: str, reward: float) -> None:
    result = score(response, gold, reject_multiple_answers=True)
    assert result.reward == reward, result.details
    if not reward:
        assert result.details["rule"] == "boxed_answers_disagree"


# --- 4. invalid requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "options", "message"),
    [
        pytest.param("", None, "reference.answer", id="empty-string"),
        pytest.param("   ", None, "reference.answer", id="blank-string"),
        pytest.param({"answer": ""}, None, "reference.answer", id="empty-answer"),
        pytest.param(
            {"answer": True}, None, "reference.answer: Input should be a valid string", id="bool"
        ),
        pytest.param([3], None, "reference", id="list"),
        pytest.param({}, None, "reference.answer: Field required", id="missing-field"),
        pytest.param(None, None, "reference.answer: Field required", id="no-reference"),
        pytest.param({"answer": "5", "unit": "cm"}, None, "reference.unit", id="extra-field"),
        pytest.param("5", {"boxed": "middle"}, "options.boxed", id="bad-boxed-mode"),
        pytest.param("5", {"extraction": []}, "options.extraction", id="no-extraction"),
        pytest.param("5", {"precision": 3}, "options.precision", id="unknown-option"),
    ],
)
def test_invalid_request_names_field(reference: Any, options: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        VERIFIER.prepare(reference, options)


def test_unreadable_gold_is_invalid_not_zero() -> None:
    with pytest.raises(InvalidRequest, match=r"reference\.answer"):
        score("\\boxed{5}", "\\boxed{}")


# --- 5. evidence, caching, isolation ----------------------------------------------------


def test_details_show_extraction_and_both_parses() -> None:
    result = score("Thus $x = \\boxed{\\frac{6}{4}}$.", "1.5")
    assert result.reward == 1.0
    assert result.details == {
        "gold_parsed": ["1.50000000000000"],
        "answer_source": "last_box",
        "extracted": ["\\frac{6}{4}"],
        "pred_parsed": ["3/2"],
        "rule": "equivalent",
        "matched": ["1.50000000000000", "3/2"],
    }


def test_details_name_the_readings_rules() -> None:
    result = score("\\boxed{7.5 \\times 10^{7}, 3}", "75000000, 3")
    assert result.reward == 1.0
    assert result.details["rule"] == "list"
    assert result.details["gold_reading"] == ["list"]
    assert result.details["pred_reading"] == ["list"]
    python = score("\\boxed{\\sqrt{2}\\pi}", "sqrt(2)*pi")
    assert python.reward == 1.0 and python.details["gold_reading"] == ["python_syntax"]


def test_reference_accepts_bare_string_and_object() -> None:
    assert score("\\boxed{42}", "42").reward == 1.0
    assert score("\\boxed{42}", {"answer": "$42$"}).reward == 1.0
    assert score("\\boxed{42}", {"answer": "\\boxed{42}"}).reward == 1.0


@pytest.mark.parametrize(
    ("reference", "response", "reward"),
    [
        (18, "The answer is 18.", 1.0),
        ({"answer": 18}, "\\boxed{18}", 1.0),
        (0.5, "\\boxed{\\frac{1}{2}}", 1.0),
        (-3, "\\boxed{-3}", 1.0),
        (18, "\\boxed{19}", 0.0),
    ],
    ids=["int", "int-in-object", "float", "negative", "int-wrong"],
)
def test_numeric_gold_as_datasets_store_it(reference: Any, response: str, reward: float) -> None:
    assert score(response, reference).reward == reward


def test_gold_parsed_once_per_group() -> None:
    gold = "\\frac{17}{19}"
    read_gold.cache_clear()
    for k in range(16):
        score(f"Attempt {k}: \\boxed{{\\frac{{{17 + k % 2}}}{{19}}}}", gold)
    info = read_gold.cache_info()
    assert (info.misses, info.hits) == (1, 15)


def test_judges_outside_the_main_thread() -> None:
    """math-verify's own timeouts use signal.alarm, which fails off the main thread."""
    with ThreadPoolExecutor(2) as pool:
        rewards = list(pool.map(lambda r: score(r, "x > 2").reward, ["$(2,\\infty)$", "$x<2$"]))
    assert rewards == [1.0, 0.0]
