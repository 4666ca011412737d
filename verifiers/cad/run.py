"""Running `runner.py` in the sandbox, and the reference shapes it builds, cached.

The CAD runtime (CadQuery, OCP, numpy, scipy for the system python3; installed by
`scripts/install-cad.sh`) is a read-only `Mount` at `RUNTIME_MOUNT` in every CAD
sandbox. Runs with a mount set of their own get a warm zygote of their own: CAD's
preloads CadQuery once (so each run skips its import), and nothing it imports or puts
on sys.path reaches the zygote other verifiers' programs are forked from.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from rewardgate.sandbox.api import Limits, Mount, PythonEntry
from rewardgate.verifiers.cad.models import CadOptions
from rewardgate.verifiers.errors import (
    InvalidRequest,
    RewardgateError,
    SandboxError,
    VerifierError,
)

__all__ = [
    "ANALYSIS_S",
    "DEFAULT_RUNTIME",
    "RUNTIME_MOUNT",
    "execute",
    "reference_brep",
    "runner_entry",
    "runtime_health",
    "runtime_mounts",
    "sandbox_s",
]

HERE = Path(__file__).resolve().parent
DEFAULT_RUNTIME = Path("/usr/local/lib/rewardgate/cad")
RUNTIME_MOUNT = "/opt/rewardgate/cad"  # where sandboxes see the runtime, wherever it is
INSTALL_HINT = "install it with scripts/install-cad.sh"
ANALYSIS_S = 60.0  # the runner's own work after the script: check, tessellate, compare
RUNNER_MB = 1024  # the runner's own memory (CadQuery, the two meshes) beside the script's
MAX_BREP_BYTES = 48 << 20
CACHE_BYTES = 256 << 20


@functools.cache
def runner_entry() -> PythonEntry:
    """runner.py with geometry.py and where the runtime is mounted: what a zygote preloads."""
    files = {
        name: (HERE / name).read_text(encoding="utf-8") for name in ("runner.py", "geometry.py")
    }
    files["cad_runtime.json"] = json.dumps({"prefix": RUNTIME_MOUNT})
    return PythonEntry("runner.py", files)


def runtime_mounts(runtime: Path) -> tuple[Mount, ...]:
    return (Mount(runtime, RUNTIME_MOUNT),)


def sandbox_s(options: CadOptions) -> float:
    return options.time_limit_s + ANALYSIS_S


def runtime_health(runtime: Path) -> str:
    """ "ok" when the prefix holds CadQuery for some python3.x, else what to do."""
    if glob.glob(str(runtime / "lib" / "python3*" / "site-packages" / "cadquery" / "__init__.py")):
        return "ok"
    return f"no CadQuery under {runtime}: {INSTALL_HINT}"


def execute(
    kind: str,
    script: str,
    options: CadOptions,
    runtime: Path,
    reference: tuple[str, bytes] | None = None,
) -> dict[str, Any]:
    """Run `script` (and compare with `reference`: format, bytes); the runner's report.

    The report merges the runner's channel lines (executed, no_shape, candidate,
    reference, metrics, brep, ...) and adds `sandbox`: how the sandbox ended.
    """
    job = {
        "kind": kind,
        "time_limit_s": options.time_limit_s,
        "memory_mb": options.memory_mb,
        "normalize": options.normalize,
        "samples": options.samples,
        "seed": options.seed,
        "reference_format": reference[0] if reference else None,
    }
    wall = sandbox_s(options)
    limits = Limits(
        wall_s=wall,
        cpu_s=wall,
        memory_mb=options.memory_mb + RUNNER_MB,
        processes=64,
        open_files=256,
        file_size_mb=MAX_BREP_BYTES >> 20,
        output_bytes=MAX_BREP_BYTES * 4 // 3 + (1 << 20),
    )
    files = {"job.json": json.dumps(job), "script.py": script}
    try:
        from rewardgate.sandbox import get_backend

        backend = get_backend(options.backend)
        result = backend.run_python(
            runner_entry(),
            files,
            reference[1] if reference else b"",
            limits,
            channel=True,
            mounts=runtime_mounts(runtime),
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
            break  # a line cut by the sandbox's kill; nothing after it is whole
        if number == 0 and "runner" not in line:
            break
        report.update(line)
    if "runner" not in report:
        tail = result.stderr[-500:].decode("utf-8", "replace")
        raise SandboxError(f"the CAD runner never started (exit {result.exit_code}): {tail}")
    if "runtime_missing" in report:
        raise VerifierError(f"CAD runtime unusable: {report['runtime_missing']}; {INSTALL_HINT}")
    if "internal_error" in report:
        raise VerifierError(f"the CAD runner failed: {str(report['internal_error'])[-500:]}")
    report["sandbox"] = {
        "timed_out": result.timed_out,
        "oom_killed": result.oom_killed,
        "exit": result.exit_code,
    }
    return report


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


def reference_brep(code: str, options: CadOptions, runtime: Path) -> bytes:
    """The BREP of a reference script, built in the sandbox like a response, cached.

    A reference that does not build a valid solid is a malformed request (`invalid`).
    """
    import base64

    key = hashlib.sha256(f"{runtime}\0{options.memory_mb}\0{code}".encode()).hexdigest()
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    report = execute("build", code, options, runtime)
    if "brep" not in report:
        raise InvalidRequest(f"reference.reference_code: {_build_failure(report)}")
    data = base64.b64decode(report["brep"])
    _CACHE.put(key, data)
    return data


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
