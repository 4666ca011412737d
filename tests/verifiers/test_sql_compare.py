"""spider_equal against test-suite-sql-eval's own result_eq on many generated results.

Results are small random tables over tiny value domains (so duplicates, equal columns
and near-misses are common), compared with column-permuted, row-shuffled and perturbed
copies of themselves, ordered and unordered: the verdicts must be identical.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from rewardgate.verifiers.sql import compare
from rewardgate.verifiers.sql.compare import first_difference, spider_equal

VALUES: list[Any] = [0, 1, 1.0, 2, "a", "b", None]
# Values equal to each other that print differently, and sort apart from their
# neighbours by that text (2 < 2.5 < 2.0 as "2<class 'int'>", "2.5...", "2.0..."): the
# reference's quick rejection may refuse results whose columns, in order, are equal.
PRINT_APART: list[Any] = [2, 2.0, 2.5, 0, 0.0, -0.0, "2", None]


def table(
    rng: random.Random, rows: int, cols: int, values: list[Any] = VALUES
) -> list[tuple[Any, ...]]:
    return [tuple(rng.choice(values) for _ in range(cols)) for _ in range(rows)]


def variant(
    rng: random.Random, rows: list[tuple[Any, ...]], values: list[Any] = VALUES
) -> list[tuple[Any, ...]]:
    cols = len(rows[0]) if rows else 0
    perm = list(range(cols))
    rng.shuffle(perm)
    out = [tuple(row[i] for i in perm) for row in rows]
    if rng.random() < 0.5:
        rng.shuffle(out)
    if out and rng.random() < 0.4:
        i, j = rng.randrange(len(out)), rng.randrange(cols)
        row = list(out[i])
        row[j] = rng.choice(values)
        out[i] = tuple(row)
    if rng.random() < 0.1:
        out = out[:-1] if out else out
    return out


def cases(
    count: int, seed: int = 7, values: list[Any] = VALUES
) -> list[tuple[list[Any], list[Any], bool]]:
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        gold = table(rng, rng.randint(0, 6), rng.randint(1, 5), values)
        made.append((gold, variant(rng, gold, values), rng.random() < 0.5))
    return made


@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
@pytest.mark.parametrize("values", [VALUES, PRINT_APART], ids=["values", "print_apart"])
def test_agrees_with_result_eq_on_generated_results(values: list[Any]) -> None:
    from tests.verifiers.sql_reference.exec_eval import result_eq

    disagreements = []
    matches = 0
    for gold, pred, ordered in cases(3000, values=values):
        ours = spider_equal(gold, pred, ordered)
        theirs = result_eq(gold, pred, order_matters=ordered)
        matches += ours
        if ours != theirs:
            disagreements.append((gold, pred, ordered, ours, theirs))
    assert not disagreements, disagreements[:3]
    assert 300 < matches < 2700, "the generated cases exercise both verdicts"


def test_the_column_search_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns with equal bags can defeat pruning; the search stops at MAX_PERMUTATIONS."""
    gold = [(1, 2, 3), (2, 3, 1), (3, 1, 2)]
    pred = [(3, 2, 1), (1, 3, 2), (2, 1, 3)]  # equal as a bag only with columns moved
    assert spider_equal(gold, pred, ordered=False)
    monkeypatch.setattr(compare, "MAX_PERMUTATIONS", 1)
    assert not spider_equal(gold, pred, ordered=False)


def test_first_difference() -> None:
    gold, pred = [(1,), (2,), (3,)], [(1,), (3,), (2,)]
    assert first_difference(gold, pred, ordered=True) == {"index": 1, "gold": (2,), "pred": (3,)}
    assert first_difference(gold, [(1,), (2,)], ordered=False) == {
        "gold_only": (3,),
        "pred_only": None,
    }


@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
@pytest.mark.parametrize("ordered", [True, False])
def test_equal_columns_in_order_still_face_the_quick_rejection(ordered: bool) -> None:
    """The columns as they are make the results equal (2 == 2.0), yet the reference's
    quick rejection sorts each row by its values' text and refuses: so must we. One
    column has nothing to sort, and is equal."""
    from tests.verifiers.sql_reference.exec_eval import result_eq

    gold, pred = [(2, 2.5), (1, 1)], [(2.0, 2.5), (1, 1)]
    assert result_eq(gold, pred, order_matters=ordered) is False
    assert spider_equal(gold, pred, ordered) is False
    gold1, pred1 = [(2,), (2.5,)], [(2.0,), (2.5,)]
    assert result_eq(gold1, pred1, order_matters=ordered) is True
    assert spider_equal(gold1, pred1, ordered) is True


def test_first_difference_is_the_first_of_each_counter_difference() -> None:
    """What `Counter(gold) - Counter(pred)` and its converse list first, on many results."""
    from collections import Counter

    for gold, pred, _ in cases(2000, seed=11, values=PRINT_APART):
        found = first_difference(gold, pred, ordered=False)
        assert found == {
            "gold_only": next(iter(Counter(gold) - Counter(pred)), None),
            "pred_only": next(iter(Counter(pred) - Counter(gold)), None),
        }
