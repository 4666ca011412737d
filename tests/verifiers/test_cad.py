"""The `cad` verifier on its reference parts, in the real sandbox with real CadQuery.

The parts in tests/data/cad cover boxes, holes, fillets, chamfers, shells, lofts,
revolves, sweeps and a twisted extrusion; alt/ holds the same solids built by other
operations, holed/ the same parts off by a hole.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.assets import AssetStore
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.cad import CadVerifier
from rewardgate.verifiers.errors import (
    InvalidRequest,
    NotFound,
    SandboxError,
    VerifierError,
    VerifierTimeout,
)
from tests.verifiers.cad_support import (
    ALTERNATIVES,
    BACKENDS,
    HOLED,
    IMAGE,
    PARTS,
    VERIFIER,
    changed_dimension,
    data_file,
    fenced,
    part,
    score,
)

BOX = "import cadquery as cq\nresult = cq.Workplane('XY').box(10, 20, 30)\n"
BOX_REF = {"reference_code": BOX}
HALF_SPACE = """
import cadquery as cq
from OCP.BRepPrimAPI import BRepPrimAPI_MakeHalfSpace
from OCP.gp import gp_Pnt
face = cq.Workplane().rect(10, 10).extrude(1).faces(">Z").val().wrapped
result = cq.Shape.cast(BRepPrimAPI_MakeHalfSpace(face, gp_Pnt(0, 0, -5)).Solid())
"""


def test_there_are_twenty_parts_or_more() -> None:
    assert len(PARTS) >= 20
    assert set(ALTERNATIVES) <= set(PARTS) and set(HOLED) <= set(PARTS)


@pytest.mark.parametrize("name", PARTS)
def test_a_part_scored_against_itself_is_perfect(name: str) -> None:
    result = score(fenced(part(name)), {"reference_code": part(name)})
    assert result.status == "ok"
    assert result.details["iou"] == pytest.approx(1.0, abs=1e-9)
    assert result.details["iou_method"] == "brep"
    assert result.details["chamfer_x1000"] == pytest.approx(0.0, abs=1e-9)
    assert result.reward == pytest.approx(1.0, abs=1e-9)
    assert [(s.label, s.reward) for s in result.steps or []] == [
        ("execute", 1.0),
        ("valid_solid", 1.0),
        ("geometry", result.reward),
    ]
    assert result.details["candidate"]["valid_solid"] is True


@pytest.mark.parametrize("name", ALTERNATIVES)
def test_the_same_solid_built_another_way_scores_as_the_same(name: str) -> None:
    result = score(fenced(part(name, "alt")), {"reference_code": part(name)})
    assert result.details["iou"] >= 0.999
    assert result.details["chamfer_x1000"] < 1.0  # sampling noise only


@pytest.mark.parametrize("name", PARTS)
def test_a_ten_percent_longer_part_scores_lower(name: str) -> None:
    result = score(fenced(changed_dimension(part(name))), {"reference_code": part(name)})
    assert result.status == "ok"
    assert 0.2 < result.reward < 0.99


def test_a_boolean_that_fails_silently_falls_back_to_ray_casting() -> None:
    # OCC's common of these coaxial tori is empty and its fuse drops one of them.
    result = score(fenced(changed_dimension(part("torus"), 0.9)), {"reference_code": part("torus")})
    assert result.details["iou_method"] == "mesh"
    assert 0.8 < result.reward < 0.95


def test_a_reference_larger_than_a_pipe_buffer() -> None:
    from rewardgate.sandbox import get_backend
    from rewardgate.verifiers.cad.run import reference_brep

    # A wavy disc through 300 spline points: ~95 KB of BREP in three faces, so the
    # analysis stays quick (a plate with a hundred holes is as large and takes minutes).
    wavy = (
        "import math\n"
        "import cadquery as cq\n"
        "angles = [2 * math.pi * k / 300 for k in range(300)]\n"
        "points = [(40 * math.cos(a) * (1 + 0.05 * math.sin(7 * a)),\n"
        "           40 * math.sin(a) * (1 + 0.05 * math.sin(7 * a))) for a in angles]\n"
        "result = cq.Workplane().spline(points, periodic=True).close().extrude(4)\n"
    )
    options = VERIFIER.Options.model_validate({})
    backend = get_backend("bwrap")
    assert len(reference_brep(wavy, options, VERIFIER.runtime, backend)) > 65536  # pipe: 64 KiB
    assert score(fenced(wavy), {"reference_code": wavy}).reward == pytest.approx(1.0)


@pytest.mark.parametrize("name", HOLED)
def test_a_part_off_by_a_hole_scores_lower(name: str) -> None:
    result = score(fenced(part(name, "holed")), {"reference_code": part(name)})
    assert 0.9 < result.reward < 0.9999


MOVED = "\nresult = result.val().scale(2.5).translate(cq.Vector(30, -12, 7))\n"


@pytest.mark.parametrize("name", PARTS)
def test_a_moved_and_scaled_copy_scores_high_only_when_normalised(name: str) -> None:
    reference = {"reference_code": part(name)}
    copy = fenced(part(name) + MOVED)
    normalised = score(copy, reference)
    absolute = score(copy, reference, normalize=False)
    assert normalised.reward >= 0.99
    assert absolute.reward < 0.5
    assert absolute.details["chamfer_x1000"] > normalised.details["chamfer_x1000"]


@pytest.mark.parametrize(
    ("script", "result_name"),
    [
        ("import cadquery as cq\nresult = cq.Workplane().box(10, 20, 30)", "result"),
        ("import cadquery as cq\nr = cq.Workplane().box(10, 20, 30)", "r"),
        ("import cadquery as cq\nshow_object(cq.Workplane().box(10, 20, 30))", "show_object"),
        ("import cadquery as cq\nresult = cq.Workplane().box(10, 20, 30).val()", "result"),
        ("import cadquery as cq\nresult = cq.Solid.makeBox(10, 20, 30, cq.Vector(-5, -10, -15))",
         "result"),
        ("import cadquery as cq\nresult = cq.Assembly().add(cq.Workplane().box(10, 20, 30))",
         "result"),
        ("import cadquery as cq\nr = cq.Workplane().box(1, 1, 1)\nresult = cq.Workplane()"
         ".box(10, 20, 30)", "result"),
    ],
    ids=["result", "r", "show_object", "shape", "solid", "assembly", "result-before-r"],
)  # fmt: skip
def test_the_result_conventions(script: str, result_name: str) -> None:
    result = score(fenced(script), BOX_REF)
    assert result.details["result_name"] == result_name
    assert result.reward == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("script", "outcome", "why"),
    [
        ("import cadquery as cq\nbox = cq.Workplane().box(10, 20, 30)", "error", "sets no"),
        ("result = 42", "error", "not a CadQuery shape"),
        ("import cadquery as cq\nresult = cq.Workplane()", "error", "holds no shape"),
        ("result = (", "error", "SyntaxError"),
        ("import cadquery as cq\nresult = cq.Workplane().box(1, 1, 1).fillet(5)", "error", ""),
        ("raise ValueError('no part today')", "error", "no part today"),
        ("import cadquery as cq\nresult = cq.Workplane().rect(10, 10)", "invalid_solid", ""),
        ("import cadquery as cq\nresult = cq.Workplane().box(10, 10, 10).faces('>Z')",
         "invalid_solid", ""),
        ("import cadquery as cq\nresult = cq.Workplane().sphere(1e-9)", "invalid_solid", ""),
        (HALF_SPACE, "invalid_solid", ""),
        ("import os\nos._exit(0)", "no_shape", "no result shape"),
        ("import os\nos._exit(3)", "runtime_error", "status 3"),
    ],
    ids=["no-result", "not-a-shape", "empty-workplane", "syntax-error", "failed-fillet",
         "exception", "a-wire", "a-face", "a-speck", "a-half-space", "exits-early",
         "exits-with-status"],
)  # fmt: skip
def test_output_without_a_valid_solid_scores_the_lowest(
    script: str, outcome: str, why: str
) -> None:
    result = score(fenced(script), BOX_REF)
    assert result.status == "ok"
    assert result.reward == 0.0
    assert result.details["outcome"] == outcome
    assert why in result.details.get("why", "")
    assert [s.reward for s in result.steps or []][1:] == [0.0, 0.0]


def test_the_last_python_block_is_the_script() -> None:
    response = (
        "```python\nresult = 1\n```\nBetter:\n```python\nimport cadquery as cq\n"
        "result = cq.Workplane().box(10, 20, 30)\n```"
    )
    assert score(response, BOX_REF).reward == pytest.approx(1.0)


def test_cadrille_preset_pays_ten_times_iou_and_minus_ten_when_invalid() -> None:
    good = score(fenced(part("box", "holed")), {"reference_code": part("box")}, preset="cadrille")
    assert good.reward == pytest.approx(10 * good.details["iou"])
    bad = score(fenced("result = None"), BOX_REF, preset="cadrille")
    assert bad.reward == -10.0
    assert (
        VERIFIER.lowest_reward_for(VERIFIER.Options.model_validate({"preset": "cadrille"})) == -10
    )


def test_cad_recode_preset_is_the_papers_protocol() -> None:
    result = score(
        fenced(part("box", "holed")), {"reference_code": part("box")}, preset="cad_recode"
    )
    assert result.reward == pytest.approx(result.details["iou"])
    assert result.details["samples"] == 8192 and result.details["normalize"] is True


def test_chamfer_preset_decays_with_the_chamfer_distance() -> None:
    reference = {"reference_code": part("box")}
    near = score(fenced(part("box", "alt")), reference, preset="chamfer")
    far = score(fenced(changed_dimension(part("box"), 1.3)), reference, preset="chamfer")
    for result in (near, far):
        assert result.reward == pytest.approx(math.exp(-100 * result.details["chamfer"]))
    assert far.reward < near.reward < 1.0
    assert near.reward > 0.95


EXPECTED = {"volume": 6000.0, "bbox": [10.0, 20.0, 30.0], "faces": 6, "edges": 12, "solids": 1}


@pytest.mark.parametrize(
    ("script", "passed"),
    [
        ("result = cq.Workplane().box(10, 20, 30)", 5),
        ("result = cq.Workplane().box(10.05, 20, 30)", 5),  # within 1 %
        ("result = cq.Workplane().box(10, 20, 33)", 3),  # volume and bbox off
        ("result = cq.Workplane().box(10, 20, 30).edges('|Z').fillet(1)", 3),  # volume ok-ish?
    ],
    ids=["exact", "within-tolerance", "taller", "filleted"],
)
def test_parametric_checks_alone(script: str, passed: int) -> None:
    result = score(fenced("import cadquery as cq\n" + script), {"expected": EXPECTED})
    checks = result.details["params"]
    assert sum(c["ok"] for c in checks.values()) == passed, checks
    assert result.reward == pytest.approx(passed / len(EXPECTED))
    assert "iou" not in result.details  # nothing to compare with


def test_metric_weights_mix_iou_and_parametric_checks() -> None:
    reference = {"reference_code": part("box"), "expected": {"volume": 24000.0, "faces": 7}}
    result = score(
        fenced(part("box", "holed")), reference, metric={"iou": 3, "params": 1}
    )  # the holed box: 7 faces, less volume
    parts = result.details["scores"]
    assert parts["params"] == 0.5
    assert result.reward == pytest.approx(0.75 * parts["iou"] + 0.25 * 0.5)


def test_step_reference() -> None:
    result = score(fenced(part("flange")), {"reference_step": data_file("flange.step")})
    assert result.details["iou_method"] == "brep"
    assert result.reward == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", ["l_bracket", "cylinder"])
def test_stl_reference_is_compared_by_ray_casting(name: str) -> None:
    result = score(fenced(part(name)), {"reference_stl": data_file(f"{name}.stl")})
    assert result.details["iou_method"] == "mesh"
    assert result.reward >= 0.99
    holed = score(
        fenced(changed_dimension(part(name))), {"reference_stl": data_file(f"{name}.stl")}
    )
    assert holed.reward < 0.95


def test_asset_references(tmp_path: Path) -> None:
    store = AssetStore(tmp_path, 1 << 30, 1 << 30)
    with store.writer() as writer:
        writer.write(
            Path(__file__).parent.parent.joinpath("data/cad/files/flange.step").read_bytes()
        )
        sha = writer.commit()
    verifier = CadVerifier(VerifierEnv(asset_dir=tmp_path))
    result = score(fenced(part("flange")), {"reference_step": f"asset:{sha}"}, verifier)
    assert result.reward == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(NotFound):
        score(fenced(part("flange")), {"reference_step": "asset:" + "0" * 64}, verifier)


@pytest.mark.parametrize(
    ("reference", "options", "message"),
    [
        ({}, {}, "needs reference_code"),
        ({"reference_code": BOX, "reference_stl": "AAAA"}, {}, "not reference_code and"),
        ({"reference_step": "not base64!"}, {}, "neither base64"),
        ({"reference_code": BOX}, {"metric": "params"}, "params needs reference.expected"),
        ({"expected": {"faces": 6}}, {"metric": "iou"}, "need a reference geometry"),
        ({"reference_code": BOX}, {"metric": {"iou": -1}}, "weights"),
        ({"reference_code": BOX}, {"samples": 10}, "samples"),
        ({"reference_code": BOX}, {"preset": "nope"}, "preset"),
        ({"expected": {"bbox": [1, -2, 3]}}, {}, "bbox"),
        ({"reference_code": BOX, "extra": 1}, {}, "extra"),
        ({"reference_code": BOX}, {"backend": "vm"}, "available: bwrap, docker"),
    ],
    ids=["empty", "two-geometries", "bad-base64", "params-without-expected",
         "iou-without-geometry", "negative-weight", "too-few-samples", "unknown-preset",
         "negative-bbox", "unknown-field", "unknown-backend"],
)  # fmt: skip
def test_malformed_requests_are_invalid(
    reference: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        VERIFIER.prepare(reference, options)


@pytest.mark.parametrize(
    ("reference_code", "message"),
    [
        ("result = None", "not a CadQuery shape"),
        ("import cadquery as cq\nresult = cq.Workplane().rect(3, 3)", "not build a valid solid"),
        ("while True:\n    pass", "did not finish"),
    ],
    ids=["not-a-shape", "not-a-solid", "never-ends"],
)
def test_a_broken_reference_script_is_invalid(reference_code: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        score(fenced(BOX), {"reference_code": reference_code}, time_limit_s=2)


def test_the_same_request_gives_the_same_numbers() -> None:
    reference = {"reference_code": part("revolved_profile")}
    response = fenced(changed_dimension(part("revolved_profile")))
    first, second = score(response, reference), score(response, reference)
    assert first.details == second.details and first.reward == second.reward
    other_seed = score(response, reference, seed=7)
    assert other_seed.details["chamfer"] != first.details["chamfer"]
    assert other_seed.details["iou"] == first.details["iou"]  # exact booleans: no sampling


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_runner_works_in_a_cold_sandbox_too(backend: str) -> None:
    """Warm runs fork from a zygote that preloaded CadQuery; a cold one imports it."""
    import json

    from rewardgate.sandbox.api import Limits
    from rewardgate.sandbox.bwrap import BwrapBackend
    from rewardgate.sandbox.docker import DockerBackend
    from rewardgate.verifiers.cad.run import runner_entry, runtime_mounts

    job = {"kind": "score", "time_limit_s": 20, "analysis_s": 60, "memory_mb": 1024,
           "normalize": True, "samples": 512, "seed": 0, "reference_format": None}  # fmt: skip
    cold = BwrapBackend(warm=False) if backend == "bwrap" else DockerBackend(IMAGE, warm=False)
    try:
        result = cold.run_python(
            runner_entry(),
            {"job.json": json.dumps(job), "script.py": BOX},
            b"",
            Limits(wall_s=60, cpu_s=60, memory_mb=2048, open_files=256),
            channel=True,
            mounts=runtime_mounts(backend, VERIFIER.runtime),
        )
    finally:
        if isinstance(cold, DockerBackend):
            cold.close()
    report = {
        k: v for line in (result.channel or b"").splitlines() for k, v in json.loads(line).items()
    }
    assert report["candidate"]["volume"] == pytest.approx(6000.0)
    assert report["executed"]["exit"] == 0 and "done" in report


def test_health_reports_the_cad_runtime(tmp_path: Path) -> None:
    assert VERIFIER.health()["cad_runtime"] == "ok"
    missing = CadVerifier(VerifierEnv(config={"cad_runtime": tmp_path}))
    assert "install-cad.sh" in missing.health()["cad_runtime"]


def test_through_the_engine(verifier_engine: Any) -> None:
    engine = verifier_engine(CadVerifier)
    items = [
        {
            "verifier": "cad",
            "response": fenced(part("torus")),
            "reference": {"reference_code": part("torus")},
        },
        {"verifier": "cad", "response": "no code", "reference": {"reference_code": part("torus")}},
        {"verifier": "cad", "response": fenced(BOX), "reference": {"reference_code": "result = 1"}},
        {"verifier": "cad", "response": fenced(BOX), "reference": {}},
    ]
    good, bad, broken_reference, malformed = engine.score(items)
    assert (good.status, good.reward) == ("ok", pytest.approx(1.0))
    assert (bad.status, bad.reward) == ("ok", 0.0)
    assert broken_reference.status == "invalid"
    assert malformed.status == "invalid"


# -- what ends a run: the script's verdict, or the service's failure -----------------

LINES: dict[str, list[dict[str, Any]]] = {
    "nothing": [],
    "started": [{"runner": "started"}],
    "running": [{"runner": "started"}, {"script": "started"}],
    "executed": [{"runner": "started"}, {"script": "started"}, {"executed": {"exit": 0}}],
}


@pytest.mark.parametrize(
    ("lines", "extra", "flags", "raised"),
    [
        ("running", [], {"exit_code": -9}, None),
        ("running", [], {"exit_code": -9, "oom_killed": True}, None),
        ("running", [], {"exit_code": -9, "timed_out": True}, None),
        (None, [], {"exit_code": -9, "details": {"launcher": "killed by the program"}}, None),
        ("executed", [{"no_shape": "no result shape was written"}, {"done": True}], {}, None),
        ("started", [], {"exit_code": -9, "timed_out": True}, VerifierTimeout),
        ("started", [], {"exit_code": -9}, SandboxError),
        ("started", [{"runtime_missing": "ImportError"}, {"done": True}], {}, VerifierError),
        ("nothing", [], {"exit_code": 1}, SandboxError),
        ("executed", [{"analysis_timeout": 60}, {"done": True}], {}, VerifierTimeout),
        ("executed", [{"analysis_failed": "status -11"}, {"done": True}], {}, VerifierError),
        ("executed", [{"internal_error": "Traceback"}, {"done": True}], {}, VerifierError),
        ("executed", [{"candidate": {}}], {"exit_code": -9, "timed_out": True}, VerifierTimeout),
        ("executed", [], {"exit_code": -9, "oom_killed": True}, VerifierError),
    ],
    ids=["script-killed-the-runner", "script-ran-out-of-memory", "script-stopped-the-runner",
         "script-killed-the-docker-launcher", "script-left-no-shape", "slow-runner-start",
         "runner-died-before-the-script", "runtime-missing", "runner-never-started",
         "analysis-past-its-time", "analysis-crashed", "runner-bug",
         "wall-after-the-script", "out-of-memory-after-the-script"],
)  # fmt: skip
def test_a_run_that_ends_outside_the_script_is_the_services_failure(
    lines: str | None,
    extra: list[dict[str, Any]],
    flags: dict[str, Any],
    raised: type[Exception] | None,
) -> None:
    """Between the runner's `script` and `executed` lines only the script runs: what
    ends a run there is its verdict; before or after, the service's (error/timeout)."""
    import json

    from rewardgate.sandbox.api import ExecResult
    from rewardgate.verifiers.cad.run import raise_for_service_failure

    sent = [*LINES[lines], *extra] if lines is not None else []
    channel = b"".join(json.dumps(line).encode() + b"\n" for line in sent)
    result = ExecResult(**{"exit_code": 0, "stdout": b"", "stderr": b"", "wall_ms": 0.0,
                           "cpu_ms": 0.0, "max_rss_kb": 0,
                           "channel": channel if lines is not None else None, **flags})  # fmt: skip
    report = {k: v for line in sent for k, v in line.items()}
    if raised is None:
        raise_for_service_failure(report, result, "bwrap")
    else:
        with pytest.raises(raised):
            raise_for_service_failure(report, result, "bwrap")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reference", ["reference-code", "cached-reference-code", "step"])
