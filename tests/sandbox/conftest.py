"""Fixtures for the sandbox tests: a real bwrap backend on real cgroups, no mocks."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rewardgate.sandbox import BwrapBackend, Limits

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


def assert_still_works(backend: BwrapBackend) -> None:
    """A normal run right after an attack: the sandbox is not broken by it."""
    r = backend.run(["python3", "-c", "print(6 * 7)"], limits=Limits(wall_s=10))
    assert (r.exit_code, r.stdout) == (0, b"42\n"), r
