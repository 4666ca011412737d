"""ChartMimic's low-level scores: text, layout, chart-type and colour F1.

Expected values are worked by hand from ChartMimic's definitions; the colour
matching is checked against ChartMimic's own exhaustive search over permutations.
"""

from __future__ import annotations

import itertools
import random

import pytest

from rewardgate.verifiers.chart.metrics import (
    F1,
    color_f1,
    color_similarity,
    filter_colors,
    layout_f1,
    text_f1,
    type_f1,
)
from rewardgate.verifiers.chart.run import parse_record


def f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize(
    ("pred", "target", "precision", "recall"),
    [
        (["Title", "x", "y"], ["Title", "x", "y"], 1.0, 1.0),
        (["Title", "x"], ["Title", "x", "y"], 1.0, 2 / 3),
        (["Title", "x", "y", "extra"], ["Title", "x", "y"], 3 / 4, 1.0),
        (["a", "a", "b"], ["a", "b", "b"], 2 / 3, 2 / 3),  # each target text matches once
        (["Title"], ["title"], 0.0, 0.0),  # exact strings, as ChartMimic compares them
        ([], [], 1.0, 1.0),  # both empty agree (ChartMimic would score 0)
        ([], ["Title"], 0.0, 0.0),
        (["Title"], [], 0.0, 0.0),
    ],
    ids=[
        "identical",
        "one-missing",
        "one-extra",
        "multiset",
        "case-differs",
        "both-empty",
        "nothing-drawn",
        "target-has-none",
    ],
)
def test_text_f1(pred: list[str], target: list[str], precision: float, recall: float) -> None:
    score = text_f1(pred, target)
    assert score.precision == pytest.approx(precision)
    assert score.recall == pytest.approx(recall)
    assert score.f1 == pytest.approx(f1(precision, recall))


GRID_2X2 = [(2, 2, r, r, c, c) for r in range(2) for c in range(2)]


@pytest.mark.parametrize(
    ("pred", "target", "expected"),
    [
        (GRID_2X2, GRID_2X2, 1.0),
        ([(1, 2, 0, 0, 0, 0), (1, 2, 0, 0, 1, 1)], [(2, 1, 0, 0, 0, 0), (2, 1, 1, 1, 0, 0)], 0.0),
        ([(1, 1, 0, 0, 0, 0)], GRID_2X2, f1(1.0, 0.0)),
        (GRID_2X2[:2], GRID_2X2, f1(1.0, 0.5)),
    ],
    ids=["same-grid", "rows-for-columns", "one-axes-vs-four", "half-the-panels"],
)
def test_layout_f1(
    pred: list[tuple[int, ...]], target: list[tuple[int, ...]], expected: float
) -> None:
    assert layout_f1(pred, target).f1 == pytest.approx(expected)


@pytest.mark.parametrize(
    ("pred", "target", "precision", "recall"),
    [
        ({"bar": 2}, {"bar": 2}, 1.0, 1.0),
        ({"barh": 2}, {"bar": 2}, 0.0, 0.0),
        ({"bar": 3}, {"bar": 2}, 2 / 3, 1.0),
        ({"bar": 1, "plot": 1}, {"bar": 2}, 1 / 2, 1 / 2),
        ({}, {"bar": 1}, 0.0, 0.0),
    ],
    ids=["same", "bar-for-barh", "one-call-too-many", "half-right", "none"],
)
def test_type_f1(
    pred: dict[str, int], target: dict[str, int], precision: float, recall: float
) -> None:
    score = type_f1(pred, target)
    assert (score.precision, score.recall) == pytest.approx((precision, recall))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("#336699", "#336699", 1.0),
        ("#000000", "#FFFFFF", 0.0),  # CIEDE2000 of black and white is 100
        ("viridis", "viridis", 1.0),
        ("viridis", "plasma", 0.0),
        ("#440154", "viridis", 0.0),  # a colour never pairs with a colormap
    ],
    ids=["same", "black-white", "same-cmap", "other-cmap", "colour-vs-cmap"],
)
def test_color_similarity(a: str, b: str, expected: float) -> None:
    assert color_similarity(a, b) == pytest.approx(expected, abs=1e-6)


def test_close_colours_are_similar_and_far_ones_less() -> None:
    near = color_similarity("#1F77B4", "#2077B5")
    far = color_similarity("#1F77B4", "#FF7F0E")
    assert 0.98 < near < 1.0
    assert far < near
    # CIEDE2000 is symmetric in its arguments.
    assert color_similarity("#FF7F0E", "#1F77B4") == pytest.approx(far)


