"""Hostile programs: each attack is contained and a normal run works right after.

Every test that takes `backend` runs on each backend (bwrap and docker)."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rewardgate.sandbox import Backend, BwrapBackend, ExecResult, Limits
from rewardgate.sandbox.cgroups import CgroupManager
from tests.sandbox.conftest import assert_still_works, host_pids_with

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def backend(any_backend: Backend) -> Backend:
    return any_backend


def py(backend: BwrapBackend, code: str, limits: Limits | None = None) -> ExecResult:
    return backend.run(["python3", "-c", textwrap.dedent(code)], limits=limits)


def test_no_network(backend: BwrapBackend) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        r = py(
            backend,
            f"""
            import socket
            for host in ("127.0.0.1", "10.0.0.1", "8.8.8.8"):
                try:
                    socket.create_connection((host, {port}), timeout=2)
                    print("connected", host)
                except OSError as exc:
                    print("refused", host, type(exc).__name__)
            """,
        )
        assert r.exit_code == 0, r
        assert b"connected" not in r.stdout
        assert r.stdout.count(b"refused") == 3
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert_still_works(backend)


@pytest.mark.parametrize(
    "target",
    [
        "/tmp/rg-escape",
        "/usr/rg-escape",
        "/etc/rg-escape",
        "/rg-escape",
        "/proc/rg-escape",
        str(REPO / "rg-escape"),
        "/var/tmp/rg-escape",
    ],
)
def test_cannot_write_outside_workdir(backend: BwrapBackend, target: str) -> None:
    r = py(
        backend,
        f"""
        import os
        try:
            os.makedirs(os.path.dirname({target!r}), exist_ok=True)
            with open({target!r}, "w") as f:
                f.write("x")
            print("wrote")
        except OSError as exc:
            print("denied", exc)
        with open("inside.txt", "w") as f:
            f.write("fine")
        print(open("inside.txt").read())
        """,
    )
    assert r.exit_code == 0, r
    assert r.stdout.startswith(b"denied"), r.stdout
    assert r.stdout.endswith(b"fine\n")
    assert not os.path.exists(target)
    assert_still_works(backend)


@pytest.mark.parametrize(
    "path",
    [
        "/etc/shadow",
        "/etc/passwd",
        "/root",
        "/home",
        str(REPO),
        str(REPO / "pyproject.toml"),
        "/work",
        "/sys/fs/cgroup",
        "/var/run/docker.sock",
    ],
)
def test_cannot_read_host_files(backend: BwrapBackend, path: str) -> None:
    assert os.path.exists(path) or path.startswith(("/var/run", "/home"))
    r = py(
        backend,
        f"""
        import os
        p = {path!r}
        try:
            print("listed", os.listdir(p)) if os.path.isdir(p) else print("read", open(p).read(64))
        except OSError as exc:
            print("denied", type(exc).__name__)
        """,
    )
    assert r.exit_code == 0, r
    # docker shows an empty, read-only /sys/fs/cgroup: nothing of the host's.
    assert r.stdout.startswith(b"denied") or r.stdout == b"listed []\n", r.stdout


def test_host_environment_invisible(backend: BwrapBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cret-" + os.urandom(8).hex()
    monkeypatch.setenv("REWARDGATE_TEST_SECRET", secret)
    r = backend.run(["sh", "-c", "env; cat /proc/*/environ; true"])
    assert r.exit_code == 0, r
    assert secret.encode() not in r.stdout + r.stderr
    assert b"REWARDGATE_TEST_SECRET" not in r.stdout
    assert b"PATH=" in r.stdout


def test_fork_bomb_is_stopped(backend: BwrapBackend, marker: str) -> None:
    bomb = textwrap.dedent(
        """
        import os, sys
        said = False
        while True:
            try:
                os.fork()
            except OSError:
                if not said:
                    said = True
                    print("limited", file=sys.stderr, flush=True)
        """
    )
    start = time.monotonic()
    r = backend.run(["python3", "-c", bomb, marker], limits=Limits(wall_s=2, processes=16))
    assert r.timed_out, r
    assert b"limited" in r.stderr  # the pids limit, not only the clock, stopped it
    assert time.monotonic() - start < 6
    assert host_pids_with(marker) == []
    assert_still_works(backend)


def test_memory_bomb(backend: BwrapBackend) -> None:
    r = py(
        backend,
        """
        chunks = []
        while True:
            chunks.append(bytearray(16 << 20))
        """,
        Limits(memory_mb=128, wall_s=20),
    )
    assert r.oom_killed or b"MemoryError" in r.stderr, r
    assert not r.ok
    assert_still_works(backend)


def test_infinite_loop_times_out(backend: BwrapBackend) -> None:
    start = time.monotonic()
    r = py(backend, "while True: pass", Limits(wall_s=1, cpu_s=30))
    assert r.timed_out and r.details["timeout"] == "wall", r
    assert time.monotonic() - start < 2.0
    assert_still_works(backend)


def test_sleeping_forever_times_out(backend: BwrapBackend) -> None:
    start = time.monotonic()
    r = backend.run(["sleep", "1000"], limits=Limits(wall_s=0.5))
    assert r.timed_out
    assert time.monotonic() - start < 1.5


def test_gigabyte_of_output_is_truncated(backend: BwrapBackend) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    r = backend.run(
        ["sh", "-c", "head -c 1000000000 /dev/zero; head -c 100000000 /dev/zero >&2"],
        limits=Limits(output_bytes=1 << 16, wall_s=30),
    )
    elapsed = time.monotonic() - start
    assert r.exit_code == 0 and r.truncated, r.exit_code
    assert len(r.stdout) == len(r.stderr) == 1 << 16
    assert elapsed < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB


def test_killing_pid1_and_parent_is_harmless(backend: BwrapBackend) -> None:
    r = backend.run(["sh", "-c", "kill -9 1; kill -9 $PPID; kill -9 -1; echo alive"])
    assert isinstance(r.exit_code, int)
    assert os.getppid() > 1  # this process and its parent live on
    assert_still_works(backend)


def test_host_pids_invisible_and_unsignalable(backend: BwrapBackend) -> None:
    victim = subprocess.Popen(["sleep", "60"])
    try:
        r = py(
            backend,
            f"""
            import os, signal
            print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
            for pid in ({victim.pid}, {os.getpid()}, 1):
                try:
                    os.kill(pid, signal.SIGKILL)
                    print("killed", pid)
                except OSError as exc:
                    print("denied", pid, type(exc).__name__)
            """,
        )
        lines = r.stdout.decode().splitlines()
        assert len(eval(lines[0])) <= 4, lines[0]  # only this sandbox's own processes
        assert f"denied {victim.pid}" in r.stdout.decode()
        assert f"denied {os.getpid()}" in r.stdout.decode()
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_daemon_does_not_outlive_its_run(backend: BwrapBackend, marker: str) -> None:
    code = f"""
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("python3", ["python3", "-c", "import time; time.sleep(1000)", {marker!r}])
        os._exit(0)
    time.sleep(0.3)
    print("parent done")
    """
    r = py(backend, code)
    assert r.stdout == b"parent done\n", r
    assert host_pids_with(marker) == []


def test_program_runs_as_unprivileged_host_uid(backend: BwrapBackend, marker: str) -> None:
    box: list[object] = []
    t = threading.Thread(
        target=lambda: box.append(
            backend.run(["python3", "-c", "import time; time.sleep(1)", marker])
        )
    )
    t.start()
    try:
        deadline = time.monotonic() + 5
        pids: list[int] = []
        while not pids and time.monotonic() < deadline:
            pids = host_pids_with(marker)
            time.sleep(0.02)
        assert pids
        status = Path(f"/proc/{pids[0]}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uid_line.split()[1:] == ["65534"] * 4
        cap_line = next(line for line in status.splitlines() if line.startswith("CapEff:"))
        assert int(cap_line.split()[1], 16) == 0
    finally:
        t.join()


def test_killed_worker_takes_its_sandbox_along(marker: str) -> None:
    script = (
        "from rewardgate.sandbox import BwrapBackend, Limits\n"
        # The marker is spelt backwards here, so only the sandboxed process carries it.
        f"BwrapBackend().run(['python3', '-c', 'import time; time.sleep(1000)',"
        f" {marker[::-1]!r}[::-1]],"
        " limits=Limits(wall_s=1000))\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 10
        while not host_pids_with(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert host_pids_with(marker)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    deadline = time.monotonic() + 3
    while host_pids_with(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert host_pids_with(marker) == []
    # Its cgroups are left behind, empty; the next process to probe removes them.
    parents = CgroupManager().parents()
    assert parents
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        left = [d for p in parents.values() for d in p.glob(f"run-{worker.pid}-*")]
        if not left:
            break
        time.sleep(0.05)
        parents = CgroupManager().parents()
    assert left == []
