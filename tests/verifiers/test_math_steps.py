"""`math_steps`: wrong steps are flagged, correct ones never; Clip and Delta as in the paper.

The worked solutions are ours. Each lists the indices of its wrong steps; every other
step must not be refuted, whatever notation it uses (plain arithmetic, LaTeX, align
blocks, rounding, units, percentages, cases that reuse a variable).
"""

from __future__ import annotations

from typing import Any

import pytest

from rewardgate.testing import EngineHarness
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.math_steps import MathStepsVerifier
from rewardgate.verifiers.math_steps.split import split_steps
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.shaping.steps import clip, delta, returns_to_go

VERIFIER = MathStepsVerifier()


def score(response: str, gold: str, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="math_steps", response=response, reference=gold, options=options
    )
    return VERIFIER.verify(request)


EGGS = """Janet's ducks lay 16 eggs per day.
She uses 3 + 4 = 7 eggs for breakfast and muffins.
She sells 16 - 7 = {sold} eggs.
She makes {sold} * 2 = {money} dollars every day.
The answer is \\boxed{{{money}}}."""

QUADRATIC = r"""Step 1: We solve $x^2 - 5x + 6 = 0$.
Step 2: Factoring, $x^2 - 5x + 6 = (x - 2)(x - 3)$.
Step 3: So $x = 2$ or $x = 3$.
Step 4: Check: $2^2 - 5 \cdot 2 + 6 = 0$ and $3^2 - 5 \cdot 3 + 6 = {check}$.
Step 5: The sum of the roots is $2 + 3 = \boxed{{5}}$."""

TRIANGLE = r"""Let $a = 3$ and $b = 4$ be the legs.
Then $c^2 = a^2 + b^2 = 9 + 16 = {sum}$.
So $c = \sqrt{{25}} = 5$.
The perimeter is $a + b + c = {perimeter}$, so the answer is $\boxed{{{perimeter}}}$."""

ALIGN = r"""We simplify the product.
\begin{{align*}}
(2 + 3)(4 - 1) &= 5 \cdot 3 \\
&= {product}
\end{{align*}}
Therefore the value is $\boxed{{{product}}}$."""

ROUNDING = r"""The fraction is $\frac{1}{3} = 0.33$ to two places.
Also $\sqrt{2} \approx 1.41$ and $\pi \approx 3.14$.
A third of 100 is $100/3 \approx 33.3$.
Then $22/7 \approx {pi}$.
So the answer is $\boxed{0.33}$."""

WORDS = """Tom had 20 apples and gave away 20% of them.
20% of 20 = 4 apples were given away.
He has 20 - 4 = 16 apples left.
His farm makes 3 million dollars, i.e. 1.5 * 2 = 3 million.
Dividing, 17 / 5 = 3 remainder 2.
The fence is 5 cm = 50 mm long, and 2 km = 2000 m.
The total is 1,000 + 2,500 = {total}.
The answer is \\boxed{{16}}."""

CASES = r"""Case 1: $n = 2$. Then $n^2 = 4$.
Case 2: $n = 3$. Then $n^2 = 9$.
In general $n^2 + n = n(n + 1)$.
For $k = 4$: $k(k + 1) = {kk}$.
So the answer is $\boxed{{20}}$."""

REWRITE = r"""Expanding, $(a + b)^2 = (a + b)(a + b) = {expansion}$.
With $a = 1$ and $b = 2$ this gives $9$.
So the answer is $\boxed{{9}}$."""

MIXED = r"""Half of five is $5 \cdot \frac{{1}}{{2}} = 2\frac{{1}}{{2}}$.
Three times a half is $3\frac{{1}}{{2}} = {three_halves}$.
Then $3(4) = 12$ and $(2)(5) = 10$.
The answer is $\boxed{{12}}$."""

SUBSTITUTION = r"""Step 1: Let $x = 4$.
Step 2: Then $2x + 1 = {value}$.
Step 3: And $x^2 - 1 = 15$.
Step 4: Hence $\boxed{{15}}$."""

INEQUALITIES = r"""We compare: $\sqrt{{10}} > 3$ and $2^{{10}} = 1024 {op} 1000$.
Also $\frac{{1}}{{2}} \neq 0.6$ and $7 \le 7$.
So $\boxed{{1024}}$."""

