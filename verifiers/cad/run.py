"""Running `runner.py` in the sandbox, and the reference shapes it builds, cached.

The CAD runtime (CadQuery, OCP, numpy, scipy for the system python3; installed by
`scripts/install-cad.sh`) is at `RUNTIME_MOUNT` in every CAD sandbox: on bwrap a
read-only `Mount` of the host's prefix, on docker a copy of that prefix in the sandbox
image (`sandbox/Dockerfile`; the docker backend copies files in, never directories).
Runs with a mount set of their own get a warm zygote of their own: CAD's preloads
CadQuery once (so each run skips its import), and nothing it imports or puts on
sys.path reaches the zygote other verifiers' programs are forked from.

What ends a run is told apart by how far the runner's report got (see `runner`): up
to the script's end it is the script's verdict; after it, the runner's own work, so a
failure or an overrun there raises (`error` / `timeout`), never a reward of 0.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import json
import os
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

from rewardgate.sandbox.api import Backend, ExecResult, Limits, Mount, PythonEntry
from rewardgate.verifiers.cad.models import CadOptions
from rewardgate.verifiers.errors import (
    InvalidRequest,
    RewardgateError,
    SandboxError,
    VerifierError,
    VerifierTimeout,
)
from rewardgate.verifiers.evidence_images import wants_images

__all__ = [
    "ANALYSIS_S",
    "DEFAULT_RUNTIME",
    "IMAGE_RUNTIME_BACKENDS",
    "RUNTIME_MOUNT",
    "execute",
    "raise_for_service_failure",
    "reference_brep",
    "reference_input",
    "runner_entry",
    "runtime_health",
    "runtime_mounts",
    "sandbox_s",
    "share_builds",
]

HERE = Path(__file__).resolve().parent
DEFAULT_RUNTIME = Path("/usr/local/lib/rewardgate/cad")
RUNTIME_MOUNT = "/opt/rewardgate/cad"  # where sandboxes see the runtime, wherever it is
INSTALL_HINT = "install it with scripts/install-cad.sh"
ANALYSIS_S = 60.0  # the runner's own work after the script: check, tessellate, compare
START_S = 10.0  # the runner's start (a cold one imports CadQuery) and its clean-up
# Backends whose sandbox image holds the runtime at RUNTIME_MOUNT: no mount for them.
IMAGE_RUNTIME_BACKENDS = frozenset({"docker"})
IMAGE_HINT = "rebuild the sandbox image with scripts/docker-images.sh"
RUNNER_MB = 1024  # the runner's own memory (CadQuery, the two meshes) beside the script's
MAX_BREP_BYTES = 48 << 20
MAX_MEASURED_BYTES = 24 << 20  # runner.py's: a build's `measured` line, at most
MEASURED = "measured"  # runner.py's reference format of a reference its build measured
CACHE_BYTES = 256 << 20


@functools.cache
def runner_entry() -> PythonEntry:
    """runner.py with geometry.py and where the runtime is mounted: what a zygote preloads."""
    files = {
        name: (HERE / name).read_text(encoding="utf-8")
        for name in ("runner.py", "geometry.py", "views.py")
    }
    files["cad_runtime.json"] = json.dumps({"prefix": RUNTIME_MOUNT})
    return PythonEntry("runner.py", files)


def runtime_mounts(backend: str, runtime: Path) -> tuple[Mount, ...]:
    """What a run on `backend` mounts to see the runtime at RUNTIME_MOUNT."""
    if backend in IMAGE_RUNTIME_BACKENDS:
        return ()
    return (Mount(runtime, RUNTIME_MOUNT),)


def sandbox_s(options: CadOptions) -> float:
    """The sandbox's wall: a backstop; the runner times the script and its analysis."""
    return START_S + options.time_limit_s + ANALYSIS_S


_IMAGE_OK: weakref.WeakKeyDictionary[Backend, str] = weakref.WeakKeyDictionary()
# Run in a sandbox: whether its python3 finds CadQuery where the runner will look.
RUNTIME_PROBE = (
    "import os, sys; v = sys.version_info; sys.exit(not os.path.isfile("
    f"f'{RUNTIME_MOUNT}/lib/python{{v[0]}}.{{v[1]}}/site-packages/cadquery/__init__.py'))"
)


