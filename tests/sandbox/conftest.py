"""Fixtures for the sandbox tests: real bwrap and docker backends, no mocks."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rewardgate.sandbox import BwrapBackend, Limits
from rewardgate.sandbox.api import Backend
from rewardgate.sandbox.docker import DEFAULT_IMAGE, DockerBackend

MARKER_PREFIX = "rewardgate-test-marker"


@pytest.fixture(scope="session")
def backend() -> BwrapBackend:
    # `make test` installs bubblewrap; a missing one must fail the suite, not skip it.
    assert shutil.which("bwrap"), (
        "bubblewrap is not installed: run `make test` or apt-get install bubblewrap"
    )
    b = BwrapBackend()
    assert b.health()["bwrap"] == "ok", b.health()
    return b


@pytest.fixture(scope="session")
def docker_backend() -> Iterator[DockerBackend]:
    # `make test` starts dockerd and builds the image; a missing one fails the suite.
    b = DockerBackend(image=os.environ.get("REWARDGATE_DOCKER_IMAGE", DEFAULT_IMAGE))
    health = b.health()
    assert set(health.values()) == {"ok"}, health
    yield b
    b.close()


@pytest.fixture(params=["bwrap", "docker"])
def any_backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn: the tests that hold for every sandbox use this one."""
    name = "backend" if request.param == "bwrap" else "docker_backend"
    backend: Backend = request.getfixturevalue(name)
    return backend


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A host dir the sandbox uid may traverse (pytest's tmp_path is 0700, root-only)."""
    d = Path(tempfile.mkdtemp(prefix="rewardgate-test-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def marker() -> str:
    """A unique argv word to find a sandboxed process from the host."""
    return f"{MARKER_PREFIX}-{os.getpid()}-{os.urandom(4).hex()}"


def host_pids_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker`, excluding this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def assert_still_works(backend: Backend) -> None:
    """A normal run right after an attack: the sandbox is not broken by it."""
    r = backend.run(["python3", "-c", "print(6 * 7)"], limits=Limits(wall_s=10))
    assert (r.exit_code, r.stdout) == (0, b"42\n"), r