def test_an_analysis_past_its_time_is_a_timeout_never_a_verdict(
    reference: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part against itself, with the runner's analysis budget cut to a microsecond:
    the reference's build or the comparison runs past it, which is no verdict on the
    response (reward 0 would teach the trainer that the right part is wrong)."""
    from rewardgate.verifiers.cad import run

    fresh = f"# {uuid.uuid4().hex}\n{part('flange')}"  # never built, never cached
    refs = {
        "reference-code": {"reference_code": fresh},
        "cached-reference-code": {"reference_code": part("flange")},
        "step": {"reference_step": data_file("flange.step")},
    }
    if reference == "cached-reference-code":
        assert score(fenced(part("flange")), refs[reference], backend=backend).reward == 1.0
    monkeypatch.setattr(run, "ANALYSIS_S", 1e-6)
    with pytest.raises(VerifierTimeout, match="analysis"):
        score(fenced(part("flange")), refs[reference], backend=backend)


def test_through_the_engine_an_analysis_past_its_time_is_status_timeout(
    verifier_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """...while the script's own time limit stays a verdict under the same budget."""
    from rewardgate.verifiers.cad import run

    monkeypatch.setattr(run, "ANALYSIS_S", 1e-6)  # before the engine forks its workers
    engine = verifier_engine(CadVerifier, env=VERIFIER.env)
    reference = {"reference_step": data_file("flange.step")}
    itself, looping = engine.score(
        [
            {"verifier": "cad", "response": fenced(part("flange")), "reference": reference},
            {"verifier": "cad", "response": fenced("while True:\n    pass"),
             "reference": reference, "options": {"time_limit_s": 1, "preset": "cadrille"}},
        ]
    )  # fmt: skip
    assert (itself.status, itself.reward) == ("timeout", 0.0), itself
    assert "analysis" in (itself.error or "")
    assert (looping.status, looping.reward) == ("ok", -10.0), looping
    assert looping.details["outcome"] == "time_limit"
