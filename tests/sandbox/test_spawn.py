"""Long-lived sandboxed processes (`Backend.spawn`): the run's sandbox, limits and
seccomp filter; descriptors passed in (on docker, relayed over the exec stream); `close`
kills the whole tree (on docker, removes the container)."""

from __future__ import annotations

import json
import os
import select
import socket
import textwrap
import time

import docker.errors

from rewardgate.sandbox import Limits
from rewardgate.sandbox.api import Backend
from rewardgate.sandbox.docker import OVERHEAD_MB, OVERHEAD_PIDS, DockerBackend
from rewardgate.sandbox.seccomp import NOT_IMPLEMENTED, TABLES
from tests.sandbox.conftest import host_pids_with

NR = TABLES["x86_64"][1]
# What the program reports on fd 3 (the first passed descriptor): its view of the
# sandbox, and each refused call tried (the ones tests/sandbox/test_seccomp.py tries).
REPORT = textwrap.dedent(
    """
    import ctypes, errno, json, os, resource
    libc = ctypes.CDLL(None, use_errno=True)
    out = {"uid": os.getuid(), "files": sorted(os.listdir(".")), "tmp": os.path.realpath("/tmp")}
    out["nofile"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    for name, nr, args in CALLS:
        ctypes.set_errno(0)
        r = libc.syscall(nr, *args)
        out[name] = "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    os.write(3, (json.dumps(out) + "\\n").encode())
    """
)
CALLS = [
    ("unshare", NR["unshare"], (0,)),
    ("keyctl", NR["keyctl"], (0, -3, 0)),
    ("io_uring_setup", NR["io_uring_setup"], (1, 0)),
    ("mount", NR["mount"], (b"none", b"/tmp", b"tmpfs", 0, 0)),
]


def _read_line(fd: int, timeout_s: float = 60.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout_s
    while b"\n" not in data:
        assert select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]
        chunk = os.read(fd, 1 << 16)
        assert chunk, data
        data += chunk
    return data


def test_spawn_passes_fds_and_refuses_the_filtered_calls(any_backend: Backend) -> None:
    backend = any_backend
    r, w = os.pipe()
    script = f"CALLS = {CALLS!r}\n{REPORT}\nimport time; time.sleep(600)\n"
    process = backend.spawn(
        ["python3", "-c", script], {"mine.txt": "x"}, Limits(open_files=40), pass_fds=[w]
    )
    os.close(w)
    try:
        report = json.loads(_read_line(r))
        want_uid = 65534 if os.geteuid() == 0 or backend.name == "docker" else os.geteuid()
        assert report["uid"] == want_uid
        # bwrap links /tmp to the work dir; docker gives the container a tmpfs /tmp.
        want_tmp = "/sandbox" if backend.name == "bwrap" else "/tmp"
        assert report["files"] == ["mine.txt"] and report["tmp"] == want_tmp
        assert report["nofile"] == 40
        for name, _, _ in CALLS:
            assert report[name] == ("ENOSYS" if name in NOT_IMPLEMENTED else "EPERM"), name
        assert process.wait(0.1) is None  # still running
        assert process.pids()
    finally:
        process.close()
        os.close(r)
    assert process.wait(0) == -9
    assert process.pids() == set()


