"""Hostile CadQuery scripts against the `cad` verifier, in the real sandbox (both backends).

Each is contained and scores 0 (status ok: it is the script's verdict), and the
verifier keeps working afterwards. The reference is a torus, a shape no script here
builds: a script scores only if it got hold of the reference.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from rewardgate.verifiers.cad import CadVerifier
from tests.verifiers.cad_support import BACKENDS, cad_verifier, fenced, part, score

REFERENCE = {"reference_code": part("torus")}
HOST_FILE = Path("/tmp") / f"rewardgate-cad-{uuid.uuid4().hex}"
STEAL = """
import glob, os
import cadquery as cq
found = None
places = glob.glob("*") + glob.glob(".*") + glob.glob("/sandbox/**", recursive=True)
places += glob.glob("/proc/*/fd/*") + glob.glob("/proc/*/cwd/*")
for path in places:
    for reader in (cq.importers.importBrep, cq.importers.importStep):
        try:
            found = reader(path)
            break
        except Exception:
            pass
    if found is not None:
        break
try:
    data = open("/proc/1/mem", "rb").read(10)
except OSError:
    pass
result = found
"""
FORGE = """
import os
os.write(3, b'{"metrics": {"iou": 1.0, "chamfer": 0.0, "chamfer_x1000": 0.0}}\\n')
"""
LINGER = """
import os, time
if os.fork() == 0:
    os.setsid()
    time.sleep(600)
result = None
"""

HOSTILE = {
    "write-host-file": f"open({str(HOST_FILE)!r}, 'w').write('pwned')",
    "write-usr": "open('/usr/lib/pwned', 'w').write('x')",
    "network": "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)",
    "dns": "import socket\nsocket.getaddrinfo('pypi.org', 443)",
    "infinite-loop": "while True:\n    pass",
    "sleep": "import time\ntime.sleep(60)",
    "memory-bomb": "x = bytearray(64 << 30)",
    "memory-creep": "chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))",
    "fork-bomb": (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    ),
    "huge-boolean-chain": (
        "import cadquery as cq\nr = cq.Workplane().box(1, 1, 1)\nfor i in range(100000):\n"
        "    r = r.union(cq.Workplane().sphere(0.7).translate((i * 0.5, 0, 0)))"
    ),
    "steal-the-reference": STEAL,
    "forge-the-channel": FORGE,
    "kill-the-runner": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "kill-everything": "import os, signal\nos.kill(-1, signal.SIGKILL)",
    "exit-zero": "import sys\nsys.exit(0)",
    "flood-output": "while True:\n    print('x' * 100000)",
    "leave-a-daemon": LINGER,
    "recursion": "def f():\n    return f()\nresult = f()",
    "fill-the-work-dir": (
        "import itertools\nfor i in itertools.count():\n"
        "    with open(f'junk{i}', 'wb') as f:\n        f.write(b'x' * (16 << 20))"
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("script", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_scripts_are_contained_and_score_zero(script: str, backend: str) -> None:
    result = score(fenced(script), REFERENCE, time_limit_s=3, memory_mb=512, backend=backend)
    assert result.status == "ok", result.error
    assert result.reward == 0.0, result.details
    assert not HOST_FILE.exists()
    assert not Path("/usr/lib/pwned").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_verifier_works_after_hostile_scripts(backend: str) -> None:
    for name in ("fork-bomb", "memory-creep", "kill-everything"):
        score(fenced(HOSTILE[name]), REFERENCE, time_limit_s=3, memory_mb=512, backend=backend)
    assert score(fenced(part("torus")), REFERENCE, backend=backend).reward == pytest.approx(1.0)
    assert cad_verifier(sandbox_backend=backend).health()[backend] == "ok"


@pytest.mark.parametrize("server_default", BACKENDS)
def test_hostile_scripts_through_the_engine(verifier_engine: object, server_default: str) -> None:
    """The server's backend runs the items, which name none."""
    env = cad_verifier(sandbox_backend=server_default).env
    engine = verifier_engine(CadVerifier, env=env)  # type: ignore[operator]
    options = {"time_limit_s": 3, "memory_mb": 512}
    items = [
        {"verifier": "cad", "response": fenced(HOSTILE[name]), "reference": REFERENCE,
         "options": options}
        for name in ("infinite-loop", "memory-bomb", "kill-the-runner")
    ]  # fmt: skip
    items.append({"verifier": "cad", "response": fenced(part("torus")), "reference": REFERENCE})
    *hostile, good = engine.score(items)
    assert [(r.status, r.reward) for r in hostile] == [("ok", 0.0)] * 3
    assert (good.status, good.reward) == ("ok", pytest.approx(1.0))


