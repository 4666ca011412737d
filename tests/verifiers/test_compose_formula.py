"""The formula evaluator: arithmetic over child names, and nothing else."""

from __future__ import annotations

import pytest

from rewardgate.verifiers.compose.formula import Formula, FormulaError

NAMES = ("acc", "fmt", "len")
VALUES = {"acc": 1.0, "fmt": 0.5, "len": -0.25}

ALLOWED = [
    pytest.param("acc", 1.0, id="name"),
    pytest.param("0.8 * acc + 0.2 * fmt + len", 0.65, id="weighted-sum"),
    pytest.param("acc ** 2 - fmt / 2", 0.75, id="power-division"),
    pytest.param("-len", 0.25, id="negation"),
    pytest.param("7 // 2 + 7 % 2", 4.0, id="floor-division-modulo"),
    pytest.param("acc > fmt", 1.0, id="comparison-true"),
    pytest.param("0 <= len < 1", 0.0, id="chained-comparison-false"),
    pytest.param("acc if fmt >= 0.5 else 0", 1.0, id="conditional"),
    pytest.param("fmt and len", -0.25, id="and-returns-the-last"),
    pytest.param("0 or fmt", 0.5, id="or-returns-the-first-true"),
    pytest.param("not len", 0.0, id="not"),
    pytest.param("min(acc, fmt, len) + max(acc, 2)", 1.75, id="min-max"),
    pytest.param("clip(acc + fmt, 0, 1)", 1.0, id="clip"),
    pytest.param("sqrt(4) + log(1) + exp(0) + abs(len)", 3.25, id="functions"),
    pytest.param("floor(fmt) + ceil(fmt) + round(2.567, 1)", 3.6, id="rounding"),
    pytest.param("log(8, 2)", 3.0, id="log-base"),
]


@pytest.mark.parametrize(("text", "value"), ALLOWED)
def test_allowed_formulas_evaluate(text: str, value: float) -> None:
    assert Formula.compile(text, NAMES).evaluate(VALUES) == pytest.approx(value)


REFUSED = [
    pytest.param("__import__('os').system('true')", "only the functions", id="import"),
    pytest.param("acc.__class__", "Attribute", id="attribute"),
    pytest.param("(1, 2)[0]", "Subscript is not allowed", id="tuple"),
    pytest.param("[acc][0]", "Subscript is not allowed", id="subscript"),
    pytest.param("(lambda: 1)()", "only the functions", id="lambda"),
    pytest.param("[x for x in (1,)]", "ListComp", id="comprehension"),
    pytest.param("'a' * 3", "only numbers", id="string"),
    pytest.param("True + acc", "only numbers", id="bool"),
    pytest.param("open('/etc/passwd')", "only the functions", id="builtin"),
    pytest.param("min(*[1])", "plain arguments", id="starred"),
    pytest.param("round(acc, ndigits=1)", "plain arguments", id="keyword"),
    pytest.param("clip(acc, 0)", "arguments", id="arity"),
    pytest.param("max()", "arguments", id="no-arguments"),
    pytest.param("unknown + 1", "unknown name", id="unknown-name"),
    pytest.param("(acc := 1)", "NamedExpr", id="walrus"),
    pytest.param("acc +", "not an expression", id="syntax"),
    pytest.param("acc; import os", "not an expression", id="statement"),
    pytest.param("1 + " * 1000 + "1", "longer than", id="too-long"),
    pytest.param("(" * 300 + "1" + ")" * 300, "not an expression", id="too-deep"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_anything_else_is_refused_before_evaluation(text: str, message: str) -> None:
    with pytest.raises(FormulaError, match=message):
        Formula.compile(text, NAMES)


FAILING = [
    pytest.param("acc / (fmt - 0.5)", id="division-by-zero"),
    pytest.param("9 ** 9 ** 9", id="overflow-not-a-huge-integer"),
    pytest.param("1e308 * 10", id="infinite"),
    pytest.param("sqrt(len)", id="math-domain"),
    pytest.param("log(0)", id="log-zero"),
]


@pytest.mark.parametrize("text", FAILING)
def test_values_a_formula_cannot_handle_raise_formula_error(text: str) -> None:
    formula = Formula.compile(text, NAMES)
    with pytest.raises(FormulaError, match=r"cannot be evaluated|is inf"):
        formula.evaluate(VALUES)