MONEY = """Each pen costs $3 and she buys 4 pens.
That is 3 * 4 = {cost} dollars.
She pays with a $20 bill, so her change is 20 - {cost} = {change} dollars.
Answer: \\boxed{{{change}}}"""

LINEAR = r"""Step 1: We need $2x + 3 = 9$.
Step 2: Subtract 3 from both sides: $2x = {a}$.
Step 3: Divide by 2: $x = {b}$.
Step 4: The answer is $\boxed{{{b}}}$."""

RATIONAL = r"""From $\frac{{x}}{{2}} + 1 = 4$ we get $\frac{{x}}{{2}} = {a}$.
Multiplying by 2, $x = {b}$.
So $\boxed{{{b}}}$."""

ROOTS = r"""We have $x^2 = 16$.
Since $x$ is a length, $x = {b}$.
So $\boxed{{{b}}}$."""

DISPLAY_UNITS = r"""1. **Eggs laid per day**: Janet's ducks lay 16 eggs per day.
2. **Eggs used**: 3 for breakfast and 4 for muffins.

Total eggs used:
\[ 3 + 4 = 7 \text{{ eggs}} \]

Eggs left to sell:
\[ 16 - 7 = {left} \text{{ eggs}} \]

Earnings:
\[ {left} \times 2 = {money} \text{{ dollars}} \]

Therefore, Janet makes \(\boxed{{{money}}}\) dollars every day."""

GSM8K_STYLE = """Weng earns $12 an hour for babysitting. She babysat for 50 minutes.
Per minute, Weng earns 12/60 = ${rate}.
Working 50 minutes, she earned {rate} x 50 = ${pay}.
#### {pay}"""

SOLUTIONS = [
    pytest.param(EGGS.format(sold=9, money=18), "18", set(), 1.0, id="eggs-right"),
    pytest.param(EGGS.format(sold=8, money=16), "18", {2}, 0.0, id="eggs-subtraction-slip"),
    pytest.param(QUADRATIC.format(check=0), "5", set(), 1.0, id="quadratic-right"),
    pytest.param(QUADRATIC.format(check=1), "5", {3}, 1.0, id="quadratic-bad-check"),
    pytest.param(TRIANGLE.format(sum=25, perimeter=12), "12", set(), 1.0, id="triangle-right"),
    pytest.param(TRIANGLE.format(sum=24, perimeter=12), "12", {1}, 1.0, id="triangle-bad-sum"),
    pytest.param(
        TRIANGLE.format(sum=25, perimeter=13), "12", {3}, 0.0, id="triangle-bad-perimeter"
    ),
    pytest.param(ALIGN.format(product=15), "15", set(), 1.0, id="align-right"),
    pytest.param(ALIGN.format(product=16), "15", {1}, 0.0, id="align-bad-row"),
    pytest.param(ROUNDING.replace("{pi}", "3.14"), "0.33", set(), 1.0, id="rounding-right"),
    pytest.param(ROUNDING.replace("{pi}", "3.5"), "0.33", {3}, 1.0, id="rounding-too-far"),
    pytest.param(WORDS.format(total=3500), "16", set(), 1.0, id="words-right"),
    pytest.param(WORDS.format(total=3400), "16", {6}, 1.0, id="words-bad-total"),
    pytest.param(CASES.format(kk=20), "20", set(), 1.0, id="cases-right"),
    pytest.param(CASES.format(kk=16), "20", {3}, 1.0, id="cases-bad-product"),
    pytest.param(REWRITE.format(expansion="a^2 + 2ab + b^2"), "9", set(), 1.0, id="rewrite-right"),
    pytest.param(REWRITE.format(expansion="a^2 + b^2"), "9", {0}, 1.0, id="rewrite-wrong"),
    pytest.param(MIXED.format(three_halves=r"\frac{3}{2}"), "12", set(), 1.0, id="mixed-right"),
    pytest.param(MIXED.format(three_halves="2"), "12", {1}, 1.0, id="mixed-wrong"),
    pytest.param(SUBSTITUTION.format(value=9), "15", set(), 1.0, id="substitution-right"),
    pytest.param(SUBSTITUTION.format(value=10), "15", {1}, 1.0, id="substitution-wrong"),
    pytest.param(INEQUALITIES.format(op=">"), "1024", set(), 1.0, id="inequalities-right"),
    pytest.param(INEQUALITIES.format(op="<"), "1024", {0}, 1.0, id="inequalities-wrong"),
    pytest.param(LINEAR.format(a=6, b=3), "3", set(), 1.0, id="linear-right"),
    pytest.param(LINEAR.format(a=5, b=2.5), "3", {1}, 0.0, id="linear-bad-subtraction"),
    pytest.param(LINEAR.format(a=6, b=4), "3", {2}, 0.0, id="linear-bad-division"),
    pytest.param(RATIONAL.format(a=3, b=6), "6", set(), 1.0, id="rational-right"),
    pytest.param(RATIONAL.format(a=3, b=5), "6", {1}, 0.0, id="rational-bad-step"),
    pytest.param(ROOTS.format(b=4), "4", set(), 1.0, id="positive-root"),
    pytest.param(ROOTS.format(b=8), "4", {1}, 0.0, id="root-wrong"),
    pytest.param(ROOTS.format(b=4.1), "4", {1}, 0.0, id="root-rounded-wrongly"),
    pytest.param(DISPLAY_UNITS.format(left=9, money=18), "18", set(), 1.0, id="units-right"),
    pytest.param(DISPLAY_UNITS.format(left=8, money=16), "18", {5}, 0.0, id="units-slip"),
    pytest.param(GSM8K_STYLE.format(rate=0.2, pay=10), "10", set(), 1.0, id="gsm8k-right"),
    pytest.param(GSM8K_STYLE.format(rate=0.25, pay=12.5), "10", {1}, 0.0, id="gsm8k-rate"),
    pytest.param(GSM8K_STYLE.format(rate=0.2, pay=12), "10", {2}, 0.0, id="gsm8k-product"),
    pytest.param(MONEY.format(cost=12, change=8), "8", set(), 1.0, id="money-right"),
    pytest.param(MONEY.format(cost=12, change=9), "8", {2}, 0.0, id="money-wrong-change"),
]