def test_close_kills_the_whole_tree(any_backend: Backend, marker: str) -> None:
    """A daemon that forked away and a process in a new session go with it too."""
    backend = any_backend
    held = f"sh -c 'sleep 600; : {marker}'"  # the marker in a live process's cmdline
    daemon = f"(setsid {held} &) ; ({held} &) ; exec {held}"
    process = backend.spawn(["sh", "-c", daemon])
    try:
        deadline = time.monotonic() + 30
        while len(host_pids_with(marker)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(host_pids_with(marker)) >= 3
        # The subshells that start the daemons carry the marker too and exit on their
        # own: only a process seen before and after reading the tree must be in it.
        before = set(host_pids_with(marker))
        inside = process.pids()
        alive = before & set(host_pids_with(marker))
        assert alive and alive <= inside
    finally:
        process.close()
    assert host_pids_with(marker) == []
    process.close()  # idempotent


def test_wait_reports_the_exit_status_and_kill_ends_it(any_backend: Backend) -> None:
    backend = any_backend
    done = backend.spawn(["sh", "-c", "exit 3"])
    assert done.wait(30) == 3
    done.close()
    running = backend.spawn(["sleep", "600"])
    assert running.wait(0.2) is None
    running.kill()
    assert running.wait(30) == -9
    running.close()


def test_spawn_gets_the_memory_limit(any_backend: Backend) -> None:
    backend = any_backend
    r, w = os.pipe()
    hog = "import os\nx = bytearray(300 << 20)\nos.write(3, b'survived\\n')\n"
    process = backend.spawn(["python3", "-c", hog], limits=Limits(memory_mb=64), pass_fds=[w])
    os.close(w)
    try:
        assert process.wait(60) not in (None, 0)
        assert os.read(r, 100) == b""
    finally:
        process.close()
        os.close(r)


def test_docker_spawn_runs_with_the_run_limits_and_seccomp(
    docker_backend: DockerBackend,
) -> None:
    limits = Limits(memory_mb=128, processes=16)
    probe = (
        "import ctypes, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"sys.exit(0 if libc.syscall({NR['io_uring_setup']}, 1, 0) < 0"
        " and ctypes.get_errno() == 38 and open('f').read() == 'data' else 9)\n"
    )
    checked = docker_backend.spawn(["python3", "-c", probe], {"f": "data"}, limits)
    try:
        assert checked.wait(60) == 0
    finally:
        checked.close()
    process = docker_backend.spawn(["sh", "-c", "sleep 600 & exec sleep 600"], limits=limits)
    try:
        container = getattr(process, "container_id")  # noqa: B009 - not in the Process protocol
        config = docker_backend._api().inspect_container(container)["HostConfig"]
        assert config["Memory"] == (128 + OVERHEAD_MB) << 20
        assert config["PidsLimit"] == 16 + OVERHEAD_PIDS
        assert "no-new-privileges" in config["SecurityOpt"] and config["NetworkMode"] == "none"
        deadline = time.monotonic() + 30
        while len(process.pids()) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = process.pids()
        assert len(pids) >= 4  # init, launcher, sh's sleep and the other sleep
        assert process.wait(0.5) is None
    finally:
        process.close()
    assert process.wait(0) == -9
    assert process.pids() == set()
    assert not any(os.path.exists(f"/proc/{pid}") for pid in pids)


def _gone(backend: DockerBackend, container: str) -> bool:
    try:
        backend._api().inspect_container(container)
    except docker.errors.NotFound:
        return True
    return False


def _container(process: object) -> str:
    return str(getattr(process, "container_id"))  # noqa: B009 - not in the Process protocol


ECHO = (
    "import os, sys\n"
    "while True:\n"
    "    data = os.read(3, 1 << 16)\n"
    "    if not data:\n"
    "        break\n"
    "    os.write(4, data.upper())\n"
    "print('bye', flush=True)\n"
    "sys.exit(5)\n"
)


def test_docker_spawn_relays_pipes_both_ways_with_their_ends(
    docker_backend: DockerBackend,
) -> None:
    """Bytes go in on fd 3 and out on fd 4 and stdout; the caller closing its input
    is the program's EOF, the program exiting closes the outputs, and its status comes
    back."""
    req_r, req_w = os.pipe()
    ans_r, ans_w = os.pipe()
    out_r, out_w = os.pipe()
    process = docker_backend.spawn(
        ["python3", "-c", ECHO], pass_fds=[req_r, ans_w], stdio=(None, out_w, None)
    )
    for fd in (req_r, ans_w, out_w):
        os.close(fd)
    try:
        for word in (b"hello", b"again"):
            os.write(req_w, word)
            assert _read_until(ans_r, len(word)) == word.upper()
        assert process.wait(0.2) is None
        os.close(req_w)
        assert process.wait(60) == 5
        assert _read_until(out_r, 4) == b"bye\n"
        assert os.read(out_r, 10) == b"" and os.read(ans_r, 10) == b""
    finally:
        process.close()
        os.close(ans_r)
        os.close(out_r)
    assert _gone(docker_backend, _container(process))


def test_docker_spawn_relays_a_socket_and_a_flood(docker_backend: DockerBackend) -> None:
    """A read-write descriptor (a socket, as Node's stdio) is one in the container too,
    shut down per direction; 16 MiB out arrive whole while input still flows."""
    mine, theirs = socket.socketpair()
    flood = "import sys; sys.stdout.buffer.write(bytes(range(256)) * 65536); sys.stdout.flush()"
    script = f"cat >&2; {{ python3 -c '{flood}'; }}; echo done"
    process = docker_backend.spawn(
        ["sh", "-c", script], stdio=(theirs.fileno(), theirs.fileno(), theirs.fileno())
    )
    theirs.close()
    try:
        mine.sendall(b"x" * 100_000)
        mine.shutdown(socket.SHUT_WR)
        got = bytearray()
        while chunk := mine.recv(1 << 20):
            got += chunk
        assert process.wait(60) == 0
    finally:
        process.close()
        mine.close()
    body = bytes(range(256)) * 65536
    assert got == b"x" * 100_000 + body + b"done\n"


def test_docker_kill_ends_the_streams_and_close_removes_the_container(
    docker_backend: DockerBackend,
) -> None:
    r, w = os.pipe()
    process = docker_backend.spawn(["sleep", "600"], pass_fds=[w], stdio=(None, w, None))
    os.close(w)
    try:
        assert process.wait(0.5) is None
        process.kill()
        assert process.wait(60) == -9
        assert select.select([r], [], [], 60)[0] and os.read(r, 10) == b""
        deadline = time.monotonic() + 30  # a killed container removes itself, closed or not
        while not _gone(docker_backend, _container(process)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _gone(docker_backend, _container(process))
    finally:
        process.close()
        os.close(r)
    assert process.pids() == set()
    assert _gone(docker_backend, _container(process))


def _read_until(fd: int, n: int, timeout_s: float = 60.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout_s
    while len(data) < n:
        assert select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]
        chunk = os.read(fd, n - len(data))
        assert chunk, data
        data += chunk
    return data


def test_docker_spawn_of_a_killed_host_process_ends(marker: str) -> None:
    """Its stream closes with the host process (a worker SIGKILLed): the relay kills the
    program, so nothing it started runs on without an owner."""
    import signal
    import subprocess
    import sys

    owner = (
        "import sys, time\n"
        "from rewardgate.sandbox.docker import DockerBackend\n"
        "p = DockerBackend(pool_size=0).spawn(['sh', '-c', sys.argv[1]])\n"
        "print(p.container_id, flush=True)\n"
        "time.sleep(600)\n"
    )
    held = f"sleep 600; : {marker}"
    child = subprocess.Popen(
        [sys.executable, "-c", owner, f"sh -c '{held}' & sh -c '{held}'"], stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip()
        deadline = time.monotonic() + 30
        while len(host_pids_with(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(host_pids_with(marker)) >= 2
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 30
    while host_pids_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert host_pids_with(marker) == []
