"""Do two query results denote the same answer? The benchmarks' rules, and their preprocessing.

`spider_equal` is test-suite-sql-eval's `result_eq` (exec_eval.py): empty equals empty;
otherwise the same number of rows and columns, and some permutation of the
prediction's columns makes its rows the gold's rows, as a bag, or as a list when the
gold has ORDER BY. `bird_equal` is BIRD's EX: `set(pred) == set(gold)`, columns in
order, duplicates and row order ignored.

The column search differs from the reference's only in how it prunes: a gold column
can only be matched by a predicted column holding the same bag (or, with ORDER BY, the
same sequence) of values, which is necessary for any permutation to succeed; the
reference prunes by sampled set membership. Both accept exactly the permutations that
make the results equal. The search stops after `MAX_PERMUTATIONS` candidates, so a
result built to defeat pruning costs bounded time (it scores as a mismatch).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

__all__ = [
    "MAX_PERMUTATIONS",
    "bird_equal",
    "first_difference",
    "order_matters",
    "spider_equal",
    "spider_preprocess",
]

MAX_PERMUTATIONS = 20_000
Row = tuple[Any, ...]
_CUR_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.I)
_DISTINCT_WORD = re.compile(r"\bdistinct\b", re.I)


def _unorder(row: Row) -> Row:
    """Spider's `quick_rej` row key: values sorted by `str(x) + str(type(x))`. A row of
    one value needs no sort, and each type's text is made once (this was a tenth of an
    item's cost on Chinook, bench/sql_throughput.py)."""
    if len(row) < 2:
        return tuple(row)
    return tuple(sorted(row, key=_order_key))


_TYPE_TEXT: dict[type, str] = {}


def _order_key(value: Any) -> str:
    kind = type(value)
    text = _TYPE_TEXT.get(kind)
    if text is None:
        text = _TYPE_TEXT[kind] = str(kind)
    return str(value) + text


def _same_bag(a: Counter[Any], b: Counter[Any]) -> bool:
    """`Counter`'s `==` without its Python-level loop over keys.

    `Counter.__eq__` treats a missing key as a zero count; counts of an iterable are
    never zero, so it is exactly `dict` equality, which runs in C (it was a tenth of a
    Chinook item's cost, bench/sql_throughput.py).
    """
    return dict.__eq__(a, b) is True


def _bag_equal(a: Sequence[Row], b: Sequence[Row]) -> bool:
    return len(a) == len(b) and _same_bag(Counter(a), Counter(b))


def _column_candidates(gold: Sequence[Row], pred: Sequence[Row], ordered: bool) -> list[list[int]]:
    width = len(gold[0])
    gold_cols = [[row[i] for row in gold] for i in range(width)]
    pred_cols = [[row[j] for row in pred] for j in range(width)]
    if ordered:
        return [[j for j in range(width) if pred_cols[j] == g] for g in gold_cols]
    pred_bags = [Counter(col) for col in pred_cols]
    gold_bags = [Counter(col) for col in gold_cols]
    return [[j for j in range(width) if _same_bag(pred_bags[j], g)] for g in gold_bags]


def _permutations(candidates: list[list[int]]) -> Iterator[tuple[int, ...]]:
    """Assignments of distinct predicted columns to gold columns, from the candidates."""
    chosen: list[int] = []
    used: set[int] = set()

    def extend(i: int) -> Iterator[tuple[int, ...]]:
        if i == len(candidates):
            yield tuple(chosen)
            return
        for j in candidates[i]:
            if j not in used:
                chosen.append(j)
                used.add(j)
                yield from extend(i + 1)
                chosen.pop()
                used.discard(j)

    return extend(0)


def _permuted(rows: Sequence[Row], perm: tuple[int, ...]) -> list[Row]:
    """Each row's values picked in `perm`'s order, as tuples (itemgetter, not a Python
    loop per row: this was the column search's main cost on Chinook)."""
    if len(perm) == 1:
        only = perm[0]
        return [(row[only],) for row in rows]
    if perm == tuple(range(len(perm))):
        return [tuple(row) for row in rows]
    pick = itemgetter(*perm)
    return [pick(row) for row in rows]


