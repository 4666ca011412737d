"""Design2Code's block metrics on hand-made blocks: matching, merging, the four scores,
and reading blocks and colours from the DOM's output. No browser here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rewardgate.verifiers.web.blocks import Block, parse_blocks, parse_css_color
from rewardgate.verifiers.web.matching import (
    adjust_cost_for_context,
    difference_of_means,
    find_possible_merge,
    merge_blocks,
    text_similarity,
)
from rewardgate.verifiers.web.scores import block_scores, color_similarity

BLACK = (0.0, 0.0, 0.0)
WHITE = (255.0, 255.0, 255.0)


def block(text: str, x: float = 0.1, y: float = 0.1, w: float = 0.2, h: float = 0.05) -> Block:
    return Block(text, (x, y, w, h), BLACK)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("abcd", "abcd", 1.0),
        ("abcd", "abce", 0.75),  # 2 * 3 / 8
        ("hello world", "hello", 10 / 16),
        ("abc", "xyz", 0.0),
        ("", "", 1.0),
    ],
    ids=["same", "one-letter", "prefix", "disjoint", "both-empty"],
)
def test_text_similarity_is_twice_the_common_characters_over_the_total(
    a: str, b: str, expected: float
) -> None:
    assert text_similarity(a, b) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("current", "updated", "expected"),
    [
        ([-0.625], [-1.0], 0.375),
        ([-1.0, -0.5], [-1.0, -0.9], 0.4),
        ([-0.9, -0.6], [-0.9, -0.6], 0.0),
        ([-0.8, -0.4], [-0.8], -0.4),  # a pair lost counts against the merge
        ([-0.9], [-0.5], -0.4),
    ],
    ids=["merge-completes-a-match", "one-pair-improves", "same", "pair-dropped", "worse"],
)
def test_difference_of_means(current: list[float], updated: list[float], expected: float) -> None:
    assert difference_of_means(current, updated) == pytest.approx(expected)


def test_context_bonus_rewards_runs_of_matches() -> None:
    cost = -np.eye(3)
    adjusted = adjust_cost_for_context(cost, 0.1, 1)
    # corners see one confident neighbour on the diagonal, the centre two
    assert np.diag(adjusted) == pytest.approx([-1.1, -1.2, -1.1])
    assert adjusted[0, 1] == 0.0, "only confident pairs (similarity > 0.5) get a bonus"
    assert np.array_equal(adjust_cost_for_context(cost, 0.0, 1), cost)


def test_merge_blocks_joins_text_and_boxes() -> None:
    merged = merge_blocks(
        Block("a", (0.1, 0.1, 0.1, 0.1), BLACK), Block("b", (0.3, 0.15, 0.1, 0.1), WHITE)
    )
    assert merged.text == "a b"
    assert merged.bbox == pytest.approx((0.1, 0.1, 0.3, 0.15))
    assert merged.color == (127.5, 127.5, 127.5)


def test_split_text_is_merged_before_matching() -> None:
    pred = [block("hello world", w=0.4)]
    target = [block("hello"), block("world", x=0.3)]
    _, merged_target, matching = find_possible_merge(pred, target)
    assert [b.text for b in merged_target] == ["hello world"]
    assert matching == [(0, 0)]
    scores = block_scores(pred, target)
    assert scores.text == 1.0 and scores.block == 1.0 and scores.matched == 1


def test_identical_blocks_score_one() -> None:
    blocks = [block("title", y=0.05), block("first paragraph", y=0.2), block("footer", y=0.9)]
    scores = block_scores(blocks, list(blocks))
    assert scores.terms() == {"block": 1.0, "text": 1.0, "position": 1.0, "color": 1.0}


def test_matching_follows_text_not_order() -> None:
    target = [block("alpha", y=0.1), block("bravo", y=0.5)]
    pred = [block("bravo", y=0.5), block("alpha", y=0.1)]
    assert block_scores(pred, target).terms() == {
        "block": 1.0,
        "text": 1.0,
        "position": 1.0,
        "color": 1.0,
    }


def test_position_is_one_minus_the_larger_centre_shift() -> None:
    target = [block("alpha", x=0.1, y=0.1)]
    pred = [block("alpha", x=0.2, y=0.15)]
    assert block_scores(pred, target).position == pytest.approx(0.9)


def test_block_match_weighs_unmatched_areas() -> None:
    target = [block("alpha", w=0.2, h=0.1), block("missing in the answer", w=0.4, h=0.1)]
    pred = [block("alpha", w=0.2, h=0.1)]
    # matched: 0.02 + 0.02; unmatched: 0.04
    assert block_scores(pred, target).block == pytest.approx(0.5)


def test_pairs_under_half_similar_do_not_count() -> None:
    scores = block_scores([block("completely different")], [block("xyz")])
    assert scores.matched == 0
    assert scores.terms() == {"block": 0.0, "text": 0.0, "position": 0.0, "color": 0.0}


@pytest.mark.parametrize(
    ("pred", "target", "expected"),
    [([], [], 1.0), ([block("a")], [], 0.0), ([], [block("a")], 0.0)],
    ids=["neither-has-text", "hallucinated-text", "missing-text"],
)
def test_pages_without_text(pred: list[Block], target: list[Block], expected: float) -> None:
    assert set(block_scores(pred, target).terms().values()) == {expected}


@pytest.mark.parametrize(
    ("first", "second", "low", "high"),
    [
        (BLACK, BLACK, 1.0, 1.0),
        (BLACK, WHITE, 0.0, 0.0),
        ((230.0, 57.0, 70.0), (231.0, 57.0, 70.0), 0.99, 1.0),
        ((230.0, 57.0, 70.0), (30.0, 57.0, 230.0), 0.3, 0.7),
    ],
    ids=["same", "black-white", "one-step", "red-blue"],
)
def test_color_similarity_is_ciede2000_over_100(
    first: tuple[float, float, float], second: tuple[float, float, float], low: float, high: float
) -> None:
    assert low <= color_similarity(first, second) <= high


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ("rgb(255, 0, 0)", (255.0, 0.0, 0.0)),
        ("rgba(0, 0, 0, 0.5)", (127.5, 127.5, 127.5)),
        ("rgba(0, 0, 0, 0)", None),
        ("color(srgb 1 0 0.5)", (255.0, 0.0, 127.5)),
        ("color(srgb 0 0 0 / 0)", None),
        ("transparent", None),
        ("rgb(nonsense)", None),
    ],
    ids=["rgb", "half-alpha", "transparent-rgba", "color-srgb", "color-srgb-alpha", "word", "bad"],
)
def test_parse_css_color(css: str, expected: tuple[float, float, float] | None) -> None:
    assert parse_css_color(css) == expected


def test_parse_blocks_normalises_and_merges_same_boxes() -> None:
    raw: list[dict[str, Any]] = [
        {"text": "Hello", "box": [100, 50, 200, 20], "color": "rgb(0, 0, 0)"},
        {"text": "Again", "box": [100, 50, 200, 20], "color": "rgb(255, 255, 255)"},
        {"text": "Hidden", "box": [0, 0, 10, 10], "color": "rgba(0, 0, 0, 0)"},
        {"text": "Other", "box": [0, 500, 1000, 100], "color": "rgb(0, 0, 255)"},
    ]
    blocks = parse_blocks(raw, 1000, 1000)
    assert [b.text for b in blocks] == ["hello again", "other"]
    assert blocks[0].bbox == (0.1, 0.05, 0.2, 0.02)
    assert blocks[0].color == (127.5, 127.5, 127.5)
    assert blocks[1].bbox == (0.0, 0.5, 1.0, 0.1)