def runtime_health(runtime: Path, backend: Backend | None = None) -> str:
    """ "ok" when the runtime a CAD run on `backend` sees holds CadQuery, else the fix.

    bwrap (or no backend): the host prefix, for some python3.x. docker: the sandbox
    image, for its python3 (one probe run; an ok is remembered per backend).
    """
    if backend is None or backend.name not in IMAGE_RUNTIME_BACKENDS:
        pattern = runtime / "lib" / "python3*" / "site-packages" / "cadquery" / "__init__.py"
        if glob.glob(str(pattern)):
            return "ok"
        return f"no CadQuery under {runtime}: {INSTALL_HINT}"
    if backend in _IMAGE_OK:
        return "ok"
    try:
        probe = backend.run(["python3", "-I", "-c", RUNTIME_PROBE], limits=Limits(wall_s=30))
    except RewardgateError as exc:
        return f"not tested: the {backend.name} sandbox is unavailable ({exc.message})"
    if probe.exit_code != 0:
        return f"no CadQuery at {RUNTIME_MOUNT} in the {backend.name} sandbox: {IMAGE_HINT}"
    _IMAGE_OK[backend] = "ok"
    return "ok"


def execute(
    kind: str,
    script: str,
    options: CadOptions,
    runtime: Path,
    backend: Backend,
    reference: tuple[str, bytes] | None = None,
) -> dict[str, Any]:
    """Run `script` (and compare with `reference`: format, bytes); the runner's report.

    The report merges the runner's channel lines (executed, no_shape, candidate,
    reference, metrics, brep, ...) and adds `sandbox`: how the sandbox ended. A report
    that stops before `executed` is the script's doing (a verdict); anything that went
    wrong around it (the runner's start, its analysis) raises here.
    """
    job = {
        "kind": kind,
        "time_limit_s": options.time_limit_s,
        "analysis_s": ANALYSIS_S,
        "memory_mb": options.memory_mb,
        "normalize": options.normalize,
        "samples": options.samples,
        "seed": options.seed,
        "chamfer_protocol": options.chamfer_protocol,
        "reference_format": reference[0] if reference else None,
        "views": kind == "score" and wants_images(options),
        "measure": kind == "build",
    }
    wall = sandbox_s(options)
    limits = Limits(
        wall_s=wall,
        cpu_s=wall,
        memory_mb=options.memory_mb + RUNNER_MB,
        processes=64,
        open_files=256,
        file_size_mb=MAX_BREP_BYTES >> 20,
        output_bytes=MAX_BREP_BYTES * 4 // 3 + (1 << 20) + MAX_MEASURED_BYTES,
    )
    files = {"job.json": json.dumps(job), "script.py": script}
    try:
        result = backend.run_python(
            runner_entry(),
            files,
            reference[1] if reference else b"",
            limits,
            channel=True,
            mounts=runtime_mounts(backend.name, runtime),
        )
    except RewardgateError:
        raise
    except Exception as exc:
        raise SandboxError(f"sandbox run failed: {type(exc).__name__}: {exc}") from exc
    report: dict[str, Any] = {}
    for number, raw in enumerate((result.channel or b"").splitlines()):
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a line cut by a kill (the runner ends it before its next one)
        if number == 0 and "runner" not in line:
            break
        if isinstance(line, dict):
            report.update(line)
    report["sandbox"] = {
        "timed_out": result.timed_out,
        "oom_killed": result.oom_killed,
        "exit": result.exit_code,
    }
    raise_for_service_failure(report, result, backend.name)
    return report