def _permutation_total(pred: list[str], target: list[str]) -> float:
    """ChartMimic's `calculate_similarity_serial`: the best over every permutation."""
    if not pred or not target:
        return 0.0
    shorter, longer = (pred, target) if len(pred) <= len(target) else (target, pred)
    return max(
        sum(color_similarity(a, b) for a, b in zip(shorter, perm, strict=False))
        for perm in itertools.permutations(longer, len(shorter))
    )


@pytest.mark.parametrize("seed", range(6))
def test_colour_matching_equals_chartmimic_search(seed: int) -> None:
    rng = random.Random(seed)
    pick = lambda n: [f"#{rng.randrange(1 << 24):06X}" for _ in range(n)]  # noqa: E731
    pred, target = pick(rng.randint(1, 5)), pick(rng.randint(1, 5))
    total = _permutation_total(sorted(set(pred)), sorted(set(target)))
    expected = F1.of(total, len(set(pred)), len(set(target)))
    score = color_f1([("bar", c) for c in pred], [("bar", c) for c in target])
    assert score.f1 == pytest.approx(expected.f1)


@pytest.mark.parametrize(
    ("pred", "target", "expected"),
    [
        ([("bar", "#336699")], [("bar", "#336699")], 1.0),
        ([("plot", "#336699")], [("bar", "#336699")], 0.0),  # grouped by chart type
        ([("bar", "#336699"), ("bar", "#336699")], [("bar", "#336699")], 1.0),  # de-duplicated
        ([], [], 1.0),
        ([], [("bar", "#336699")], 0.0),
    ],
    ids=["same", "other-type", "duplicates", "both-empty", "none-drawn"],
)
def test_color_f1(
    pred: list[tuple[str, str]], target: list[tuple[str, str]], expected: float
) -> None:
    assert color_f1(pred, target).f1 == pytest.approx(expected)


def test_recolouring_one_of_two_series_halves_the_credit_for_it() -> None:
    target = [("bar", "#4C72B0"), ("bar", "#DD8452")]
    pred = [("bar", "#4C72B0"), ("bar", "#000000")]
    score = color_f1(pred, target)
    assert 0.5 < score.f1 < 1.0
    assert score.precision == pytest.approx(score.recall)


def test_over_ten_colours_near_duplicates_are_filtered() -> None:
    greys = [("scatter", f"#{v:02X}{v:02X}{v:02X}") for v in range(100, 112)]
    kept = filter_colors(greys)
    assert kept == [greys[0]]  # the rest are within similarity 0.7 of the first
    # Order does not matter: ChartMimic's set order made its filter non-deterministic.
    assert filter_colors(list(reversed(greys))) == kept


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {"texts": "abc", "layout": [], "types": {}, "colors": []},
        {"texts": [["x", 0, 0, "text"]], "layout": [[1, 1, 0]], "types": {}, "colors": []},
        {"texts": [["x", 0, 0, "label"]], "layout": [], "types": {}, "colors": []},
        {"texts": [["x", 0, 0]], "layout": [], "types": {}, "colors": []},
        {"texts": [], "layout": [], "types": {"bar": -1}, "colors": []},
        {"texts": [], "layout": [], "types": {"bar": True}, "colors": []},
        {"texts": [], "layout": [], "types": {}, "colors": [["bar", "#12345"]]},
        {"texts": [], "layout": [], "types": {}, "colors": [["bar", "#1234567"]]},
        {"texts": [["x" * 1000, 0, 0, "text"]], "layout": [], "types": {}, "colors": []},
        {"texts": [[{"a": 1}, 0, 0, "text"]], "layout": [], "types": {}, "colors": []},
    ],
    ids=[
        "not-an-object",
        "texts-not-a-list",
        "short-layout",
        "unknown-text-kind",
        "text-without-kind",
        "negative-count",
        "boolean-count",
        "short-hex",
        "long-hex",
        "huge-text",
        "text-not-a-string",
    ],
)
def test_a_malformed_record_is_refused(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_record(raw)


def test_a_well_formed_record_parses() -> None:
    record = parse_record(
        {
            "texts": [["Title", 0.5, 0.1, "text"], ["Alpha", 0.2, 0.9, "tick"]],
            "layout": [[1, 2, 0, 0, 1, 1]],
            "types": {"bar": 2},
            "colors": [["bar", "#336699"], ["imshow", "viridis"]],
        }
    )
    assert record.texts == (("Title", "text"), ("Alpha", "tick"))
    assert record.layout == ((1, 2, 0, 0, 1, 1),)
    assert record.types == {"bar": 2}
    assert record.colors == (("bar", "#336699"), ("imshow", "viridis"))
