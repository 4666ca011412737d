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


def table(rng: random.Random, rows: int, cols: int) -> list[tuple[Any, ...]]:
    return [tuple(rng.choice(VALUES) for _ in range(cols)) for _ in range(rows)]


def variant(rng: random.Random, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    cols = len(rows[0]) if rows else 0
    perm = list(range(cols))
    rng.shuffle(perm)
    out = [tuple(row[i] for i in perm) for row in rows]
    if rng.random() < 0.5:
        rng.shuffle(out)
    if out and rng.random() < 0.4:
        i, j = rng.randrange(len(out)), rng.randrange(cols)
        row = list(out[i])
        row[j] = rng.choice(VALUES)
        out[i] = tuple(row)
    if rng.random() < 0.1:
        out = out[:-1] if out else out
    return out


def cases(count: int, seed: int = 7) -> list[tuple[list[Any], list[Any], bool]]:
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        gold = table(rng, rng.randint(0, 6), rng.randint(1, 5))
        made.append((gold, variant(rng, gold), rng.random() < 0.5))
    return made


@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
def test_agrees_with_result_eq_on_generated_results() -> None:
    from tests.verifiers.sql_reference.exec_eval import result_eq

    disagreements = []
    matches = 0
    for gold, pred, ordered in cases(3000):
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
