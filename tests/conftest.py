"""Factory fixtures for apps (in-process) and real server processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from rewardgate.service.app import create_app, verifier_env
from rewardgate.service.settings import Settings
from rewardgate.verifiers.registry import Registry
from tests import markers
from tests.listener import Listener
from tests.service.probes import PROBES
from tests.timing import TimingSummary

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def pytest_configure(config: pytest.Config) -> None:
    markers.register(config)
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        config.pluginmanager.register(TimingSummary(), "rewardgate-timing")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects and xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    markers.apply(items)


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    """A TCP listener on 127.0.0.1 that hostile outputs aim at; one per test module."""
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """`make_client(workers=2, api_keys="k")`: the real app with the probe verifiers.

    `installed=True` adds every installed verifier (math, ...), as `rewardgate serve` has.
    `start=False` leaves the app's lifespan out: no verifier warms up and no worker
    starts, which is seconds saved per installed verifier for a test of routes that read
    only the registry and settings (`GET /v1/verifiers`).
    """
    clients: list[TestClient] = []

    def factory(installed: bool = False, start: bool = True, **overrides: Any) -> TestClient:
        overrides.setdefault("workers", 1)
        overrides.setdefault("asset_dir", tmp_path / "assets")
        settings = Settings(**overrides)
        env = verifier_env(settings)
        if installed:
            registry = Registry.from_entry_points(PROBES, env=env)
        else:
            registry = Registry(PROBES, env=env)
        client = TestClient(create_app(settings, registry), raise_server_exceptions=False)
        if start:
            client.__enter__()
            clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def serving(folder: Path, **overrides: Any) -> Iterator[LiveServer]:
    """A real uvicorn process serving probes + installed verifiers, stopped on exit.

    Its assets and log go under `folder`. Module-scoped fixtures use this directly, so
    tests that only send requests share one server instead of each paying its start.
    """
    port = free_port()
    overrides.setdefault("workers", 1)
    overrides.setdefault("asset_dir", folder / "assets")
    log = folder / f"server-{port}.log"
    args = [f"{k}={v}" for k, v in overrides.items()]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.service.serve_probes", str(port), *args],
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    try:
        # Generous: every installed verifier warms up first, on a machine the other
        # xdist workers keep busy.
        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{server.logs()}")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not become ready:\n{server.logs()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """`live_server(workers=1)`: a real uvicorn process serving probes + installed verifiers."""
    with contextlib.ExitStack() as stack:
        yield lambda **overrides: stack.enter_context(serving(tmp_path, **overrides))