def raise_for_service_failure(report: dict[str, Any], result: ExecResult, backend: str) -> None:
    """Raise when the run ended outside the script: before it ran, or in the analysis.

    The script runs between the runner's `script` and `executed` lines; every process
    it started is dead once `executed` is sent. So a run that ends between those lines
    (killed by the script, out of memory, past the wall) is a verdict, and any other
    end is the service's: `timeout` when a clock ran out, else `error`.
    """
    if "runtime_missing" in report:
        hint = IMAGE_HINT if backend in IMAGE_RUNTIME_BACKENDS else INSTALL_HINT
        raise VerifierError(f"CAD runtime unusable: {report['runtime_missing']}; {hint}")
    if "internal_error" in report:
        raise VerifierError(f"the CAD runner failed: {str(report['internal_error'])[-500:]}")
    if "runner" not in report:
        if result.channel is None:
            # docker: the program killed or stopped the container's launcher (same uid),
            # and the run's channel went with it; the backend says which.
            return
        tail = result.stderr[-500:].decode("utf-8", "replace")
        raise SandboxError(f"the CAD runner never started (exit {result.exit_code}): {tail}")
    how = f"exit {result.exit_code}" + (", out of memory" if result.oom_killed else "")
    if "script" not in report:
        if result.timed_out:
            raise VerifierTimeout(f"the CAD runner did not start the script in {START_S:g} s")
        raise SandboxError(f"the CAD runner ended before the script ran ({how})")
    if "executed" not in report:
        return  # the script's doing
    if "analysis_timeout" in report:
        raise VerifierTimeout(
            f"the CAD analysis (check, measure, compare) ran past {ANALYSIS_S:g} s"
        )
    if "analysis_failed" in report:
        raise VerifierError(f"the CAD analysis failed: {report['analysis_failed']} ({how})")
    if "done" not in report:
        if result.timed_out:
            raise VerifierTimeout("the CAD runner ran past the sandbox's wall after the script")
        raise VerifierError(f"the CAD runner ended after the script ({how})")


class _BrepCache:
    """Reference shapes by the hash of their script: a bounded, least-recently-used map."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._items[key] = data
            while sum(map(len, self._items.values())) > self.max_bytes and len(self._items) > 1:
                self._items.popitem(last=False)


_CACHE = _BrepCache(CACHE_BYTES)


def reference_brep(code: str, options: CadOptions, runtime: Path, backend: Backend) -> bytes:
    """The BREP of a reference script, built in the sandbox like a response, cached.

    A reference that does not build a valid solid is a malformed request (`invalid`).
    """
    key = _brep_key(code, options, runtime, backend)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    return _build(code, options, runtime, backend)[0]


# A folder the engine's workers share their reference builds through (`share_builds`).
_shared: Path | None = None


def share_builds() -> Path:
    """Make this process and the workers it forks later share reference builds.

    Called in the gateway before the workers fork (`CadVerifier.warmup`): each worker
    otherwise builds each reference once more (a GRPO group's items spread over the
    workers, so every worker builds every reference: half the builds wasted on two
    workers, bench/cad_throughput.py). A private folder (mode 0700) of the service's
    temporary directory, removed when this process exits; one build per reference at
    a time (a lock file), bounded by `CACHE_BYTES` on disk.
    """
    global _shared
    if _shared is None:
        import atexit
        import shutil
        import tempfile

        folder = _shared = Path(tempfile.mkdtemp(prefix="rewardgate-cad-builds-"))
        owner = os.getpid()

        def remove() -> None:
            if os.getpid() == owner:  # not a forked worker's exit
                shutil.rmtree(folder, ignore_errors=True)

        atexit.register(remove)
    return _shared


def reference_input(
    code: str, options: CadOptions, runtime: Path, backend: Backend
) -> tuple[str, bytes]:
    """What a score run reads as the reference of a reference script, cached per worker.

    `("measured", ...)`: the BREP with the properties and the mesh its build run made
    of it (for this chamfer protocol), so no score run meshes the reference again;
    the direct loop this is measured against (bench/cad_throughput.py) meshes each
    reference once too. `("brep", ...)` where the build could not send them.
    """
    key = _brep_key(code, options, runtime, backend)
    measured = _CACHE.get(f"{key}\0{MEASURED}\0{options.chamfer_protocol}")
    if measured is not None:
        return MEASURED, measured
    brep = _CACHE.get(key)
    if brep is not None:  # built for another protocol: measured the score run's way
        return "brep", brep
    brep, measured = _build_shared(code, options, runtime, backend)
    return (MEASURED, measured) if measured is not None else ("brep", brep)


def _build_shared(
    code: str, options: CadOptions, runtime: Path, backend: Backend
) -> tuple[bytes, bytes | None]:
    """`_build`, once for every worker sharing `_shared` (the others wait and read it)."""
    folder = _shared
    if folder is None:
        return _build(code, options, runtime, backend)
    import fcntl

    key = _brep_key(code, options, runtime, backend)
    brep_file = folder / f"{key}.brep"
    measured_file = folder / f"{key}.{options.chamfer_protocol}.{MEASURED}"
    with open(folder / f"{key}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or we die
        try:
            brep = brep_file.read_bytes()
        except OSError:
            brep, measured = _build(code, options, runtime, backend)
            _write(brep_file, brep)
            if measured is not None:
                _write(measured_file, measured)
            _trim(folder)
            return brep, measured
        _CACHE.put(key, brep)
        try:
            measured = measured_file.read_bytes()
        except OSError:
            return brep, None
        _CACHE.put(f"{key}\0{MEASURED}\0{options.chamfer_protocol}", measured)
        return brep, measured


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a reader never sees a half-written file."""
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    part.write_bytes(data)
    os.replace(part, path)