def test_triangles_carried_in_the_shape_are_not_used() -> None:
    """A BREP may hold a triangulation that does not match its surfaces; it is remade."""
    sphere = "import cadquery as cq\nresult = cq.Workplane().sphere(10)\n"
    coarse_mesh = """
from OCP.BRep import BRep_Tool
from OCP.TopLoc import TopLoc_Location
result.val().tessellate(8.0, 2.0)
for face in result.val().Faces():  # claim the coarse triangles are exact
    BRep_Tool.Triangulation_s(face.wrapped, TopLoc_Location()).Deflection(1e-12)
"""
    reference = {"reference_code": sphere}
    plain = score(fenced(sphere), reference, preset="chamfer")
    coarse = score(fenced(sphere + coarse_mesh), reference, preset="chamfer")
    assert coarse.details["chamfer"] == plain.details["chamfer"] == 0.0


AFTERLIFE = """
import os, signal, time
import cadquery as cq
result = cq.Workplane().box(10, 10, 10)
script = os.getpid()
if os.fork() == 0:
    os.setsid()  # out of the script's process group, which the runner kills
    while os.getppid() == script:  # until the script's own process has ended
        time.sleep(0.001)
    time.sleep(0.2)  # well into the analysis, were this process still alive
    os.kill(-1, signal.SIGKILL)  # the runner's analysis (and, on docker, its launcher)
    os._exit(0)
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_process_the_script_leaves_is_dead_before_the_analysis(backend: str) -> None:
    """Alive, it would kill the analysis: a service error (or a lost run) in place of
    the script's verdict."""
    result = score(fenced(AFTERLIFE), REFERENCE, backend=backend)
    assert result.status == "ok", result.error
    assert result.details["outcome"] == "valid_solid"
    assert result.reward < 0.5, result.details


@pytest.mark.parametrize(
    "trap",
    ["os.mkdir('.reference.brep')", "os.symlink('/proc/self/mem', '.reference.brep')"],
    ids=["directory", "symlink"],
)
def test_what_a_script_leaves_in_the_work_dir_cannot_spoil_the_reference(trap: str) -> None:
    script = f"import os\n{trap}\n{part('torus')}"
    result = score(fenced(script), REFERENCE)
    assert (result.status, result.reward) == ("ok", pytest.approx(1.0))


def test_cad_runs_leave_nothing_in_other_verifiers_sandboxes() -> None:
    """CAD's warm zygote (CadQuery preloaded, its runtime mounted) is its own: a Python
    program the code verifier runs afterwards in this process sees neither."""
    from rewardgate.verifiers.code import CodeVerifier
    from rewardgate.verifiers.models import RewardRequest

    assert score(fenced(part("torus")), REFERENCE).reward == pytest.approx(1.0)
    probe = (
        "import os, sys\n"
        "print('cadquery' in sys.modules, any('rewardgate' in p for p in sys.path),"
        " os.path.exists('/opt/rewardgate/cad'))\n"
    )
    reference = {"tests": [{"expected_stdout": "False False False\n"}]}
    request = RewardRequest(verifier="code", response=probe, reference=reference)
    result = CodeVerifier().verify(request)
    assert result.reward == 1.0, result.details
