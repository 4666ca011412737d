"""The real app served over TCP by uvicorn in a thread of the test process.

Clients that open their own connections (SandboxFusion's and verl's use `requests`,
one thread per call) need a URL, not an ASGI transport; a thread starts in a second,
where a `rewardgate serve` process warms every installed verifier first.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from rewardgate.service.app import create_app, verifier_env
from rewardgate.service.settings import Settings
from rewardgate.verifiers.registry import Registry
from tests.conftest import free_port
from tests.service.probes import PROBES

__all__ = ["serve_app"]


@contextlib.contextmanager
def serve_app(folder: Path, **overrides: Any) -> Iterator[str]:
    """Serve `create_app(Settings(**overrides))` with the probe verifiers; yields its URL."""
    overrides.setdefault("asset_dir", folder / "assets")
    settings = Settings(**overrides)
    app = create_app(settings, Registry(PROBES, env=verifier_env(settings)))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