def _trim(folder: Path) -> None:
    """Drop the oldest builds while the folder holds more than `CACHE_BYTES`."""
    files = []
    for entry in os.scandir(folder):
        if not entry.name.endswith(".lock"):
            with contextlib.suppress(OSError):
                stat = entry.stat()
                files.append((stat.st_mtime_ns, stat.st_size, entry.path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= CACHE_BYTES:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
        total -= size


def _brep_key(code: str, options: CadOptions, runtime: Path, backend: Backend) -> str:
    where = backend.name if backend.name in IMAGE_RUNTIME_BACKENDS else str(runtime)
    return hashlib.sha256(f"{where}\0{options.memory_mb}\0{code}".encode()).hexdigest()


def _build(
    code: str, options: CadOptions, runtime: Path, backend: Backend
) -> tuple[bytes, bytes | None]:
    """Build the reference script: its BREP, and the measured reference when the build
    sent one (see `reference_input`); both cached."""
    import base64

    report = execute("build", code, options, runtime, backend)
    if "brep" not in report:
        raise InvalidRequest(f"reference.reference_code: {_build_failure(report)}")
    data = base64.b64decode(report["brep"])
    key = _brep_key(code, options, runtime, backend)
    _CACHE.put(key, data)
    measured = _pack_measured(report.get("measured"), data, options.chamfer_protocol)
    if measured is not None:
        _CACHE.put(f"{key}\0{MEASURED}\0{options.chamfer_protocol}", measured)
    return data, measured


def _pack_measured(line: Any, brep: bytes, protocol: str) -> bytes | None:
    """runner.py's `read_measured` input: a JSON header, the BREP, nodes, triangles."""
    import base64

    if not isinstance(line, dict) or line.get("protocol") != protocol:
        return None
    try:
        nodes, tris = base64.b64decode(line["nodes"]), base64.b64decode(line["tris"])
        sizes = {"brep": len(brep), "nodes": len(nodes), "tris": len(tris)}
        head = json.dumps({"props": line["props"], **sizes}).encode()
    except (KeyError, TypeError, ValueError):
        return None
    if len(nodes) % 24 or len(tris) % 24:
        return None
    return head + b"\n" + brep + nodes + tris


def _build_failure(report: dict[str, Any]) -> str:
    executed = report.get("executed") or {}
    if executed.get("timed_out") or report["sandbox"]["timed_out"]:
        return "did not finish within time_limit_s"
    if executed.get("error"):
        return "failed: " + str(executed["error"]).strip().splitlines()[-1][:300]
    if report.get("no_shape"):
        return str(report["no_shape"])
    if report.get("candidate") and not report["candidate"].get("valid_solid"):
        return "does not build a valid solid"
    return "built no shape (the sandbox ended it)"
