"""From a CadQuery response and a reference to a verdict: execute, check, score.

Three steps, each a `StepReward`: `execute` (the script ran and produced a shape),
`valid_solid` (BRepCheck passes, a solid of positive volume), `geometry` (the score in
[0, 1]). Whatever the script does is a verdict; only a sandbox or runtime failure
raises, as does the runner's own work after the script running past its time (see
`run.execute`), and a reference that cannot be read or built is `invalid`.
"""

from __future__ import annotations

import base64
import math
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.base import Verdict
from rewardgate.verifiers.cad.models import MAX_REFERENCE_BYTES, CadOptions, CadReference, Expected
from rewardgate.verifiers.cad.run import execute, reference_input
from rewardgate.verifiers.code.extract import extract_program
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.evidence_images import wants_images
from rewardgate.verifiers.models import StepReward

if TYPE_CHECKING:
    from rewardgate.sandbox.api import Backend

__all__ = ["check_expected", "judge", "reference_bytes"]

STEPS = ("execute", "valid_solid", "geometry")


def reference_bytes(value: str, field: str, asset_dir: Path | None) -> bytes:
    """A base64 or `asset:<sha256>` reference file's bytes."""
    from rewardgate.verifiers.assets import ASSET_PREFIX, AssetStore

    if value.startswith(ASSET_PREFIX):
        if asset_dir is None:
            raise InvalidRequest(f"reference.{field}: this server has no asset store")
        path = AssetStore(asset_dir, 1, 1).resolve(value)
        if path.stat().st_size > MAX_REFERENCE_BYTES:
            raise InvalidRequest(f"reference.{field}: over {MAX_REFERENCE_BYTES} bytes")
        return path.read_bytes()
    return base64.b64decode(value)


def _within(actual: float, expected: float, tolerance: float, floor: float = 0.0) -> bool:
    return abs(actual - expected) <= tolerance * max(abs(expected), floor) + 1e-9


def check_expected(
    expected: Expected, props: dict[str, Any], options: CadOptions
) -> dict[str, Any]:
    """Each parametric check: expected, actual and whether it holds."""
    tol = options.tolerances
    checks: dict[str, Any] = {}
    for name in ("volume", "area"):
        want = getattr(expected, name)
        if want is not None:
            got = props[name]
            checks[name] = {
                "expected": want,
                "actual": got,
                "ok": _within(got, want, getattr(tol, name)),
            }
    if expected.bbox is not None:
        got_box = props["bbox"]
        largest = max(expected.bbox)
        ok = all(
            _within(g, w, tol.bbox, largest) for g, w in zip(got_box, expected.bbox, strict=True)
        )
        checks["bbox"] = {"expected": list(expected.bbox), "actual": got_box, "ok": ok}
    for name in ("solids", "faces", "edges", "vertices"):
        want = getattr(expected, name)
        if want is not None:
            checks[name] = {"expected": want, "actual": props[name], "ok": props[name] == want}
    return checks


def _outcome(report: dict[str, Any]) -> tuple[str, str | None]:
    """How far the script got: (label, why it stopped there)."""
    executed = report.get("executed")
    sandbox = report["sandbox"]
    if executed is None:
        if sandbox["oom_killed"]:
            return "memory_limit", "the sandbox ran out of memory"
        if sandbox["timed_out"]:
            return "time_limit", "the sandbox's wall limit ended the run"
        return "runtime_error", "the run ended before the script finished"
    if executed["timed_out"] or executed["exit"] == -signal.SIGXCPU:
        return "time_limit", "the script ran past time_limit_s"
    if executed.get("error"):
        return "error", str(executed["error"])
    if executed["exit"] != 0:
        if executed["exit"] == -signal.SIGKILL and sandbox["oom_killed"]:
            return "memory_limit", "the script ran out of memory"
        return "runtime_error", f"the script's process ended with status {executed['exit']}"
    if "no_shape" in report:
        return "no_shape", str(report["no_shape"])
    if not report["candidate"]["valid_solid"]:
        return "invalid_solid", "the shape is not a valid solid (BRepCheck, solids, volume)"
    return "valid_solid", None


def judge(
    response: str,
    ref: CadReference,
    options: CadOptions,
    runtime: Path,
    asset_dir: Path | None,
    backend: Backend,
    max_image_bytes: int = 0,
) -> Verdict:
    """The verdict; with `evidence: "images"` the parts' views too, within `max_image_bytes`."""
    script = extract_program(response, "python")
    reference: tuple[str, bytes] | None = None
    if ref.geometry is not None:
        fmt, value = ref.geometry
        if fmt == "code":
            reference = reference_input(value, options, runtime, backend)
        else:
            reference = (fmt, reference_bytes(value, f"reference_{fmt}", asset_dir))
    report = execute("score", script, options, runtime, backend, reference)
    if "reference_error" in report:
        raise InvalidRequest(f"reference: {report['reference_error']}")
    label, why = _outcome(report)
    weights = options.weights(ref.geometry is not None)
    details: dict[str, Any] = {
        "outcome": label,
        "script_chars": len(script),
        "preset": options.preset,
        "weights": weights,
        "normalize": options.normalize,
        "samples": options.samples,
        "seed": options.seed,
        "chamfer_protocol": options.chamfer_protocol,
    }
    if why:
        details["why"] = why[-2000:]
    executed = report.get("executed") or {}
    for key in ("result_name", "output_tail"):
        if executed.get(key):
            details[key] = executed[key]
    for key in ("candidate", "reference"):
        if key in report:
            details[key] = report[key]
    ran = label not in {"memory_limit", "time_limit", "runtime_error", "error", "no_shape"}
    score = 0.0
    if label == "valid_solid":
        parts: dict[str, float] = {}
        if "iou" in weights or "chamfer" in weights:
            metrics = report.get("metrics")
            if metrics is None:  # OCC failed on the script's shape: its verdict
                label = details["outcome"] = "compare_failed"
                details["why"] = str(report["compare_error"])
            else:
                details.update(metrics)
                parts["iou"] = metrics["iou"]
                parts["chamfer"] = math.exp(-options.chamfer_k * metrics["chamfer"])
        if ref.expected is not None:
            checks = check_expected(ref.expected, report["candidate"], options)
            details["params"] = checks
            parts["params"] = sum(c["ok"] for c in checks.values()) / max(len(checks), 1)
        if label == "valid_solid":
            score = sum(w * parts[name] for name, w in weights.items())
            details["scores"] = parts
    valid = label == "valid_solid"
    details["score"] = score
    reward = options.scale * score if valid else options.invalid_reward
    steps = [
        StepReward(index=0, reward=float(ran), label=STEPS[0], details={"outcome": label}),
        StepReward(index=1, reward=float(valid or label == "compare_failed"), label=STEPS[1]),
        StepReward(index=2, reward=score, label=STEPS[2]),
    ]
    if wants_images(options) and ("views" in report or "views_error" in report):
        from rewardgate.verifiers.cad.evidence import attach_views

        attach_views(details, report, max_image_bytes)
    return Verdict(reward=reward, steps=steps, details=details)
