"""BwrapBackend.run against the contract in sandbox/api.py, on real bwrap and cgroups."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rewardgate.sandbox import (
    BwrapBackend,
    ExecResult,
    Limits,
    Mount,
    available_backends,
    get_backend,
)
from rewardgate.sandbox.bwrap import WORKDIR
from rewardgate.verifiers.errors import InvalidRequest, SandboxError


def sh(backend: BwrapBackend, script: str, **kw: Any) -> ExecResult:
    return backend.run(["sh", "-c", script], **kw)


def test_health_reports_every_capability(backend: BwrapBackend) -> None:
    assert backend.health() == {
        "bwrap": "ok",
        "cgroup_pids": "ok",
        "cgroup_memory": "ok",
        "cgroup_cpuacct": "ok",
        "unprivileged_uid": "ok",
        "warm_python": "ok",
        "seccomp": "ok",
    }


@pytest.mark.parametrize(
    ("script", "code"),
    [("true", 0), ("exit 3", 3), ("exit 255", 255), ("kill -SEGV $$", -11), ("kill -9 $$", -9)],
    ids=["zero", "three", "255", "segv", "sigkill"],
)
def test_exit_codes(backend: BwrapBackend, script: str, code: int) -> None:
    r = sh(backend, script)
    assert r.exit_code == code
    assert r.ok == (code == 0)
    assert not (r.timed_out or r.oom_killed)


def test_missing_command_is_a_result(backend: BwrapBackend) -> None:
    r = backend.run(["no-such-program"])
    assert r.exit_code == 127 and b"not found" in r.stderr


@pytest.mark.parametrize(
    "stdin",
    [b"", b"hello\n", "unicode \u00e9\n", os.urandom(3 << 20)],
    ids=["empty", "line", "str", "3MiB"],
)
def test_stdin_to_stdout(backend: BwrapBackend, stdin: bytes | str) -> None:
    r = backend.run(["cat"], stdin=stdin, limits=Limits(output_bytes=4 << 20))
    expected = stdin.encode() if isinstance(stdin, str) else stdin
    assert (r.exit_code, r.stdout, r.truncated) == (0, expected, False)


def test_stdout_and_stderr_apart(backend: BwrapBackend) -> None:
    r = sh(backend, "echo out; echo err >&2")
    assert (r.stdout, r.stderr) == (b"out\n", b"err\n")


def test_files_in_workdir(backend: BwrapBackend) -> None:
    r = sh(
        backend,
        "pwd; cat a.txt sub/dir/b.bin | od -An -c | tr -s ' '; echo new > c.txt; cat c.txt; ls -a",
        files={"a.txt": "A\n", "sub/dir/b.bin": b"\x00\x01"},
    )
    out = r.stdout.decode().splitlines()
    assert r.exit_code == 0, r
    assert out[0] == WORKDIR
    assert out[1].split() == ["A", "\\n", "\\0", "001"]
    assert out[2] == "new"
    assert out[3:] == [".", "..", "a.txt", "c.txt", "sub"]


def test_workdir_is_fresh_each_run(backend: BwrapBackend) -> None:
    sh(backend, "echo leftover > stale.txt")
    assert sh(backend, "ls -A").stdout == b""


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", ""])
def test_bad_file_names_rejected(backend: BwrapBackend, name: str) -> None:
    with pytest.raises(ValueError):
        backend.run(["true"], files={name: "x"})


def test_channel_fd3(backend: BwrapBackend) -> None:
    r = sh(backend, "echo verdict >&3; echo visible", channel=True)
    assert (r.channel, r.stdout) == (b"verdict\n", b"visible\n")


def test_no_fd3_without_channel(backend: BwrapBackend) -> None:
    r = backend.run(["sh", "-c", "ls /proc/self/fd"], files={"a": "1", "b/c": "2"})
    assert r.stdout.split() == [b"0", b"1", b"2", b"3"]  # 3 is ls's own directory fd
    r = sh(backend, "echo x >&3")
    assert r.exit_code != 0 and r.channel is None


def test_channel_is_capped(backend: BwrapBackend) -> None:
    r = sh(backend, "head -c 100000 /dev/zero >&3", channel=True, limits=Limits(output_bytes=1000))
    assert r.channel == b"\0" * 1000 and r.truncated


def test_output_cap_per_stream(backend: BwrapBackend) -> None:
    r = sh(backend, "head -c 5000 /dev/zero; echo short >&2", limits=Limits(output_bytes=100))
    assert len(r.stdout) == 100 and r.stderr == b"short\n" and r.truncated


def test_wall_timeout(backend: BwrapBackend) -> None:
    r = backend.run(["sleep", "10"], limits=Limits(wall_s=0.3))
    assert r.timed_out and r.details["timeout"] == "wall" and not r.ok
    assert 250 < r.wall_ms < 1500


def test_cpu_limit(backend: BwrapBackend) -> None:
    r = backend.run(["python3", "-c", "while True: pass"], limits=Limits(cpu_s=1, wall_s=10))
    assert r.timed_out and r.details["timeout"] == "cpu", r
    assert 900 <= r.cpu_ms < 3000 and r.wall_ms < 5000


def test_memory_limit_sets_oom_killed(backend: BwrapBackend) -> None:
    code = "x = bytearray(400 << 20)\nprint('survived')"
    r = backend.run(["python3", "-c", code], limits=Limits(memory_mb=64))
    assert r.oom_killed and r.exit_code == -9 and not r.ok
    ok = backend.run(["python3", "-c", code], limits=Limits(memory_mb=600))
    assert ok.stdout == b"survived\n" and not ok.oom_killed


def test_process_limit(backend: BwrapBackend) -> None:
    code = (
        "import os, time\nn = 0\nfor _ in range(30):\n    try:\n        if os.fork() == 0:\n"
        "            time.sleep(1); os._exit(0)\n        n += 1\n    except OSError:\n"
        "        pass\nprint(n)"
    )
    # The program is one of the 5: it can start exactly 4 more.
    assert int(backend.run(["python3", "-c", code], limits=Limits(processes=5)).stdout) == 4
    assert int(backend.run(["python3", "-c", code], limits=Limits(processes=64)).stdout) == 30


def test_open_files_limit(backend: BwrapBackend) -> None:
    code = (
        "import os\nfds = []\ntry:\n    for _ in range(200): fds.append(os.open('/dev/null', 0))\n"
        "except OSError as e: print('limit', e.errno)\nprint(len(fds))"
    )
    r = backend.run(["python3", "-c", code], limits=Limits(open_files=32))
    assert r.stdout.startswith(b"limit 24") and int(r.stdout.split()[-1]) < 32


def test_file_size_limit(backend: BwrapBackend) -> None:
    r = sh(backend, "head -c 3000000 /dev/zero > big; ls -l big", limits=Limits(file_size_mb=1))
    assert r.exit_code != 0 or b" 1048576 " in r.stdout
    assert b" 3000000 " not in r.stdout


def test_cpu_ms_and_max_rss_measured(backend: BwrapBackend) -> None:
    code = (
        "import time\nx = bytearray(150 << 20)\nt = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass"
    )
    r = backend.run(["python3", "-c", code])
    assert r.exit_code == 0, r
    assert 250 <= r.cpu_ms < 2000
    assert r.max_rss_kb >= 150 << 10
    # The host process being large must not leak into the run's peak (ru_maxrss
    # survives the launcher's exec, so a forked launcher reports its parent's RSS).
    ballast = bytearray(200 << 20)
    idle = backend.run(["sleep", "0.3"])
    del ballast
    assert idle.cpu_ms < 100 and idle.wall_ms > 0 and idle.max_rss_kb < 100 << 10


def test_read_only_mount(backend: BwrapBackend, shared_dir: Path) -> None:
    (shared_dir / "data.txt").write_text("from host")
    os.chmod(shared_dir / "data.txt", 0o644)
    r = sh(backend, "cat /data/data.txt; echo x > /data/new", mounts=[Mount(shared_dir, "/data")])
    assert r.stdout == b"from host" and r.exit_code != 0
    assert not (shared_dir / "new").exists()


def test_missing_mount_source_is_sandbox_error(backend: BwrapBackend) -> None:
    with pytest.raises(SandboxError):
        backend.run(["true"], mounts=[Mount(Path("/no/such/dir"), "/data")])


def test_unstartable_bwrap_is_sandbox_error() -> None:
    broken = BwrapBackend(bwrap="no-such-bwrap")
    assert "missing no-such-bwrap" in broken.health()["bwrap"]
    with pytest.raises(SandboxError):
        broken.run(["true"])


def test_cgroups_removed_after_runs(backend: BwrapBackend) -> None:
    parents = backend._cgroups.parents()
    assert set(parents) == {"pids", "memory", "cpuacct"}

    def ours() -> set[Path]:
        prefix = f"run-{os.getpid()}-"
        return {d for p in parents.values() for d in p.iterdir() if d.name.startswith(prefix)}

    before = ours()  # an earlier test in this process may have killed a run on purpose
    sh(backend, "sleep 0.1 & echo")
    backend.run(["sleep", "5"], limits=Limits(wall_s=0.2))
    assert ours() <= before


def test_parallel_runs_in_threads(backend: BwrapBackend) -> None:
    def one(i: int) -> ExecResult:
        return sh(backend, f"echo {i} > mine; sleep 0.2; cat mine")

    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert [r.stdout for r in results] == [f"{i}\n".encode() for i in range(8)]
    assert time.monotonic() - start < 1.5  # they overlapped


def _in_worker(i: int) -> bytes:
    backend = get_backend()
    return backend.run(["sh", "-c", f"echo {i} > mine; sleep 0.2; cat mine"]).stdout


def test_parallel_runs_in_processes() -> None:
    with ProcessPoolExecutor(4) as pool:
        assert list(pool.map(_in_worker, range(8))) == [f"{i}\n".encode() for i in range(8)]


def test_get_backend_is_one_instance_per_process() -> None:
    assert get_backend() is get_backend("bwrap")
    assert available_backends() == ["bwrap", "docker"]
    with pytest.raises(InvalidRequest, match="available: bwrap, docker"):
        get_backend("nope")


def test_mount_bwrap_cannot_reach_is_sandbox_error(backend: BwrapBackend, tmp_path: Path) -> None:
    # pytest's tmp_path is 0700 root: the unprivileged bwrap cannot bind it, so the
    # sandbox never starts; that is the sandbox's failure, not the program's.
    private = tmp_path / "private"
    private.mkdir()
    os.chmod(tmp_path, 0o700)
    with pytest.raises(SandboxError, match="failed to start"):
        backend.run(["true"], mounts=[Mount(private, "/data")])


def test_without_cgroups_rlimits_still_bind(marker: str) -> None:
    degraded = BwrapBackend(cgroup_root=Path("/nonexistent"))
    health = degraded.health()
    assert health["bwrap"] == "ok" and health["unprivileged_uid"] == "ok"
    assert "not mounted" in health["cgroup_memory"]
    r = degraded.run(["python3", "-c", "x = bytearray(300 << 20)"], limits=Limits(memory_mb=100))
    assert b"MemoryError" in r.stderr and not r.ok
    r = degraded.run(["sleep", "10"], limits=Limits(wall_s=0.3))
    assert r.timed_out
    code = f"(sleep 100 & exec -a {marker} sleep 100) & echo started"
    assert degraded.run(["bash", "-c", code]).stdout == b"started\n"
    from tests.sandbox.conftest import host_pids_with

    assert host_pids_with(marker) == []


ZOMBIE_PROBE = """
import os
from rewardgate.sandbox import BwrapBackend, Limits
b = BwrapBackend()
b.run(["true"])
b.run(["sh", "-c", "(sleep 100 &); exit 3"])
b.run(["sleep", "10"], limits=Limits(wall_s=0.2))
zombies = []
for p in os.listdir("/proc"):
    if p.isdigit() and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
        zombies.append(p)
print(len(zombies))
"""


def test_runs_leave_no_zombies() -> None:
    # bwrap's own reaper would exit before being reaped and be orphaned to the host's
    # init (a zombie wherever init does not reap). Run as pid 1 of a private pid
    # namespace, which reaps nothing, so every orphan would be seen here.
    out = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", ZOMBIE_PROBE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "0", out
