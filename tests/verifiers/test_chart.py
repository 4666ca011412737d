"""The chart verifier on ten plotting scripts: identical code pays, each change costs.

Every script in tests/data/chart runs in the real sandbox (bwrap, Debian's
python3-matplotlib). Identical code must score at least 0.999; a changed colour,
chart type, label or layout must lower the reward and the sub-score that measures it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.chart import ChartVerifier
from rewardgate.verifiers.chart.models import ChartOptions
from rewardgate.verifiers.chart.run import execute
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult

DATA = Path(__file__).resolve().parent.parent / "data" / "chart"
SCRIPTS = sorted(p.stem for p in DATA.glob("*.py"))


@cache
def script(name: str) -> str:
    return (DATA / f"{name}.py").read_text()


def score(
    response: str, reference: dict[str, Any], options: dict[str, Any] | None = None
) -> RewardResult:
    request = RewardRequest(
        verifier="chart", response=response, reference=reference, options=options or {}
    )
    return ChartVerifier().verify(request)


def fenced(code: str) -> str:
    return f"Here is the code:\n```python\n{code}\n```\n"


def test_there_are_ten_scripts() -> None:
    assert len(SCRIPTS) == 10


@pytest.mark.parametrize("name", SCRIPTS)
def test_identical_code_scores_at_least_0999(name: str) -> None:
    result = score(fenced(script(name)), {"target_code": script(name)})
    assert result.status == "ok"
    assert result.details["reason"] == "scored", result.details
    assert result.reward >= 0.999
    assert set(result.details["terms"]) == {"pixels", "text", "layout", "type", "color"}
    assert all(v >= 0.999 for v in result.details["terms"].values())


# (script, text replaced, replacement, the term that must drop)
CHANGES = {
    "line-colour": ("line", 'color="#1F77B4"', 'color="#D62728"', "color"),
    "hist-colour": ("hist", 'color="#64B5CD"', 'color="#2CA02C"', "color"),
    "pie-colours": ("pie", '"#8172B3", "#937860"', '"#000000", "#444444"', "color"),
    "heatmap-colormap": ("heatmap", 'cmap="viridis"', 'cmap="magma"', "color"),
    "bar-to-barh": ("bar", "ax.bar(", "ax.barh(", "type"),
    "area-line-to-scatter": ("area", "ax.plot(months", "ax.scatter(months", "type"),
    "scatter-drops-a-line": ("scatter", 'ax.axvline(0, color="gray", linewidth=1)\n', "", "type"),
    "line-title": ("line", "Revenue and costs, 2010-2020", "Income and spending", "text"),
    "pie-labels": ("pie", '"Housing", "Food"', '"Rent", "Groceries"', "text"),
    "barh-annotations": ("barh", 'f"{value}%"', 'f"{value}"', "text"),
    "bar-categories": ("bar", '"Alpha", "Beta"', '"A", "B"', "text"),
    "heatmap-row-labels": ("heatmap", '"Mon", "Tue"', '"Monday", "Tuesday"', "text"),
    "box-violin-stacked": ("box_violin", "plt.subplots(1, 2,", "plt.subplots(2, 1,", "layout"),
    "grid-three-columns": ("grid", "plt.subplots(2, 2,", "plt.subplots(2, 3,", "layout"),
}


@pytest.mark.parametrize(("name", "old", "new", "term"), CHANGES.values(), ids=CHANGES.keys())
def test_a_change_lowers_the_reward_and_its_sub_score(
    name: str, old: str, new: str, term: str
) -> None:
    target = script(name)
    assert old in target
    changed = score(fenced(target.replace(old, new)), {"target_code": target})
    assert changed.status == "ok"
    assert changed.details["reason"] == "scored", changed.details
    assert changed.details["terms"][term] < 0.999
    assert changed.reward < 0.999
    assert changed.details["structure"][term]["f1"] == changed.details["terms"][term]


# Chart kinds beyond the ten, and the types the instrumentation must see in each.
MORE_KINDS = {
    "polar": {"polar.plot": 1, "fill": 1},
    "three_d": {"3d.plot_surface": 1, "3d.scatter": 1, "3d.bar3d": 1},
    "gridspec_mix": {"errorbar": 1, "contourf": 1, "quiver": 1, "hexbin": 1, "pie": 1},
    "mosaic": {"pcolormesh": 1, "broken_barh": 1, "vlines": 1, "axhspan": 1, "hlines": 1},
    "styled": {"plot": 2},
}


@pytest.mark.parametrize(("name", "types"), MORE_KINDS.items(), ids=MORE_KINDS.keys())
def test_more_chart_kinds_are_recorded_and_reproduced(name: str, types: dict[str, int]) -> None:
    code = (DATA / "more" / f"{name}.py").read_text()
    outcome = execute(code, ChartOptions())
    assert outcome.record is not None, outcome
    assert types.items() <= outcome.record.types.items()
    result = score(code, {"target_code": code})
    assert result.reward >= 0.999, result.details


LINE = script("line")
SAVED_AND_CLOSED = LINE + "\nplt.close('all')\n"
SAVED_AND_CLEARED = LINE + "\nplt.clf()\nplt.plot([1, 2], [2, 1])\n"
SHOWN = LINE.replace('plt.savefig("line.pdf")', "plt.show()")
SECOND_FIGURE = LINE + "\nplt.figure()\nplt.plot([1, 2], [2, 1])\n"
NOT_SAVED = LINE.replace('plt.savefig("line.pdf")', "")
BACKEND_ASKED = "import matplotlib\nmatplotlib.use('TkAgg')\n" + LINE
EXITS_CLEANLY = LINE + "\nimport sys\nsys.exit(0)\n"


@pytest.mark.parametrize(
    "response",
    [
        SAVED_AND_CLOSED,
        SAVED_AND_CLEARED,
        SHOWN,
        SECOND_FIGURE,
        NOT_SAVED,
        BACKEND_ASKED,
        EXITS_CLEANLY,
        LINE,
    ],
    ids=[
        "saved-then-closed",
        "saved-then-cleared",
        "shown",
        "second-figure-unsaved",
        "never-saved",
        "asks-for-tkagg",
        "sys-exit-0",
        "no-fence",
    ],
)
def test_the_harness_saves_the_scripts_figure(response: str) -> None:
    result = score(response, {"target_code": LINE})
    assert result.details["reason"] == "scored", result.details
    assert result.reward >= 0.999


@pytest.mark.parametrize(
    ("tick_labels", "categories", "numbers"),
    [("fixed", True, False), ("none", False, False), ("all", True, True)],
    ids=["fixed", "none-as-chartmimic", "all"],
)
def test_which_tick_labels_count_as_text(tick_labels: str, categories: bool, numbers: bool) -> None:
    """Renamed categories and rescaled data (other numbers on the value axis)."""
    bar = script("bar")
    renamed = bar.replace('"Alpha", "Beta"', '"A", "B"')
    rescaled = bar.replace("ax.set_ylim(0, 100)", "ax.set_ylim(0, 120)")
    options = {"tick_labels": tick_labels}
    for response, counted in ((renamed, categories), (rescaled, numbers)):
        result = score(response, {"target_code": bar}, options)
        assert (result.details["terms"]["text"] < 1.0) == counted, result.details["structure"]


def test_unseeded_random_data_is_the_same_in_both_runs() -> None:
    code = (
        "import numpy as np, random\nimport matplotlib.pyplot as plt\n"
        "plt.scatter(np.random.rand(50), np.random.rand(50), s=[random.random() * 90 for _ in"
        " range(50)])\n"
    )
    assert score(code, {"target_code": code}).reward >= 0.999


@pytest.mark.parametrize(
    ("response", "reason", "message"),
    [
        ("```python\n\n```", "no_code", None),
        ("I would draw a bar chart.", "syntax_error", "SyntaxError"),
        (
            "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nraise ValueError('boom')",
            "runtime_error",
            "line 3: ValueError: boom",
        ),
        ("x = 1 + 1", "no_figure", None),
        (
            "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nimport sys\nsys.exit(3)",
            "runtime_error",
            "SystemExit: 3",
        ),
        ("import numpy\nnumpy.zeros((1 << 40,), dtype=numpy.uint8)", "memory_limit", None),
        (
            "import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(0, 0))\n",
            "render_failed",
            None,
        ),
    ],
    ids=["blank-block", "prose", "raises", "draws-nothing", "exits-3", "huge-array", "no-area"],
)
def test_a_failed_script_is_a_verdict_of_zero(
    response: str, reason: str, message: str | None
) -> None:
    result = score(response, {"target_code": LINE})
    assert result.status == "ok"
    assert result.reward == 0.0
    assert result.details["reason"] == reason, result.details
    if message is not None:
        assert message in result.details["message"]


@cache
def line_png() -> str:
    outcome = execute(LINE, ChartOptions())
    assert outcome.png is not None
    return base64.b64encode(outcome.png).decode()


def test_an_image_target_is_scored_by_pixels_alone() -> None:
    same = score(LINE, {"target_png": line_png()})
    assert same.reward >= 0.999
    assert set(same.details["terms"]) == {"pixels"}
    assert "structure" not in same.details
    other = score(script("bar"), {"target_png": line_png()})
    assert other.reward < 0.9


def test_weights_choose_the_terms() -> None:
    changed = LINE.replace("Revenue and costs, 2010-2020", "Something else")
    text_only = score(changed, {"target_code": LINE}, {"weights": {"text": 1}})
    assert text_only.reward == pytest.approx(text_only.details["terms"]["text"])
    assert text_only.details["weights"] == {"text": 1.0}
    starvector = score(LINE, {"target_code": LINE}, {"preset": "starvector"})
    assert set(starvector.details["pixels"]["weights"]) == {"ssim", "mse"}


@pytest.mark.parametrize(
    ("reference", "options", "field"),
    [
        ({}, {}, "reference"),
        ({"target_code": LINE, "target_png": "aGVsbG8="}, {}, "reference"),
        ({"target_png": "not base64 !"}, {}, "reference.target_png"),
        ({"target_png": base64.b64encode(b"hello").decode()}, {}, "reference.target_png"),
        ({"target_png": "asset:" + "0" * 64}, {}, "reference.target_png"),
        ({"target_code": LINE}, {"weights": {"pixels": 0, "text": 0}}, "options"),
        ({"target_code": LINE}, {"weights": {"shape": 1}}, "options.weights"),
        ({"target_code": LINE}, {"pixel_weights": {"dreamsim": 1}}, "options"),
        ({"target_code": LINE}, {"preset": "rlrf"}, "options.preset"),
        ({"target_code": LINE}, {"figsize": [0, 3]}, "options"),
        ({"target_code": LINE}, {"backend": "vm"}, "options.backend"),
    ],
    ids=[
        "no-target",
        "two-targets",
        "png-not-base64",
        "png-not-an-image",
        "asset-without-store",
        "all-weights-zero",
        "unknown-term",
        "unknown-pixel-metric",
        "preset-needing-length",
        "no-area",
        "unknown-backend",
    ],
)
def test_a_malformed_request_is_invalid(
    reference: dict[str, Any], options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(field)):
        ChartVerifier().prepare(reference, options)


def test_the_servers_docker_settings_are_used(verifier_engine: Callable[..., Any]) -> None:
    """The docker image the server names is the one chart scripts run in: a missing one
    is an error (never a 0), and health says so for the default backend."""
    from rewardgate.verifiers.base import VerifierEnv

    config = {"sandbox_backend": "docker", "docker_sandbox": {"image": "rg/none:never"}}
    engine = verifier_engine(ChartVerifier, env=VerifierEnv(config=config), workers=1)
    item = {
        "verifier": "chart",
        "response": f"```python\n{LINE}```",
        "reference": {"target_code": LINE},
    }
    [down, on_bwrap] = engine.score([item, {**item, "options": {"backend": "bwrap"}}])
    assert (down.status, down.reward) == ("error", 0.0), down
    assert "rg/none:never" in (down.error or "")
    assert (on_bwrap.status, on_bwrap.reward) == ("ok", 1.0), on_bwrap
    health = ChartVerifier(VerifierEnv(config=config)).health()
    assert "missing" in health["docker_image"], health


def test_structure_weights_need_target_code() -> None:
    with pytest.raises(InvalidRequest, match="target_code"):
        ChartVerifier().prepare({"target_png": line_png()}, {"weights": {"text": 1}})


@pytest.mark.parametrize(
    "target",
    ["raise RuntimeError('no')", "x = 1", "import matplotlib.pyplot as plt\nwhile True: pass"],
    ids=["raises", "draws-nothing", "loops"],
)
def test_a_target_that_draws_no_chart_is_invalid(target: str) -> None:
    with pytest.raises(InvalidRequest, match=r"reference\.target_code"):
        score(LINE, {"target_code": target}, {"time_limit_s": 2})


def test_through_the_engine(verifier_engine: Callable[..., Any]) -> None:
    engine = verifier_engine(ChartVerifier, workers=1)
    items = [
        {"verifier": "chart", "response": fenced(LINE), "reference": {"target_code": LINE}},
        {
            "verifier": "chart",
            "response": "raise SystemExit(2)",
            "reference": {"target_code": LINE},
        },
        {"verifier": "chart", "response": LINE, "reference": {}},
    ]
    same, crash, invalid = engine.score(items)
    assert (same.status, crash.status, invalid.status) == ("ok", "ok", "invalid")
    assert same.reward >= 0.999
    assert crash.reward == 0.0 and crash.details["reason"] == "runtime_error"


def test_a_cold_sandbox_draws_the_same_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the warm path the runner starts matplotlib itself (its config dir in the
    work dir): same record, same pixels."""
    from rewardgate.sandbox import BwrapBackend
    from rewardgate.verifiers.chart import run

    warm = execute(LINE, ChartOptions())
    cold_backend = BwrapBackend(warm=False)
    monkeypatch.setattr(run, "_backend", lambda name: cold_backend)
    cold = execute(LINE, ChartOptions())
    assert cold.label == "ok", cold
    assert cold.record == warm.record
    assert cold.png == warm.png
    crashed = execute("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", ChartOptions())
    assert crashed.label == "runtime_error"  # a cold runner is not its namespace's init