@pytest.mark.parametrize(("solution", "gold", "wrong", "reward"), SOLUTIONS)
def test_wrong_steps_are_flagged_and_right_ones_are_not(
    solution: str, gold: str, wrong: set[int], reward: float
) -> None:
    result = score(solution, gold)
    assert result.steps is not None
    refuted = {step.index for step in result.steps if step.label == "refuted"}
    assert refuted == wrong, [(s.index, s.label, s.details["claims"]) for s in result.steps]
    assert len(result.steps) == len(split_steps(solution))
    for step in result.steps:
        assert step.reward == (0.0 if step.index in wrong else 1.0)
        assert step.label in ("verified", "refuted", "unchecked")
    assert result.reward == reward, "the item's reward is the final answer's correctness"


def test_steps_with_claims_shown_true_are_verified_and_prose_unchecked() -> None:
    result = score(EGGS.format(sold=9, money=18), "18")
    assert result.steps is not None
    assert [s.label for s in result.steps] == [
        "unchecked",
        "verified",
        "verified",
        "verified",
        "unchecked",
    ]


# --- Step splitting -------------------------------------------------------------------


SPLITS = [
    pytest.param("a\n\nb\n  \nc", ["a", "b", "c"], id="lines"),
    pytest.param(
        "Intro.\nStep 1: x\ncontinued\nStep 2: y",
        ["Intro.", "Step 1: x\ncontinued", "Step 2: y"],
        id="step-markers",
    ),
    pytest.param(
        "**Step 1.** a\n**Step 2.** b", ["**Step 1.** a", "**Step 2.** b"], id="bold-markers"
    ),
    pytest.param(
        "We get\n$$\n1 + 1\n= 2\n$$\nDone.",
        ["We get", "$$\n1 + 1\n= 2\n$$", "Done."],
        id="display-block",
    ),
    pytest.param(
        "\\begin{align}\na &= b \\\\\n&= c\n\\end{align}\nok",
        ["\\begin{align}\na &= b \\\\\n&= c\n\\end{align}", "ok"],
        id="align-block",
    ),
    pytest.param("", [], id="empty"),
]


@pytest.mark.parametrize(("text", "steps"), SPLITS)
def test_split_steps(text: str, steps: list[str]) -> None:
    assert split_steps(text) == steps


# --- Clip and Delta ---------------------------------------------------------------------

SIGNALS = [
    pytest.param([1.0, 0.0, 1.0, 1.0], id="binary"),
    pytest.param([0.9, 0.2, 0.75, 0.4, 1.0], id="prm-like"),
    pytest.param([0.3], id="single-step"),
]


