"""A reference script's mesh is made once, by its build run, and read by each score run.

The build run sends the reference's properties and mesh beside its BREP (`measure`);
score runs read them (`read_measured`) instead of meshing the reference again. The
verdict must be exactly the one the BREP path gives (the score run meshing the BREP
itself), on both chamfer protocols and both IoU methods, on each backend.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.cad import CadVerifier, run
from rewardgate.verifiers.cad import judge as cad_judge
from rewardgate.verifiers.cad.models import CadOptions
from rewardgate.verifiers.sandboxed import sandbox_backend
from tests.verifiers.cad_support import (
    BACKENDS,
    VERIFIER,
    cad_verifier,
    changed_dimension,
    fenced,
    part,
    score,
)

# Fillets, a revolve, a sweep, holes, and a torus (its IoU falls back to the meshes).
SAMPLE = ["filleted_block", "revolved_profile", "sweep", "flange", "torus"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("protocol", ["paired", "papers"])
def test_a_built_reference_comes_back_measured(backend: str, protocol: str) -> None:
    # A script of its own per case: a BREP built for another protocol is reused as a
    # BREP (the score run meshes it), not built again to be measured.
    code = part("flange") + f"# {protocol} {backend}\n"
    options = CadOptions.model_validate({"chamfer_protocol": protocol, "backend": backend})
    sandbox = sandbox_backend(backend, cad_verifier().env)
    fmt, data = run.reference_input(code, options, VERIFIER.runtime, sandbox)
    assert fmt == run.MEASURED
    brep = run.reference_brep(code, options, VERIFIER.runtime, sandbox)
    assert data.split(b"\n", 1)[1].startswith(brep)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("preset", [None, "cadrille"])
@pytest.mark.parametrize("name", SAMPLE)
def test_the_measured_reference_gives_the_breps_verdict(
    backend: str, preset: str | None, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = part(name) + f"# {preset} {backend}\n"  # built and measured by this case
    reference = {"reference_code": code}
    options: dict[str, Any] = {"backend": backend} | ({"preset": preset} if preset else {})
    verifier = cad_verifier() if backend == "bwrap" else cad_verifier(sandbox_backend="docker")
    responses = [fenced(part(name)), fenced(changed_dimension(part(name), 0.9))]
    measured = [score(r, reference, verifier, **options) for r in responses]
    prepared = verifier.prepare(reference, options).options
    sandbox = sandbox_backend(backend, verifier.env)
    assert run.reference_input(code, prepared, verifier.runtime, sandbox)[0] == run.MEASURED

    def brep_only(code: str, opts: CadOptions, runtime: Any, sandbox: Any) -> tuple[str, bytes]:
        return "brep", run.reference_brep(code, opts, runtime, sandbox)

    monkeypatch.setattr(cad_judge, "reference_input", brep_only)
    from_brep = [score(r, reference, verifier, **options) for r in responses]
    for got, want in zip(measured, from_brep, strict=True):
        assert got.status == want.status == "ok", (got.error, want.error)
        assert (got.reward, got.steps, got.details) == (want.reward, want.steps, want.details)


def test_a_build_line_that_does_not_fit_is_not_used() -> None:
    """The measured line is an optimisation: a missing, foreign or malformed one is
    dropped, and the score run meshes the BREP itself."""
    brep = b"brep bytes"
    line = {"protocol": "paired", "props": {}, "nodes": "AAAA", "tris": ""}
    assert run._pack_measured(None, brep, "paired") is None
    assert run._pack_measured({**line, "protocol": "papers"}, brep, "paired") is None
    assert run._pack_measured({"protocol": "paired"}, brep, "paired") is None
    assert run._pack_measured(line, brep, "paired") is None  # 3 bytes of nodes: no array


def test_workers_sharing_builds_build_a_reference_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers asking for one new reference at once: one builds it, the others wait for
    it and read it (threads here stand for the engine's processes: the lock is a file
    lock, held per open file)."""
    monkeypatch.setattr(run, "_shared", tmp_path)
    built: list[str] = []
    build = run._build

    def counted(*args: Any) -> tuple[bytes, bytes | None]:
        built.append(args[0])
        return build(*args)

    monkeypatch.setattr(run, "_build", counted)
    code = part("flange") + f"# shared {uuid.uuid4().hex}\n"
    options = CadOptions()
    sandbox = sandbox_backend("bwrap", VERIFIER.env)
    got: list[tuple[str, bytes]] = []
    gate = threading.Barrier(3)

    def ask() -> None:
        gate.wait()
        got.append(run.reference_input(code, options, VERIFIER.runtime, sandbox))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and len(got) == 3
    assert {fmt for fmt, _ in got} == {run.MEASURED} and len({data for _, data in got}) == 1
    run._CACHE._items.clear()  # a worker that never saw it reads the shared folder
    assert run.reference_input(code, options, VERIFIER.runtime, sandbox) == got[0]
    assert len(built) == 1


def test_the_engines_workers_share_the_gateways_build_folder(verifier_engine: Any) -> None:
    engine = verifier_engine(CadVerifier, env=VERIFIER.env, workers=2, cache=None)
    folder = run._shared
    assert folder is not None and folder.is_dir() and folder.stat().st_mode & 0o777 == 0o700
    code = part("flange") + f"# engine {uuid.uuid4().hex}\n"
    reference = {"reference_code": code}
    item = {"verifier": "cad", "response": fenced(part("flange")), "reference": reference}
    results = engine.score([item] * 4)
    assert [r.reward for r in results] == [pytest.approx(1.0)] * 4, results
    sandbox = sandbox_backend("bwrap", VERIFIER.env)
    key = run._brep_key(code, CadOptions(), VERIFIER.runtime, sandbox)
    assert (folder / f"{key}.brep").is_file()
    assert (folder / f"{key}.paired.{run.MEASURED}").is_file()
