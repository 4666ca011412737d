"""The `design2code` block reading against Design2Code's own code.

`design2code_reference/values.json` holds what Design2Code's `visual_eval_v3_multi`
(vendored there, MIT; CLIP left out) computes on the pages in
`design2code_reference/pairs/`; `design2code_reference/compute.py` is the command that
produced them (it renders each page five times in a fresh browser and needs OpenCV and
BeautifulSoup, so the suite reads the stored values). Block-Match, Text, Position and
Color must each agree within 0.02. The pairs include inline markup (`strong`, `em`, a
separately coloured `b`), tables, lists, moved and reordered blocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.web import WebVerifier
from rewardgate.verifiers.web.d2c_blocks import has_body, text_colours
from rewardgate.verifiers.web.models import WebOptions

HERE = Path(__file__).resolve().parent / "design2code_reference"
VALUES: dict[str, dict[str, float]] = json.loads((HERE / "values.json").read_text())
TOLERANCE = 0.02
BLOCK_TERMS = {"block": 1.0, "text": 1.0, "position": 1.0, "color": 1.0}


def score(name: str, **options: Any) -> RewardResult:
    target = (HERE / "pairs" / f"{name}.target.html").read_text()
    response = (HERE / "pairs" / f"{name}.response.html").read_text()
    request = RewardRequest(
        verifier="web",
        response=f"```html\n{response}\n```",
        reference={"target_html": target},
        options=options,
    )
    return WebVerifier().verify(request)


def test_the_reference_values_cover_ten_pairs_and_the_kinds_the_issue_names() -> None:
    names = sorted(p.name[: -len(".target.html")] for p in (HERE / "pairs").glob("*.target.html"))
    assert sorted(VALUES) == names and len(names) >= 10
    assert {"inline_strong", "coloured_b", "table"} <= set(names)


def test_the_reading_follows_the_preset_unless_set() -> None:
    assert WebOptions().block_reading == "dom"
    assert WebOptions(preset="design2code").block_reading == "design2code"
    assert WebOptions(preset="design2code", blocks="dom").block_reading == "dom"
    assert WebOptions(blocks="design2code").block_reading == "design2code"


def test_text_takes_the_colour_of_its_nearest_recoloured_or_styled_ancestor() -> None:
    """`extract_text_with_color`: a pool colour wins; a style's last colour otherwise."""
    tree = {
        "elements": [
            [None, None],  # body
            ["color: red; border-color: blue", None],  # a styled non-text tag
            ["color: green", "#0A0A0A"],  # a text tag: its pool colour
            ["margin: 0", None],
        ],
        "nodes": [
            ["  inside p  ", [3, 2, 0]],
            ["styled", [1, 0]],
            ["bare", [0]],
            ["   ", [0]],
        ],
    }
    assert text_colours(tree) == [
        ("inside p", "#0A0A0A"),
        ("styled", "#0000ff"),  # the last piece naming "color" (border-color), converted
        ("bare", "#000000"),
    ]
    assert not has_body("<p>no body</p>") and has_body("<html><BODY class=x>")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(VALUES))
def test_the_design2code_reading_reproduces_design2codes_scores(name: str) -> None:
    result = score(name, preset="design2code", weights=BLOCK_TERMS)
    assert result.status == "ok", result.details
    terms = result.details["terms"]
    for term, expected in VALUES[name].items():
        assert terms[term] == pytest.approx(expected, abs=TOLERANCE), (term, terms[term])