@pytest.mark.parametrize("rewards", SIGNALS)
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_clip_is_min_of_reward_minus_eta_and_zero(rewards: list[float], eta: float) -> None:
    assert clip(rewards, eta) == pytest.approx([min(r - eta, 0.0) for r in rewards])


@pytest.mark.parametrize("rewards", SIGNALS)
def test_delta_is_the_next_steps_difference_and_keeps_the_last(rewards: list[float]) -> None:
    shaped = delta(rewards)
    k = len(rewards)
    assert shaped == pytest.approx(
        [rewards[i] - rewards[i + 1] for i in range(k - 1)] + [rewards[k - 1]]
    )
    # The return-to-go of a Delta signal telescopes back to the step's own reward.
    assert returns_to_go(shaped) == pytest.approx(rewards)


def test_clip_and_delta_through_the_verifier() -> None:
    solution = EGGS.format(sold=8, money=16)
    raw = [1.0, 1.0, 0.0, 1.0, 1.0]
    for transform, expected in [
        ("none", raw),
        ("clip", clip(raw, 0.5)),
        ("delta", delta(raw)),
        ("clip_delta", delta(clip(raw, 0.3))),
    ]:
        result = score(
            solution, "18", transform=transform, eta=0.3 if "delta" in transform else 0.5
        )
        assert result.steps is not None
        assert [s.reward for s in result.steps] == pytest.approx(expected), transform
        assert [s.details["raw_reward"] for s in result.steps] == raw
        assert [s.details["return"] for s in result.steps] == pytest.approx(returns_to_go(expected))


# --- the rest of the contract ---------------------------------------------------------


def test_a_missing_gold_is_invalid() -> None:
    with pytest.raises(InvalidRequest, match="reference"):
        score("1 + 1 = 2", None)  # type: ignore[arg-type]


def test_through_the_engine(verifier_engine: Any) -> None:
    engine: EngineHarness = verifier_engine(MathStepsVerifier)
    [result] = engine.score(
        [{"verifier": "math_steps", "response": EGGS.format(sold=8, money=16), "reference": "18"}]
    )
    assert result.status == "ok", result.error
    assert result.details["refuted_steps"] == [2]
    assert result.reward == 0.0


