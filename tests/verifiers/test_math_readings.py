"""The math verifier reads every answer whole: tables per class of reading, both ways round.

Each class has right answers in many spellings and near misses (one wrong coefficient,
one missing or extra item, a swapped order when ordered); a near miss must never be
paid. Run through the real math-verify and sympy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.math import MathVerifier
from rewardgate.verifiers.math.python_syntax import NotPython, read_python
from rewardgate.verifiers.models import RewardRequest, RewardResult

VERIFIER = MathVerifier()


def score(response: str, reference: Any, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="math", response=response, reference=reference, options=options
    )
    return VERIFIER.verify(request)


def both_ways(cases: list[tuple[str, str, float, str]]) -> list[Any]:
    """Each (a, b) pair as gold a / answer b and as gold b / answer a."""
    params = []
    for a, b, reward, name in cases:
        params.append(pytest.param(a, b, reward, id=f"{name}-gold-first"))
        params.append(pytest.param(b, a, reward, id=f"{name}-gold-second"))
    return params


def check(gold: str, answer: str, reward: float, **options: Any) -> None:
    """The answer boxed, bare, and after 'The answer is' all get `reward`."""
    for response in (f"\\boxed{{{answer}}}", answer, f"The final answer is {answer}"):
        result = score(response, gold, **options)
        assert result.ok, (response, result.error)
        assert result.reward == reward, (response, result.details)


# --- whole expressions: a fragment never matches ------------------------------------------

POLY = "-111888*x**9 + 211260*x**8 - 5000*x**2 - 197784*x"
FRAGMENTS = [
    (POLY, POLY, 1.0, "poly-same"),
    (POLY, "-111888x^9 + 211260x^8 - 5000x^2 - 197784x", 1.0, "poly-latex"),
    (POLY, "-197784*x - 5000*x**2 + 211260*x**8 - 111888*x**9", 1.0, "poly-reordered"),
    (POLY, "-111888*x**9 + 211261*x**8 - 5000*x**2 - 197784*x", 0.0, "poly-one-coefficient"),
    (POLY, "-111888*x**9 + 211260*x**8 - 5000*x**2 - 197784", 0.0, "poly-lost-x"),
    (POLY, "-111888*x**9 + 211260*x**8 - 197784*x", 0.0, "poly-missing-term"),
    (POLY, "-111888*x**9 + 211260*x**8 - 5000*x**3 - 197784*x", 0.0, "poly-one-power"),
    ("x**3/3 - 6*x + C", "x**3/3 - 6*x + C", 1.0, "antiderivative"),
    ("x**3/3 - 6*x + C", "\\frac{x^3}{3} - 6x + C", 1.0, "antiderivative-latex"),
    ("x**3/3 - 6*x + C", "x**3/3 - 7*x + C", 0.0, "antiderivative-one-coefficient"),
    ("x**3/3 - 6*x + C", "x**3/2 - 6*x + C", 0.0, "antiderivative-one-denominator"),
    ("\\frac{ab}{2}", "\\frac{1}{2}ab", 1.0, "product-after-fraction"),
    ("\\frac{ab}{2}", "\\frac{1}{2}", 0.0, "fraction-without-product"),
    ("2ab", "2", 0.0, "letters-are-not-units"),
    ("3*exp(2*x)/2", "\\frac{3}{2}e^{2x}", 1.0, "exp"),
    ("3*exp(2*x)/2", "\\frac{3}{2}e^{3x}", 0.0, "exp-wrong"),
]


@pytest.mark.parametrize(("gold", "answer", "reward"), both_ways(FRAGMENTS))
def test_whole_expression(gold: str, answer: str, reward: float) -> None:
    check(gold, answer, reward)


def test_a_fragment_is_never_what_matched() -> None:
    near_miss = POLY.replace("211260", "211261")
    result = score(f"The product is {near_miss}", POLY)
    assert result.reward == 0.0
    assert "197784" not in result.details.get("matched", [])


# --- Python-style answers ------------------------------------------------------------------

PYTHON = [
    ("sqrt(2)*pi", "\\sqrt{2}\\pi", 1.0, "sqrt-pi"),
    ("sqrt(2)*pi", "\\pi \\sqrt{3}", 0.0, "sqrt-pi-wrong"),
    ("7.5e7", "75000000", 1.0, "e-notation"),
    ("7.5e7", "7.5 \\times 10^{7}", 1.0, "e-notation-vs-times"),
    ("7.5e7", "7.5E7", 1.0, "e-notation-capital"),
    ("7.5e7", "7.5e6", 0.0, "e-notation-wrong"),
    ("1e-3", "0.001", 1.0, "small-e-notation"),
    ("1e-3", "\\frac{1}{1000}", 1.0, "small-e-notation-fraction"),
    ("-1./3", "-\\frac{1}{3}", 1.0, "trailing-point"),
    ("-1./3", "\\frac{1}{3}", 0.0, "trailing-point-sign"),
    ("E**2", "e^{2}", 1.0, "euler"),
    ("E**2", "e^{3}", 0.0, "euler-wrong"),
    ("oo", "\\infty", 1.0, "infinity"),
    ("oo", "-\\infty", 0.0, "infinity-sign"),
    ("2*x**2 + 3*x - 1", "2x^2+3x-1", 1.0, "quadratic"),
    ("2*x**2 + 3*x - 1", "2x^2+3x+1", 0.0, "quadratic-sign"),
    ("x**(1/2)", "\\sqrt{x}", 1.0, "power-half"),
    ("log(x)/x", "\\frac{\\ln x}{x}", 1.0, "log"),
    ("sin(x)**2 + cos(x)**2", "1", 1.0, "identity"),
    ("Rational(3, 4)", "0.75", 1.0, "rational"),
    ("3*I + 2", "2+3i", 1.0, "imaginary"),
    ("3*I + 2", "2-3i", 0.0, "imaginary-conjugate"),
    # `^` is a power and binds tighter than `*`, not Python's looser xor
    ("2*x^2", "2*x**2", 1.0, "caret-is-power"),
    ("2*x^2", "4*x**2", 0.0, "caret-binds-tighter-than-times"),
    ("2*x^2 + 1", "(2*x)**2 + 1", 0.0, "caret-not-on-the-product"),
    ("-x^2", "-x**2", 1.0, "caret-under-minus"),
    ("-x^2", "x**2", 0.0, "caret-under-minus-sign"),
    ("2**3**2", "512", 1.0, "power-right-associative"),
    ("x*2^3", "8x", 1.0, "caret-after-times"),
]


@pytest.mark.parametrize(("gold", "answer", "reward"), both_ways(PYTHON))
def test_python_syntax(gold: str, answer: str, reward: float) -> None:
    check(gold, answer, reward)


HOSTILE = [
    "().__class__.__bases__[0].__subclasses__()",
    "__import__('os').system('touch /tmp/rewardgate-pwned')",
    "x.__class__",
    "(lambda: 1)()",
    "[c for c in ().__class__.__mro__]",
    "getattr(x, '__dict__')",
    "sqrt(2).evalf()",
    "x[0]",
    "eval('1+1')",
    "open('/etc/passwd')",
    "sqrt(x=2)",
    "sqrt(*[2])",
    "'a' * 10**9",
    "x.__dict__",
    "x if x else y",
    "x := 2",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_python_is_refused_without_side_effect(text: str, tmp_path: Path) -> None:
    marker = Path("/tmp/rewardgate-pwned")
    with pytest.raises(NotPython):
        read_python(text)
    result = score(f"\\boxed{{{text}}}", "2")
    assert result.ok and result.reward == 0.0
    with pytest.raises(InvalidRequest):
        score("\\boxed{2}", text + " * 2")
    assert not marker.exists()


def test_hostile_gold_runs_nothing_in_a_fresh_process(tmp_path: Path) -> None:
    """The escape strings, as gold and as answer, in a process of their own."""
    target = tmp_path / "pwned"
    code = (
        "from rewardgate.verifiers.math import MathVerifier\n"
        "from rewardgate.verifiers.models import RewardRequest\n"
        f"bad = \"__import__('os').system('touch {target}')*x\"\n"
        "v = MathVerifier()\n"
        "r = v.verify(RewardRequest(verifier='math', response='\\\\boxed{' + bad + '}',"
        " reference='x'))\n"
        "assert r.reward == 0.0, r\n"
        "try:\n"
        "    v.verify(RewardRequest(verifier='math', response='x', reference=bad))\n"
        "except Exception as exc:\n"
        "    assert type(exc).__name__ == 'InvalidRequest', exc\n"
        "else:\n"
        "    raise AssertionError('a hostile gold was read')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    assert not target.exists()


# --- lists, thousands and decimal commas -------------------------------------------------

LISTS = [
    ("1, 3, 5, 15", "1, 3, 5, 15", 1.0, "same"),
    ("1, 3, 5, 15", "15, 5, 3, 1", 1.0, "any-order"),
    ("1, 3, 5, 15", "\\{1, 3, 5, 15\\}", 1.0, "as-set"),
    ("1, 3, 5, 15", "(1, 3, 5, 15)", 1.0, "as-tuple"),
    ("1, 3, 5, 15", "[1, 3, 5, 15]", 1.0, "as-brackets"),
    ("1, 3, 5, 15", "1,3,5,15", 1.0, "no-spaces"),
    ("1, 3, 5, 15", "1, 3, 5", 0.0, "missing-item"),
    ("1, 3, 5, 15", "15", 0.0, "last-item-alone"),
    ("1, 3, 5, 15", "1, 3, 5, 15, 16", 0.0, "extra-item"),
    ("1, 3, 5, 15", "1, 3, 5, 16", 0.0, "one-wrong-item"),
    ("-3,0", "-3, 0", 1.0, "negative-list"),
    ("-3,0", "0, -3", 1.0, "negative-list-reordered"),
    ("-3,0", "-3", 0.0, "negative-list-first-item"),
    ("-3,0", "-3.0", 0.0, "negative-list-not-decimal"),
    ("2500,7500", "2500, 7500", 1.0, "four-digit-groups"),
    ("2500,7500", "2500.75", 0.0, "four-digit-groups-not-decimal"),
    ("7, 14, 18", "\\{7, 14, 18\\}", 1.0, "set-answer"),
    ("\\{1, 3, 5\\}", "1, 3, 5", 1.0, "set-gold"),
    ("b = -3, c = 0", "b=-3, c=0", 1.0, "labels"),
    ("b = -3, c = 0", "-3, 0", 1.0, "labels-dropped"),
    ("b = -3, c = 0", "c = 0, b = -3", 1.0, "labels-reordered"),
    ("b = -3, c = 0", "b = 0, c = -3", 0.0, "labels-swapped"),
    ("2 \\pm \\sqrt{3}", "2 + \\sqrt{3}, 2 - \\sqrt{3}", 1.0, "plus-minus"),
    ("2 \\pm \\sqrt{3}", "2 + \\sqrt{3}", 0.0, "plus-minus-half"),
    ("x = \\pm 2", "-2, 2", 1.0, "labelled-plus-minus"),
    ("7,425,000", "7425000", 1.0, "thousands"),
    ("7,425,000", "7{,}425{,}000", 1.0, "thousands-braced"),
    ("7,425,000", "7, 425, 000", 0.0, "thousands-spaced-is-a-list"),
    ("2\\,013", "2013", 1.0, "thin-space"),
    ("1 000", "1000", 1.0, "space-thousands"),
    ("1,000, 2,000", "1000, 2000", 1.0, "list-of-thousands"),
    ("(1, 2), (2, 1)", "(2, 1), (1, 2)", 1.0, "list-of-pairs"),
    ("(1, 2), (2, 1)", "(1, 2)", 0.0, "list-of-pairs-one"),
]


@pytest.mark.parametrize(("gold", "answer", "reward"), both_ways(LISTS))
def test_lists_and_numbers(gold: str, answer: str, reward: float) -> None:
    check(gold, answer, reward)


@pytest.mark.parametrize(
    ("gold", "answer", "options", "reward"),
    [
        ("1, 3, 5", "5, 3, 1", {"ordered": True}, 0.0),
        ("1, 3, 5", "1, 3, 5", {"ordered": True}, 1.0),
        ("1, 3, 5", "(1, 3, 5)", {"ordered": True}, 1.0),
        ("1,5", "1.5", {"decimal_comma": True}, 1.0),
        ("1,5", "1, 5", {"decimal_comma": True}, 0.0),
        ("1,5", "1, 5", {}, 1.0),
        ("1,5", "1.5", {}, 0.0),
        ("3,14", "3.14", {"decimal_comma": True}, 1.0),
        ("1000.99", "1000,99", {}, 1.0),  # one decimal written the European way
        ("1000.99", "1000, 99", {}, 0.0),
    ],
    ids=[
        "ordered-swapped",
        "ordered-same",
        "ordered-tuple",
        "decimal-comma",
        "decimal-comma-not-list",
        "comma-list",
        "comma-list-not-decimal",
        "decimal-comma-pi",
        "answer-decimal-comma",
        "answer-spaced-list",
    ],
)
def test_list_options(gold: str, answer: str, options: dict[str, Any], reward: float) -> None:
    check(gold, answer, reward, **options)


@pytest.mark.parametrize(
    ("gold", "options", "readings"),
    [
        ("0,500", {}, ("0, 500", "0.500")),
        ("1,05", {}, ("1, 05", "1.05")),
        ("1,234", {"decimal_comma": True}, ("1234", "1.234")),
    ],
    ids=["leading-zero", "zero-padded-item", "decimal-comma-or-thousands"],
)
def test_ambiguous_gold_is_invalid_naming_both(
    gold: str, options: dict[str, Any], readings: tuple[str, str]
) -> None:
    with pytest.raises(InvalidRequest, match="ambiguous") as raised:
        score("\\boxed{1}", gold, **options)
    assert all(reading in str(raised.value) for reading in readings), raised.value


# --- symbolic sums, other shapes ---------------------------------------------------------

SHAPES = [
    ("\\sum_{k=0}^{n-1} F_k F_{n-k-1}", "\\sum_{k=0}^{n-1} F_k F_{n-k-1}", 1.0, "symbolic-sum"),
    ("\\sum_{k=1}^{n} k", "\\frac{n(n+1)}{2}", 1.0, "symbolic-sum-closed-form"),
    ("\\sum_{k=1}^{n} k", "\\frac{n(n-1)}{2}", 0.0, "symbolic-sum-wrong"),
    ("\\sum_{k=0}^{n-1} F_k F_{n-k-1}", "\\sum_{k=0}^{n} F_k F_{n-k}", 0.0, "symbolic-sum-bound"),
    ("45", "45°", 1.0, "unicode-degrees"),
    ("45", "45^\\circ", 1.0, "latex-degrees"),
    ("45", "46°", 0.0, "degrees-wrong"),
    ("\\{x \\mid -2 \\le x < 1\\}", "[-2, 1)", 1.0, "set-builder"),
    ("\\{x \\mid -2 \\le x < 1\\}", "-2 \\le x < 1", 1.0, "set-builder-inequality"),
    ("\\{x : -2 \\le x < 1\\}", "[-2, 1)", 1.0, "set-builder-colon"),
    ("\\{x \\mid -2 \\le x < 1\\}", "[-2, 1]", 0.0, "set-builder-closed"),
    ("\\{x \\mid -2 \\le x < 1\\}", "(-2, 1)", 0.0, "set-builder-open"),
]


@pytest.mark.parametrize(("gold", "answer", "reward"), both_ways(SHAPES))
def test_other_shapes(gold: str, answer: str, reward: float) -> None:
    check(gold, answer, reward)


def test_huge_numeric_sum_is_still_refused() -> None:
    result = score("\\boxed{\\sum_{k=1}^{10^{12}} k}", "5")
    assert result.ok and result.details["rule"] == "answer_too_large"


# --- what stays better than math-verify ---------------------------------------------------

KEPT = [
    ("x > 2", "(2, \\infty)", 1.0, "inequality-interval"),
    ("-1", "e^{i\\pi}", 1.0, "imaginary-unit"),
    ("50\\%", "50", 1.0, "percent-gold"),
]


@pytest.mark.parametrize(
    ("gold", "answer", "reward"), [pytest.param(*case[:3], id=case[3]) for case in KEPT]
)
def test_kept_readings(gold: str, answer: str, reward: float) -> None:
    assert score(f"\\boxed{{{answer}}}", gold).reward == reward


# --- boxes that hold more than an answer ---------------------------------------------------

BOX_PROSE = [
    ("\\boxed{We find that $x \\lt 3$.}", "x < 3", 1.0),
    ("\\boxed{Answer $ 9 $}", "9", 1.0),
    ("\\boxed{Thus $x-p=\\boxed{2-2p}$.}", "2-2p", 1.0),
    ("\\boxed{Thus $x-p=\\boxed{2-2p}$.}", "2-p", 0.0),
    ("\\boxed{The product is -111888*x**9 + 211261*x**8 - 5000*x**2 - 197784*x}", POLY, 0.0),
    ("\\boxed{The product is -111888*x**9 + 211260*x**8 - 5000*x**2 - 197784*x}", POLY, 1.0),
]


@pytest.mark.parametrize(("response", "gold", "reward"), BOX_PROSE)
def test_box_holding_prose_or_boxes(response: str, gold: str, reward: float) -> None:
    result = score(response, gold)
    assert result.ok and result.reward == reward, result.details
