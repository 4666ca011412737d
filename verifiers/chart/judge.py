"""From a response and a target to a verdict: extract, run, compare, mix.

`details["reason"]` says what decided: `scored` (the chart was compared; each
term's score and ChartMimic's precision/recall/F1 are in `details`), or, with reward
0, `no_code`, `too_long`, `syntax_error`, `runtime_error` (the script raised; the
line and exception are in `message`), `time_limit`, `memory_limit`, `no_figure`
(it drew nothing), `render_failed` (saving its figure raised) or `protocol` (its
process sent no well-formed result). A target that draws no chart is
`InvalidRequest`; a sandbox that cannot run is `SandboxError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardgate.verifiers.base import Verdict
from rewardgate.verifiers.chart.extract import extract_script
from rewardgate.verifiers.chart.metrics import F1, color_f1, layout_f1, text_f1, type_f1
from rewardgate.verifiers.chart.models import MAX_SCRIPT_CHARS, ChartOptions, ChartReference
from rewardgate.verifiers.chart.run import ChartRecord, execute
from rewardgate.verifiers.chart.targets import canvas_of, target_of
from rewardgate.verifiers.errors import VerifierError
from rewardgate.verifiers.evidence_images import attach_images, difference_map, wants_images
from rewardgate.verifiers.image.compare import compare, mix

__all__ = ["judge", "structure_scores", "texts"]

LOWEST = 0.0
MAX_SHOWN_TEXTS = 50


TEXT_KINDS = {"none": ("text",), "fixed": ("text", "tick"), "all": ("text", "tick", "auto")}


def texts(record: ChartRecord, tick_labels: str) -> list[str]:
    """The texts the text score compares: tick labels as `tick_labels` says."""
    kinds = TEXT_KINDS[tick_labels]
    return [text for text, kind in record.texts if kind in kinds]


def structure_scores(
    pred: ChartRecord,
    target: ChartRecord,
    tick_labels: str,
    color_reading: str = "chart_type",
    empty_sides: str = "agree",
) -> dict[str, F1]:
    """ChartMimic's four low-level scores of `pred` against `target`.

    `color_reading`: `chart_type` (rewardgate's colour record) or `chartmimic`
    (ChartMimic's own log); `empty_sides`: `agree` or `zero` (see ChartOptions).
    """
    agree = empty_sides == "agree"
    chartmimic = color_reading == "chartmimic"
    pred_colors, target_colors = (
        (pred.cm_colors, target.cm_colors) if chartmimic else (pred.colors, target.colors)
    )
    return {
        "text": text_f1(texts(pred, tick_labels), texts(target, tick_labels), agree),
        "layout": layout_f1(pred.layout, target.layout, agree),
        "type": type_f1(pred.types, target.types, agree),
        "color": color_f1(pred_colors, target_colors, agree),
    }


def judge(
    response: str,
    reference: ChartReference,
    options: ChartOptions,
    asset_dir: Path | None,
    max_image_bytes: int = 0,
) -> Verdict:
    """The verdict; with `evidence: "images"` the renders too, within `max_image_bytes`."""
    script = extract_script(response)
    if script is None:
        return Verdict(LOWEST, details={"reason": "no_code"})
    if len(script) > MAX_SCRIPT_CHARS:
        return Verdict(LOWEST, details={"reason": "too_long", "chars": len(script)})
    target = target_of(reference, options, asset_dir)
    outcome = execute(script, options)
    details: dict[str, Any] = {"run_ms": outcome.ms}
    if outcome.label != "ok" or outcome.png is None or outcome.record is None:
        details.update(reason=outcome.label, message=outcome.message)
        return Verdict(LOWEST, details=details)
    try:
        canvas = canvas_of(outcome.png, options.size)
    except ValueError as exc:  # the script's process sent an image we cannot decode
        details.update(reason="protocol", message=str(exc))
        return Verdict(LOWEST, details=details)
    pixels = compare(canvas, target.canvas, options.pixel_preset, options.pixel_weights)
    terms: dict[str, float] = {"pixels": pixels.reward}
    details["pixels"] = pixels.details()
    if target.record is not None:
        if options.color_reading == "chartmimic" and not target.record.cm_installed:
            # The target is the server's to run: its record says the sandbox's matplotlib
            # lacks ChartMimic's hooks (a response's own record could claim anything).
            raise VerifierError("ChartMimic's colour hooks do not fit the sandbox's matplotlib")
        scores = structure_scores(
            outcome.record,
            target.record,
            options.tick_labels,
            options.color_reading,
            options.empty_sides,
        )
        terms.update({name: score.f1 for name, score in scores.items()})
        details["structure"] = {name: score.as_dict() for name, score in scores.items()}
        details["drawn"] = _drawn(outcome.record, options.tick_labels, options.color_reading)
    weights = {t: w for t, w in options.active_weights().items() if t in terms}
    details.update(reason="scored", terms=terms, weights=weights)
    if wants_images(options):
        images = {
            "target": target.canvas,
            "candidate": canvas,
            "difference": difference_map(canvas, target.canvas),
        }
        attach_images(details, images, max_image_bytes)
    return Verdict(mix(terms, weights, LOWEST), details=details)


def _drawn(record: ChartRecord, tick_labels: str, color_reading: str) -> dict[str, Any]:
    """What the candidate drew, for a reader of `details` (texts capped)."""
    colors = record.cm_colors if color_reading == "chartmimic" else record.colors
    return {
        "texts": texts(record, tick_labels)[:MAX_SHOWN_TEXTS],
        "layout": [list(cell) for cell in record.layout],
        "types": dict(record.types),
        "colors": [list(pair) for pair in colors[:MAX_SHOWN_TEXTS]],
    }