# Correct (or harmless) steps in notation a naive checker misreads: none may be refuted.
NEVER_REFUTED = [
    pytest.param("20% of 50 = 10", id="percent-of"),
    pytest.param("$25\\%$ of $80 = 20$", id="latex-percent-of"),
    pytest.param("The ratio is 3 : 4 = 0.75", id="ratio"),
    pytest.param("1,5 + 1,5 = 3", id="decimal-comma"),
    pytest.param("17 / 5 = 3 remainder 2", id="remainder"),
    pytest.param("$17 \\div 5 = 3$ remainder $2$", id="latex-remainder"),
    pytest.param("That is 2.5 * 2 = 5 million people", id="million"),
    pytest.param("5² = 25 and √16 = 4", id="unicode-powers"),
    pytest.param("3 + 4 = 7 => 7 * 2 = 14", id="arrow"),
    pytest.param("if x == 5 then y = 6", id="code-equality"),
    pytest.param("The roots are $x = 1, 2$.\nSo $x^2 = 4$ for the second one.", id="listed-values"),
    pytest.param("$x = \\pm 2$, so $x^2 = 4$.", id="plus-minus"),
    pytest.param("$x = 2$ or $x = -2$.\nThen $x^3 = -8$ for the negative root.", id="two-roots"),
    pytest.param("Let $f(x) = x^2$. Then $f(3) = 9$ and $f(4) = 16$.", id="function-values"),
    pytest.param("$P(A) = 0.5$ and $P(B) = 0.25$.", id="probabilities"),
    pytest.param("Let $e = 5$. Then $2e = 10$.", id="e-as-a-variable"),
    pytest.param("$17 \\equiv 2 \\pmod{5}$", id="congruence"),
    pytest.param("$30^\\circ + 60^\\circ = 90^\\circ$", id="degrees"),
    pytest.param("$5 \\text{ cm} = 50 \\text{ mm}$", id="units-latex"),
    pytest.param("$1 \\text{ foot} = 12$ inches", id="unit-on-the-left"),
    pytest.param("$2 \\times 12 = 2 \\text{ dozen}$", id="multiplier-unit"),
    pytest.param("1 hour = 60 minutes, so 2 hours = 120 minutes", id="units-plain"),
    pytest.param("$(1, 2) + (3, 4) = (4, 6)$", id="vectors"),
    pytest.param("$x \\in [0, 1]$ so $0 \\le x \\le 1$", id="intervals"),
    pytest.param("$a_1 = 2$, $a_2 = 4$, so $a_1 + a_2 = 6$", id="subscripts"),
    pytest.param("$2x + 3 = 9 \\Rightarrow 2x = 6 \\Rightarrow x = 3$", id="solving"),
    pytest.param("$y = mx + b$ with $m = 2$ and $b = 1$", id="symbolic-definition"),
    pytest.param("Step 1. 3 + 4 = 7\nStep 2. 7 * 2 = 14", id="numbered-steps"),
    pytest.param("$3\\frac{1}{2} = 3.5$", id="mixed-number"),
    pytest.param("$3\\frac{1}{2} = 1.5$", id="mixed-or-product"),
    pytest.param("$\\frac{1}{7} = 0.142857$", id="long-decimal"),
    pytest.param("$\\frac{2}{3} = 0.67$", id="rounded-up"),
    pytest.param("$10^{100} + 1 > 10^{100}$", id="big-numbers"),
    pytest.param("$9^{9^{9^{9}}} = 9^{9^{9^{9}}}$", id="too-big-to-evaluate"),
    pytest.param("$i^2 = -1$", id="imaginary-unit"),
    pytest.param("The answer is $\\boxed{5}$ since $2 + 3 = \\boxed{5}$", id="boxed"),
    pytest.param("Costs are $5 and $3 = $8 in total", id="currency"),
    pytest.param("In 2020 there were 365 + 1 = 366 days", id="years"),
    pytest.param("$x^2 = 3x$. Dividing by $x$, $x = 3$.", id="dividing-drops-a-root"),
    pytest.param(
        "$\\sqrt{x + 2} = x$. Squaring, $x + 2 = x^2$.\nSo $x = 2$ (and $-1$ is extraneous).",
        id="squaring-adds-a-root",
    ),
    pytest.param(
        "$|x + 1| = 3$, so $x + 1 = 3$ or $x + 1 = -3$.\nThus $x = 2$ or $x = -4$.",
        id="absolute-value-cases",
    ),
    pytest.param(
        "Case 1: $x + 1 = 3$ gives $x = 2$.\nCase 2: $x + 1 = -3$ gives $x = -4$.",
        id="cases-on-lines",
    ),
    pytest.param("$2x + 3 = 9$.\nTest $x = 5$: $2 \\cdot 5 + 3 = 13$, too big.", id="trial"),
    pytest.param("$3x = 10$, so $x = 3.33$.", id="rounded-root"),
    pytest.param("$x^2 = 2$, so $x = 1.414$.", id="rounded-irrational-root"),
]


@pytest.mark.parametrize("solution", NEVER_REFUTED)
def test_tricky_notation_is_never_refuted(solution: str) -> None:
    result = score(solution, "0")
    assert result.steps is not None
    refuted = [s.details["claims"] for s in result.steps if s.label == "refuted"]
    assert refuted == []


@pytest.mark.parametrize(
    ("line", "label"),
    [
        pytest.param("Total cost = 3 * 4 = 13 dollars", "refuted", id="named-chain-wrong"),
        pytest.param("Total cost = 3 * 4 = 12 dollars", "verified", id="named-chain-right"),
        pytest.param("So 4 + 4 \u00d7 2 = 16.", "refuted", id="order-of-operations"),
        pytest.param("(-3) \u00d7 (-4) = -12", "refuted", id="signs"),
        pytest.param("Each group has 240 / 8 = 30 students per group", "verified", id="per"),
        pytest.param("Step 3: 3 + 4 = 8", "refuted", id="step-label-wrong"),
        pytest.param("Step 3: 3 + 4 = 7", "verified", id="step-label-right"),
        pytest.param("3: 3 + 4 = 8", "refuted", id="number-label"),
        pytest.param("Case 2: 2 * 5 = 11", "refuted", id="case-label"),
        pytest.param("The ratio is 3:4 = 0.8", "unchecked", id="ratio-not-read"),
    ],
)
def test_a_label_before_a_colon_is_not_a_ratio(line: str, label: str) -> None:
    result = score(line, "0")
    assert result.steps is not None
    assert [s.label for s in result.steps] == [label]


