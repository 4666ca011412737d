"""The `chartmimic` preset against ChartMimic's own evaluators.

`chartmimic_reference/values.json` holds what ChartMimic's text, chart-type, layout and
colour evaluators (vendored there, Apache-2.0) compute on the pairs in
`chartmimic_reference/pairs/`; `chartmimic_reference/compute.py` is the command that
produced them (it runs each script several times with ChartMimic's logging prefixes,
minutes of CPU, and needs ChartMimic's extra packages, so the suite reads the stored
values). Every sub-score must agree within 0.02. The pairs include the cases where
rewardgate's own colour reading differs: barh vs bar, errorbar vs plot, box plots
recoloured after drawing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.chart import ChartVerifier
from rewardgate.verifiers.chart.models import ChartOptions
from rewardgate.verifiers.models import RewardRequest, RewardResult

HERE = Path(__file__).resolve().parent / "chartmimic_reference"
VALUES: dict[str, dict[str, dict[str, float]]] = json.loads((HERE / "values.json").read_text())
TOLERANCE = 0.02


def pair(name: str) -> tuple[str, str]:
    """(target, response) scripts of a pair."""
    return tuple(  # type: ignore[return-value]
        (HERE / "pairs" / f"{name}.{side}.py").read_text() for side in ("target", "response")
    )


def score(name: str, **options: Any) -> RewardResult:
    target, response = pair(name)
    request = RewardRequest(
        verifier="chart",
        response=f"```python\n{response}\n```",
        reference={"target_code": target},
        options=options,
    )
    return ChartVerifier().verify(request)


def test_the_reference_values_cover_ten_pairs_and_the_kinds_the_issue_names() -> None:
    names = sorted(p.name[: -len(".target.py")] for p in (HERE / "pairs").glob("*.target.py"))
    assert sorted(VALUES) == names and len(names) >= 10
    assert {"bar_vs_barh", "errorbar_vs_plot", "box_recoloured"} <= set(names)


def test_the_preset_fills_only_what_the_request_leaves_unset() -> None:
    preset = ChartOptions(preset="chartmimic")
    assert preset.weights == {"pixels": 0.0, "text": 1.0, "layout": 1.0, "type": 1.0, "color": 1.0}
    assert (preset.tick_labels, preset.color_reading, preset.empty_sides) == (
        "none",
        "chartmimic",
        "zero",
    )
    assert preset.pixel_preset == "default"
    own = ChartOptions(preset="chartmimic", color_reading="chart_type")
    assert own.color_reading == "chart_type" and own.tick_labels == "none"
    assert ChartOptions().color_reading == "chart_type"  # rewardgate's reading stays the default


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(VALUES))
def test_the_chartmimic_preset_reproduces_chartmimics_scores(name: str) -> None:
    result = score(name, preset="chartmimic")
    assert result.status == "ok", result.details
    structure = result.details["structure"]
    for term, expected in VALUES[name].items():
        for part in ("precision", "recall", "f1"):
            got = structure[term][part]
            assert got == pytest.approx(expected[part], abs=TOLERANCE), (term, part, got)
    mean = sum(v["f1"] for v in VALUES[name].values()) / 4
    assert result.reward == pytest.approx(mean, abs=TOLERANCE)


@pytest.mark.slow
def test_rewardgates_own_colour_reading_differs_where_the_issue_says() -> None:
    """The chart_type reading: barh is not bar; every recoloured box counts."""
    barh = score("bar_vs_barh", preset="chartmimic", color_reading="chart_type")
    assert barh.details["structure"]["color"]["f1"] == 0.0
    assert VALUES["bar_vs_barh"]["color"]["f1"] == 1.0
    boxes = score("box_recoloured", preset="chartmimic", color_reading="chart_type")
    assert boxes.details["structure"]["color"]["f1"] != pytest.approx(
        VALUES["box_recoloured"]["color"]["f1"], abs=TOLERANCE
    )


def test_the_record_carries_chartmimics_log_as_plain_checked_data() -> None:
    from rewardgate.verifiers.chart.run import parse_record

    raw: dict[str, Any] = {"texts": [], "layout": [], "types": {}, "colors": []}
    record = parse_record({**raw, "cm_colors": [["_axes.py/bar", "#FF000080"]]})
    assert record.cm_colors == (("_axes.py/bar", "#FF000080"),) and record.cm_installed
    assert not parse_record({**raw, "cm_installed": False}).cm_installed
    for bad in ({"cm_installed": "no"}, {"cm_colors": [["bar", "#FF00"]]}):
        with pytest.raises(ValueError):
            parse_record({**raw, **bad})
