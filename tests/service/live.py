"""A real server process for attack suites that outlive one test (module-scoped).

`tests/conftest.py`'s `live_server` starts one per test; schemathesis and the
malformed-input table send hundreds of requests across many tests to one server, so
they start it once per module with `start_server` and stop it with `stop_server`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, LiveServer, free_port

__all__ = ["start_server", "stop_server", "wait_ready"]


def start_server(folder: Path, port: int | None = None, **overrides: Any) -> LiveServer:
    """`rewardgate serve` with the probe verifiers, in its own process group."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    overrides.setdefault("workers", 1)
    overrides.setdefault("asset_dir", folder / "assets")
    log = folder / f"server-{port}.log"
    args = [f"{k}={v}" for k, v in overrides.items()]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.service.serve_probes", str(port), *args],
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    wait_ready(server)
    return server


def wait_ready(server: LiveServer, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.logs()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not become ready:\n{server.logs()}")


def stop_server(server: LiveServer, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> None:
    """Signal the server (its whole group on a kill, workers included) and wait for it."""
    if server.process.poll() is not None:
        return
    if sig == signal.SIGKILL:
        os.killpg(server.process.pid, sig)
    else:
        server.process.send_signal(sig)
    try:
        server.process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
