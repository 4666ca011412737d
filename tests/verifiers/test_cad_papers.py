"""The `cadrille` / `cad_recode` presets' Chamfer distance against cadrille's own code.

`cadrille_reference/values.json` holds what cadrille's `evaluate.py` (vendored there,
Apache-2.0) computes on the pairs of `pairs.json`, over 20 random draws of its sampling;
`cadrille_reference/compute.py` is the command that produced it (it needs trimesh,
which the CAD runtime lacks, so the suite reads the stored values). A preset's value
must lie within the reference's own spread over the draws, or within 10 % of its mean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.verifiers.cad_support import changed_dimension, fenced, part, score

HERE = Path(__file__).resolve().parent / "cadrille_reference"
VALUES: list[dict[str, Any]] = json.loads((HERE / "values.json").read_text())


def script(spec: str) -> str:
    """A part of tests/data/cad as `compute.py` reads a spec: name, folder/name, name*factor."""
    name, _, factor = spec.partition("*")
    folder, _, stem = name.rpartition("/")
    text = part(stem, folder)
    return changed_dimension(text, float(factor)) if factor else text


def test_the_reference_values_cover_the_kinds_the_issue_names() -> None:
    pairs = json.loads((HERE / "pairs.json").read_text())
    assert len(VALUES) == len(pairs) >= 10
    assert [[v["response"], v["reference"]] for v in VALUES] == pairs
    assert any("holed/" in r for r, _ in pairs) and any("*" in r for r, _ in pairs)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["cad_recode", "cadrille"])
@pytest.mark.parametrize("row", VALUES, ids=lambda r: f"{r['response']}-vs-{r['reference']}")
def test_the_papers_presets_measure_cadrilles_chamfer_distance(
    row: dict[str, Any], preset: str
) -> None:
    reference = {"reference_code": script(row["reference"])}
    result = score(fenced(script(row["response"])), reference, preset=preset)
    assert result.status == "ok"
    assert result.details["chamfer_protocol"] == "papers"
    ours, ref = result.details["chamfer_x1000"], row["chamfer_x1000"]
    slack = max(0.10 * ref["mean"], ref["max"] - ref["min"])
    assert abs(ours - ref["mean"]) <= slack, (ours, ref)


@pytest.mark.slow
def test_identical_shapes_score_the_sampling_floor_only_under_the_papers_protocol() -> None:
    reference = {"reference_code": part("box")}
    papers = score(fenced(part("box")), reference, preset="cad_recode")
    paired = score(fenced(part("box")), reference, preset="cad_recode", chamfer_protocol="paired")
    assert papers.details["chamfer_x1000"] > 0.2  # cadrille: 0.25 for two samplings of a box
    assert paired.details["chamfer_x1000"] == pytest.approx(0.0, abs=1e-9)
    again = score(fenced(part("box")), reference, preset="cad_recode")
    assert again.details["chamfer_x1000"] == papers.details["chamfer_x1000"]  # seeded