def test_long_and_deep_input_is_bounded() -> None:
    """Hostile shapes are read within the item's budget: sides past 300 chars are skipped."""
    for text in [
        "a " * 50_000 + "3 + 4 = 8 " * 2_000,
        "$" + "(" * 5_000 + "1" + ")" * 5_000 + " = 2$",
    ]:
        result = score(text, "0")
        assert result.steps is not None and len(result.steps) == 1


@pytest.mark.parametrize(
    ("claim", "label"),
    [
        pytest.param("$\\frac{2}{3} = 0.67$", "verified", id="rounded"),
        pytest.param("$\\frac{2}{3} = 0.66$", "verified", id="truncated"),
        pytest.param("$-\\frac{2}{3} = -0.66$", "verified", id="truncated-negative"),
        pytest.param("$\\frac{2}{3} = 0.68$", "refuted", id="neither"),
        pytest.param("$\\frac{1}{3} = 0.34$", "refuted", id="rounded-the-wrong-way"),
        pytest.param("$0.5 = \\frac{1}{2}$", "verified", id="decimal-on-the-left"),
        pytest.param("$\\pi \\approx 3.5$", "refuted", id="approximation-too-far"),
        pytest.param("$2^{10} \\approx 1000$", "verified", id="approximation-in-percent"),
        pytest.param("$\\pi \\approx 3$", "verified", id="approximation-to-an-integer"),
    ],
)
def test_decimals_are_read_as_rounded_or_truncated(claim: str, label: str) -> None:
    result = score(claim, "0")
    assert result.steps is not None
    assert [s.label for s in result.steps] == [label]


def arithmetic_lines(seed: int, count: int) -> list[tuple[str, str]]:
    """(a correct line, the same line with its result off by one), in many notations."""
    import random
    from fractions import Fraction

    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        a, b = rng.randint(2, 999), rng.randint(2, 99)
        kind = rng.choice(["+", "-", "*", "/", "frac", "pow", "mixed", "decimal"])
        if kind == "+":
            text, value = f"{a} + {b} = @", Fraction(a + b)
        elif kind == "-":
            text, value = f"$ {a} - {b} = @ $", Fraction(a - b)
        elif kind == "*":
            text, value = f"\\[ {a} \\times {b} = @ \\]", Fraction(a * b)
        elif kind == "/":
            text, value = f"{a * b} / {b} = @", Fraction(a)
        elif kind == "frac":
            text, value = f"$\\frac{{{a * b}}}{{{b}}} = @$", Fraction(a)
        elif kind == "pow":
            b = rng.randint(2, 4)
            text, value = f"${a}^{{{b}}} = @$", Fraction(a**b)
        elif kind == "mixed":
            text, value = f"So ${a} + {b} \\cdot 2 = @$ in total.", Fraction(a + 2 * b)
        else:
            text, value = f"{a}.5 + {b}.25 = @", Fraction(4 * a + 2 + 4 * b + 1, 4)
        shown = str(value) if value.denominator == 1 else f"{float(value):g}"
        wrong = str(value + 1) if value.denominator == 1 else f"{float(value + 1):g}"
        lines.append((text.replace("@", shown), text.replace("@", wrong)))
    return lines


@pytest.mark.parametrize("seed", range(4))
def test_generated_arithmetic_right_is_verified_and_off_by_one_is_refuted(seed: int) -> None:
    for right, wrong in arithmetic_lines(seed, 50):
        assert [s.label for s in score(right, "0").steps or []] == ["verified"], right
        assert [s.label for s in score(wrong, "0").steps or []] == ["refuted"], wrong


@pytest.mark.parametrize("seed", range(2))
def test_generated_rounded_quotients(seed: int) -> None:
    """a / b written rounded or cut to k places holds; two units off does not."""
    import math
    import random

    rng = random.Random(seed)
    for _ in range(40):
        a, b, k = rng.randint(1, 999), rng.randint(3, 97), rng.randint(1, 4)
        unit = 10.0**-k
        rounded, cut = f"{a / b:.{k}f}", f"{math.floor(a / b / unit) * unit:.{k}f}"
        off = f"{a / b + 2 * unit:.{k}f}"
        for shown, label in [(rounded, "verified"), (cut, "verified"), (off, "refuted")]:
            line = f"$\\frac{{{a}}}{{{b}}} = {shown}$"
            assert [s.label for s in score(line, "0").steps or []] == [label], line