def spider_equal(gold: Sequence[Row], pred: Sequence[Row], ordered: bool) -> bool:
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    width = len(gold[0])
    if len(pred[0]) != width:
        return False
    gold_rows = list(gold)
    if width == 1:
        # One column: the quick rejection compares the rows themselves, and the only
        # permutation is the identity.
        return list(pred) == gold_rows if ordered else _bag_equal(gold_rows, pred)
    # The quick rejection first, as the reference: it may reject results whose values
    # are equal but print differently (2 and 2.0 sort apart from 2.5).
    gold_unordered = [_unorder(row) for row in gold]
    pred_unordered = [_unorder(row) for row in pred]
    if ordered:
        if gold_unordered != pred_unordered:
            return False
    elif set(gold_unordered) != set(pred_unordered):
        return False
    # The columns in their own order are one of the permutations searched: when they
    # make the results equal (most matches do), the search has its answer.
    if (list(pred) == gold_rows) if ordered else _bag_equal(gold_rows, pred):
        return True
    for tried, perm in enumerate(_permutations(_column_candidates(gold, pred, ordered))):
        if tried >= MAX_PERMUTATIONS:
            return False
        permuted = _permuted(pred, perm)
        if ordered:
            if permuted == gold_rows:
                return True
        elif set(permuted) == set(gold_rows) and _bag_equal(gold_rows, permuted):
            return True
    return False


def bird_equal(gold: Sequence[Row], pred: Sequence[Row]) -> bool:
    return set(pred) == set(gold)


def order_matters(gold_sql: str) -> bool:
    """test-suite-sql-eval's rule: the gold's text has ORDER BY (any spacing, any case)."""
    return "order by" in " ".join(gold_sql.lower().split())


def _remove_distinct(sql: str, dialect: str) -> str:
    """Drop every DISTINCT keyword token, as test-suite-sql-eval does with sqlparse."""
    if "distinct" not in sql.lower():
        return sql
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    from rewardgate.verifiers.sql.safety import tokenize

    try:
        tokens = tokenize(sql, dialect)
    except SqlglotError:
        return _DISTINCT_WORD.sub("", sql)
    out, pos = [], 0
    for token in tokens:
        if token.token_type == TokenType.DISTINCT:
            out.append(sql[pos : token.start])
            pos = token.end + 1
    out.append(sql[pos:])
    return "".join(out)


@lru_cache(maxsize=4096)
def spider_preprocess(sql: str, keep_distinct: bool, dialect: str) -> str:
    """What test-suite-sql-eval runs: `> =` joined, DISTINCT dropped, YEAR(CURDATE()) = 2020."""
    sql = sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")
    if not keep_distinct:
        sql = _remove_distinct(sql, dialect)
    return _CUR_YEAR.sub("2020", sql)


def first_difference(gold: Sequence[Row], pred: Sequence[Row], ordered: bool) -> dict[str, Any]:
    """Evidence for a mismatch: the first row that differs, in order or as a bag."""
    if ordered:
        for i, (g, p) in enumerate(zip(gold, pred, strict=False)):
            if g != p:
                return {"index": i, "gold": g, "pred": p}
        i = min(len(gold), len(pred))
        return {
            "index": i,
            "gold": gold[i] if i < len(gold) else None,
            "pred": pred[i] if i < len(pred) else None,
        }
    # What `Counter(gold) - Counter(pred)` and its converse would list first, read
    # from the two counts instead of building both differences.
    gold_counts, pred_counts = Counter(gold), Counter(pred)
    return {
        "gold_only": next((r for r, n in gold_counts.items() if n > pred_counts[r]), None),
        "pred_only": next((r for r, n in pred_counts.items() if n > gold_counts[r]), None),
    }
