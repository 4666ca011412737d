"""The docker backend on a real dockerd: container settings, the pool, the launcher.

The attacks every backend must contain are in test_escape.py (run on docker too);
these are the docker backend's own promises.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from rewardgate.sandbox import Limits, Mount, PythonEntry
from rewardgate.sandbox.docker import DEFAULT_IMAGE, LABEL, DockerBackend
from rewardgate.verifiers.errors import SandboxError
from tests.sandbox.conftest import assert_still_works, host_pids_with

IMAGE = os.environ.get("REWARDGATE_DOCKER_IMAGE", DEFAULT_IMAGE)


@pytest.fixture
def others() -> set[str]:
    """This process's containers before the test's own backend starts: under xdist, a
    worker that ran other docker tests first still has their warm pools."""
    return set(my_containers())


@pytest.fixture
def fresh(others: set[str]) -> Iterator[DockerBackend]:
    """A backend of its own (its own pool), so a test can watch its containers."""
    backend = DockerBackend(image=IMAGE, pool_size=1, setup_timeout_s=3)
    assert backend.health()["docker_run"] == "ok", backend.health()
    yield backend
    backend.close()


def my_containers(pid: int | None = None, besides: Collection[str] = ()) -> list[str]:
    """Ids of the pool containers of process `pid` (this one by default), less `besides`."""
    owner = f"{socket.gethostname()}:{pid or os.getpid()}"
    # The low-level listing: the high-level one inspects each container after listing
    # it, which fails on one that a pool removed in between.
    listed = docker.from_env().api.containers(all=True, filters={"label": f"{LABEL}={owner}"})
    return [c["Id"] for c in listed if c["Id"] not in besides]


def wait_for(predicate: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_container_is_locked_down(fresh: DockerBackend, others: set[str]) -> None:
    fresh.run(["true"], limits=Limits(memory_mb=200, processes=20))
    [box] = my_containers(besides=others)
    attrs = docker.from_env().api.inspect_container(box)
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == (200 + 48) << 20
    assert host["PidsLimit"] == 20 + 2
    assert host["NanoCpus"] == 10**9
    assert attrs["Config"]["User"] == "65533:65533"
    assert set(host["Tmpfs"]) == {"/sandbox", "/mnt", "/sys/fs/cgroup"}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import os; print(os.getuid(), os.getgid(), os.getgroups())", "65534 65534 [65534]"),
        ("import os; print(os.getcwd(), os.environ['HOME'])", "/sandbox /sandbox"),
        (
            "caps = dict(l.split(':') for l in open('/proc/self/status') if l.startswith('Cap'))\n"
            "print(*(int(caps[k], 16) for k in ('CapEff', 'CapPrm', 'CapBnd', 'CapAmb')))",
            "0 0 0 0",
        ),
        (
            "print([l.split()[1] for l in open('/proc/self/status')"
            " if l.startswith('NoNewPrivs')])",
            "['1']",
        ),
        (
            # Docker's default seccomp profile filters system calls (mode 2: filter).
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('Seccomp:')])",
            "['2']",
        ),
    ],
    ids=[
        "unprivileged-uid",
        "workdir-and-home",
        "no-capabilities",
        "no-new-privileges",
        "seccomp-filter",
    ],
)
def test_what_a_program_is(docker_backend: DockerBackend, code: str, expected: str) -> None:
    r = docker_backend.run(["python3", "-c", code])
    assert (r.exit_code, r.stdout.decode().strip()) == (0, expected), r


def test_files_stdin_and_channel(docker_backend: DockerBackend) -> None:
    r = docker_backend.run(
        ["sh", "-c", "cat dir/data.bin; cat; echo verdict >&3; echo err >&2; exit 3"],
        {"dir/data.bin": b"\x00\xffbin "},
        stdin="from stdin",
        channel=True,
    )
    assert (r.exit_code, r.stdout, r.stderr) == (3, b"\x00\xffbin from stdin", b"err\n")
    assert r.channel == b"verdict\n"


def test_without_a_channel_fd_3_is_closed(docker_backend: DockerBackend) -> None:
    r = docker_backend.run(["sh", "-c", "echo x >&3 && echo wrote"])
    assert r.stdout == b"" and r.channel is None and r.exit_code != 0


def test_a_mounted_build_output_runs_from_its_target(
    docker_backend: DockerBackend, shared_dir: Path
) -> None:
    script = shared_dir / "prog"
    script.write_text("#!/bin/sh\necho built program $1\n")
    r = docker_backend.run(["/prog", "arg"], mounts=[Mount(script, "/prog")])
    assert (r.exit_code, r.stdout) == (0, b"built program arg\n"), r
    with pytest.raises(SandboxError, match="copy files only"):
        docker_backend.run(["true"], mounts=[Mount(shared_dir, "/data")])


def test_a_clean_run_reuses_its_container(fresh: DockerBackend, others: set[str]) -> None:
    fresh.run(["true"])
    before = my_containers(besides=others)
    for _ in range(3):
        assert fresh.run(["python3", "-c", "print(1)"]).stdout == b"1\n"
    assert my_containers(besides=others) == before


def test_nothing_carries_over_between_runs(fresh: DockerBackend) -> None:
    first = fresh.run(["sh", "-c", "echo x > left.txt; mkdir -p d; chmod 000 d; echo y > /mnt/z"])
    assert first.exit_code == 0, first
    r = fresh.run(["sh", "-c", "ls -A /sandbox /mnt /dev/shm"])
    assert r.stdout.split() == [b"/dev/shm:", b"/mnt:", b"/sandbox:"], r


@pytest.mark.parametrize(
    "program",
    [
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(100)\n",
        "import time\nopen('/dev/shm/planted', 'w').write('x')\n",
        "while True: pass\n",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    ],
    ids=["left-a-daemon", "left-a-shm-file", "timed-out", "killed-the-launcher"],
)
def test_a_dirty_run_recycles_its_container(
    fresh: DockerBackend, others: set[str], program: str
) -> None:
    fresh.run(["true"])
    [before] = my_containers(besides=others)
    fresh.run(["python3", "-c", program], limits=Limits(wall_s=1))
    assert wait_for(lambda: before not in my_containers())
    assert_still_works(fresh)


def test_a_stopped_launcher_times_out_the_run(fresh: DockerBackend) -> None:
    r = fresh.run(["sh", "-c", "kill -STOP $PPID; sleep 100"], limits=Limits(wall_s=1))
    assert r.timed_out and r.exit_code == -9, r
    assert_still_works(fresh)


@pytest.mark.parametrize("memory_mb", [64, 256, 96])
def test_memory_limit_follows_each_run(docker_backend: DockerBackend, memory_mb: int) -> None:
    code = "x = bytearray({n} << 20); print('held')"
    fits = docker_backend.run(
        ["python3", "-c", code.format(n=memory_mb // 2)], limits=Limits(memory_mb=memory_mb)
    )
    assert fits.stdout == b"held\n", fits
    over = docker_backend.run(
        ["python3", "-c", code.format(n=memory_mb * 2)], limits=Limits(memory_mb=memory_mb)
    )
    assert over.oom_killed and not over.ok, over


def test_pids_limit_follows_each_run(docker_backend: DockerBackend) -> None:
    code = textwrap.dedent(
        """
        import subprocess
        procs = []
        try:
            for _ in range(40):
                procs.append(subprocess.Popen(["sleep", "5"]))
        except OSError:
            pass
        print(len(procs))
        """
    )
    for processes in (8, 30):
        r = docker_backend.run(["python3", "-c", code], limits=Limits(processes=processes))
        started = int(r.stdout)
        assert started == processes - 1, (processes, r)  # python itself is one


def test_cpu_time_limit(docker_backend: DockerBackend) -> None:
    r = docker_backend.run(["python3", "-c", "while True: pass"], limits=Limits(cpu_s=1, wall_s=10))
    assert r.timed_out and r.details["timeout"] == "cpu", r


def test_unreachable_daemon_is_a_sandbox_error() -> None:
    backend = DockerBackend(image=IMAGE, base_url="unix:///nonexistent/docker.sock")
    assert "daemon unreachable" in backend.health()["docker"]
    with pytest.raises(SandboxError, match="docker sandbox unavailable"):
        backend.run(["true"])


def test_missing_image_is_a_sandbox_error() -> None:
    backend = DockerBackend(image="rewardgate/no-such-image:never")
    health = backend.health()
    assert health["docker"] == "ok" and "docker-images.sh" in health["docker_image"]
    with pytest.raises(SandboxError, match="missing"):
        backend.run(["true"])


def test_killed_worker_takes_its_run_along_and_its_containers_are_swept(marker: str) -> None:
    script = (
        "from rewardgate.sandbox.docker import DockerBackend\n"
        "from rewardgate.sandbox import Limits\n"
        f"DockerBackend(image={IMAGE!r}).run(['python3', '-c', 'import time; time.sleep(1000)',"
        f" {marker[::-1]!r}[::-1]], limits=Limits(wall_s=1000))\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert wait_for(lambda: host_pids_with(marker), 30)
    finally:
        worker.kill()
        worker.wait()
    # The exec's stdin closes with the worker's connection: the launcher kills the run.
    assert wait_for(lambda: not host_pids_with(marker))
    assert my_containers(worker.pid)
    # The next process to start a pool removes the dead worker's containers.
    sweeper = DockerBackend(image=IMAGE)
    try:
        sweeper.run(["true"])
        assert wait_for(lambda: not my_containers(worker.pid))
    finally:
        sweeper.close()


def test_a_dead_workers_containers_end_themselves(marker: str) -> None:
    """The launcher ends with its worker's connection; the container, idle, ends too."""
    script = (
        "import time\n"
        "from rewardgate.sandbox.docker import DockerBackend\n"
        f"b = DockerBackend(image={IMAGE!r}, idle_s=1)\n"
        "b.run(['true'])\n"
        "print('ready', flush=True)\n"
        "time.sleep(1000)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert worker.stdout is not None and worker.stdout.readline() == b"ready\n"
        assert my_containers(worker.pid)
    finally:
        worker.kill()
        worker.wait()
    assert wait_for(lambda: not my_containers(worker.pid), 20)


PROBE = PythonEntry(
    "probe.py",
    {
        "probe.py": (
            "import os, sys\n"
            "def preload(files):\n"
            "    global PRELOADED\n"
            "    PRELOADED = sorted(files)\n"
            "def main():\n"
            "    data = sys.stdin.read()\n"
            "    os.write(3, b'verdict')\n"
            "    print(os.getuid(), os.getcwd(), sys.argv, sorted(os.listdir('.')), data)\n"
            "    sys.exit(int(data or 0))\n"
            "if __name__ == '__main__':\n"
            "    main()\n"
        )
    },
)


@pytest.mark.parametrize("stdin", ["0", "3"])
def test_warm_python_run_matches_a_cold_one(stdin: str) -> None:
    results = []
    for warm in (True, False):
        backend = DockerBackend(image=IMAGE, warm=warm)
        try:
            r = backend.run_python(PROBE, {"mine.txt": "x"}, stdin, channel=True)
        finally:
            backend.close()
        results.append((r.exit_code, r.stdout, r.stderr, r.channel))
    assert results[0] == results[1]
    assert results[0][0] == int(stdin) and results[0][3] == b"verdict", results


def test_a_run_that_kills_its_zygote_is_contained(fresh: DockerBackend) -> None:
    killer = PythonEntry(
        "killer.py",
        {
            "killer.py": "import os\ndef main():\n"
            "    os.kill(os.getppid(), 9)\n    os.kill(os.getpid(), 9)\n"
        },
    )
    r = fresh.run_python(killer, limits=Limits(wall_s=5))
    assert r.exit_code == -9, r
    assert fresh.run_python(PROBE, stdin="0", channel=True).exit_code == 0
