"""The `cad` verifier on both sandbox backends: bwrap mounts the host's CAD runtime,
docker's image carries a copy of it; the same request gives the same numbers on either.

Docker tests need dockerd and the sandbox image (`make test` runs
scripts/docker-images.sh first).
"""

from __future__ import annotations

import pytest

from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.cad import CadVerifier
from tests.verifiers.cad_support import (
    BACKENDS,
    IMAGE,
    VERIFIER,
    cad_verifier,
    changed_dimension,
    fenced,
    part,
    score,
)

# One part of each kind of operation: fillets, a revolve, a sweep, a loft, holes.
SAMPLE = ["filleted_block", "revolved_profile", "sweep", "loft", "flange"]
# A script that can tell where it runs: only the docker image links /prog.
WHERE = (
    "import os\nimport cadquery as cq\n"
    "result = cq.Workplane().box(10, 20, 30 if os.path.islink('/prog') else 3)\n"
)
BOX_REF = {"reference_code": "import cadquery as cq\nresult = cq.Workplane().box(10, 20, 30)\n"}


@pytest.mark.parametrize("variant", ["itself", "changed"])
@pytest.mark.parametrize("name", SAMPLE)
def test_both_backends_give_the_same_numbers(name: str, variant: str) -> None:
    script = part(name) if variant == "itself" else changed_dimension(part(name))
    reference = {"reference_code": part(name)}
    bwrap, docker = (score(fenced(script), reference, backend=b) for b in ("bwrap", "docker"))
    assert (bwrap.status, docker.status) == ("ok", "ok"), (bwrap.error, docker.error)
    assert docker.reward == bwrap.reward
    assert docker.details == bwrap.details
    if variant == "itself":
        assert docker.reward == pytest.approx(1.0, abs=1e-9)
    else:
        assert 0.2 < docker.reward < 0.99


@pytest.mark.parametrize("server_default", ["bwrap", "docker"])
def test_a_request_naming_no_backend_runs_on_the_servers(server_default: str) -> None:
    result = score(fenced(WHERE), BOX_REF, cad_verifier(sandbox_backend=server_default))
    assert result.status == "ok"
    assert (result.reward == pytest.approx(1.0)) is (server_default == "docker"), result.details


def test_health_reports_the_backend_a_request_naming_none_runs_on() -> None:
    on_bwrap = VERIFIER.health()
    assert on_bwrap["cad_runtime"] == "ok" and on_bwrap["bwrap"] == "ok"
    assert "docker" not in on_bwrap
    on_docker = cad_verifier(sandbox_backend="docker").health()
    assert {k: on_docker[k] for k in ("cad_runtime", "docker", "docker_image", "docker_run")} == {
        "cad_runtime": "ok",
        "docker": "ok",
        "docker_image": "ok",
        "docker_run": "ok",
    }
    config = {"sandbox_backend": "docker", "docker_sandbox": {"image": "rg/none:never"}}
    broken = CadVerifier(VerifierEnv(config=config)).health()
    assert "missing" in broken["docker_image"]
    assert "not tested" in broken["cad_runtime"]


def test_the_runtime_in_the_image_is_readable_but_not_writable() -> None:
    """uid 65534 reads every file of the runtime and may write none (root-owned, and the
    container's root file system is read-only besides)."""
    from rewardgate.sandbox.api import Limits
    from rewardgate.sandbox.docker import DockerBackend
    from rewardgate.verifiers.cad.run import RUNTIME_MOUNT

    walk = (
        "import os, sys\n"
        "seen = writable = unreadable = 0\n"
        f"for top, dirs, files in os.walk({RUNTIME_MOUNT!r}):\n"
        "    for path in [top] + [os.path.join(top, f) for f in files]:\n"
        "        if os.path.islink(path):\n"
        "            continue\n"
        "        seen += 1\n"
        "        writable += os.access(path, os.W_OK) or os.stat(path).st_uid == os.getuid()\n"
        "        unreadable += not os.access(path, os.R_OK)\n"
        "print(os.getuid(), seen > 1000, writable, unreadable)\n"
    )
    backend = DockerBackend(IMAGE, pool_size=0)
    try:
        result = backend.run(["python3", "-I", "-c", walk], limits=Limits(wall_s=60))
    finally:
        backend.close()
    assert result.stdout.decode().split() == ["65534", "True", "0", "0"], result.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_script_cannot_change_the_runtime(backend: str) -> None:
    tamper = (
        "import glob\n"
        "path = glob.glob('/opt/rewardgate/cad/lib/python3*/site-packages/cadquery/__init__.py')\n"
        "open(path[0], 'a').write('raise SystemExit')\n"
    )
    spoiled = score(fenced(tamper + BOX_REF["reference_code"]), BOX_REF, backend=backend)
    assert (spoiled.status, spoiled.reward, spoiled.details["outcome"]) == ("ok", 0.0, "error")
    assert any(e in spoiled.details["why"] for e in ("Read-only file system", "Permission denied"))
    assert score(fenced(WHERE), BOX_REF, backend="docker").reward == pytest.approx(1.0)
