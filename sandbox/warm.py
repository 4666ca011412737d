"""The warm Python path: each run forked from a preloaded interpreter, in fresh namespaces.

A cold run pays bwrap's set-up and a Python start (tens of milliseconds); a warm run
asks a long-lived sandbox, the zygote (`inside/zygote.py`, which explains why reuse is clean),
to fork it. Per run the host:

1. makes the run's cgroups, pipes, a socket pair and a memfd with its files, and sends
   the zygote a request carrying their fds (SCM_RIGHTS);
2. learns the run's first process's pid from the kernel (SCM_CREDENTIALS on its
   hello), moves it into the cgroups and says go: from then on every process of the
   run is in them, so the memory, process and CPU limits and the kill-all of a cold
   run hold unchanged;
3. pumps the pipes until every end is closed and the run's status has arrived.

An unexplained end (the zygote died, the run's first process vanished without a
status and no limit killed it) is a `SandboxError`, never a verdict on the program.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

from rewardgate.contract.errors import SandboxError
from rewardgate.sandbox import seccomp
from rewardgate.sandbox.api import ExecResult, Limits, Mount, PythonEntry
from rewardgate.sandbox.cgroups import RunGroup
from rewardgate.sandbox.host_shipping import server_command
from rewardgate.sandbox.supervise import (
    RunPipes,
    exec_result,
    high_fd,
    readable,
    start_kept,
    write_all,
)

__all__ = ["WarmPython"]

START_TIMEOUT_S = 30.0
MAX_ZYGOTES = 4
_CREDS = struct.calcsize("3i")


class _Zygote:
    """One running zygote sandbox and its control socket."""

    sock: socket.socket
    pid: int
    lock: threading.Lock

    def __init__(self, argv: list[str], uid: int | None) -> None:
        host, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        failure = ""
        try:
            ctl = child.fileno()
            cmd = [*argv, "--remount-ro", "/", "--chdir", "/", "--"]
            cmd += [*server_command("zygote"), str(ctl)]
            self.proc: subprocess.Popen[bytes] | None = None
            try:
                self.proc, _ = start_kept(
                    cmd,
                    (subprocess.DEVNULL, subprocess.DEVNULL, subprocess.PIPE),
                    [ctl],
                    uid,
                    "rewardgate-zygote",
                )
            except OSError as exc:
                failure = str(exc)
        finally:
            child.close()
        if self.proc is None:
            host.close()
            raise SandboxError(f"cannot start the warm sandbox: {failure}")
        self.sock = host
        self.pid = os.getpid()
        self.lock = threading.Lock()
        if not readable([host], START_TIMEOUT_S) or host.recv(16) != b"ready":
            self.close()
            raise SandboxError(f"the warm sandbox did not start: {self._stderr()}")

    def _stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2.0)
        if self.proc.returncode is None:
            return "(still running)"
        return self.proc.stderr.read(4000).decode(errors="replace").strip()

    @property
    def alive(self) -> bool:
        """False once the zygote is gone: it never writes after "ready", so readable = EOF."""
        try:
            return not readable([self.sock], 0)
        except (OSError, ValueError):
            return False

    def send(self, header: dict[str, object], fds: list[int]) -> None:
        with self.lock:
            self.sock.sendmsg(
                [json.dumps(header).encode()],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))],
            )

    def close(self) -> None:
        """Closing the control socket ends the zygote; bwrap then reaps it and exits.

        Killing bwrap first would orphan the zygote to the host's init, which in a
        container may never reap it.
        """
        self.sock.close()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class WarmPython:
    """`run_python` for the bwrap backend: zygotes per process, started on first use.

    `argv` is bwrap with its arguments up to (not including) `--`; `make_group` makes a
    run's cgroups with its limits (None where the host has none).
    """

    def __init__(
        self,
        argv: list[str],
        uid: int | None,
        make_group: Callable[[Limits, int], RunGroup | None],
    ) -> None:
        self._argv = argv
        self._uid = uid
        self._make_group = make_group
        self._lock = threading.Lock()
        # One zygote per set of read-only mounts (a sandbox's mounts are fixed at its
        # start), the least recently used closed past MAX_ZYGOTES.
        self._zygotes: OrderedDict[tuple[Mount, ...], _Zygote] = OrderedDict()

    def _current(self, mounts: tuple[Mount, ...], fresh: bool = False) -> _Zygote:
        with self._lock:
            if any(z.pid != os.getpid() for z in self._zygotes.values()):
                self._zygotes.clear()  # inherited across a fork: the parent's, not ours
            zygote = self._zygotes.pop(mounts, None)
            if zygote is not None and (fresh or not zygote.alive):
                zygote.close()
                zygote = None
            if zygote is None:
                binds = [arg for m in mounts for arg in ("--ro-bind", str(m.source), m.target)]
                zygote = _Zygote([*self._argv, *binds], self._uid)
            self._zygotes[mounts] = zygote
            while len(self._zygotes) > MAX_ZYGOTES:
                self._zygotes.popitem(last=False)[1].close()
            return zygote

    @property
    def launchers(self) -> dict[tuple[Mount, ...], int]:
        """Host pid of the bwrap launching each of this process's zygotes, by mounts."""
        return {m: z.proc.pid for m, z in self._zygotes.items() if z.proc is not None}

    def close(self) -> None:
        with self._lock:
            for zygote in self._zygotes.values():
                if zygote.pid == os.getpid():
                    zygote.close()
            self._zygotes.clear()

    def run(
        self,
        entry: PythonEntry,
        files: Mapping[str, bytes | str],
        stdin: bytes,
        limits: Limits,
        channel: bool,
        mounts: tuple[Mount, ...] = (),
    ) -> ExecResult:
        for mount in mounts:
            if not Path(mount.source).exists():
                raise SandboxError(f"mount source does not exist: {mount.source}")
        group = self._make_group(limits, 2)  # + the run's first process and its pid 1
        pipes = RunPipes(channel, limits.output_bytes)
        host, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        payload = -1
        try:
            host.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            payload = _payload({**entry.files, **files})
            header = {
                "entry": entry.key,
                "script": entry.script,
                "entry_files": sorted(entry.files),
                "limits": _limits(limits, group),
                "seccomp": seccomp.program_b64(),  # mounts and unshares first
            }
            fds = [child.fileno(), payload, *pipes.child_ends]
            zygote = self._current(mounts)
            try:
                zygote.send(header, fds)
            except OSError:  # it died since the last run: one fresh start
                zygote = self._current(mounts, fresh=True)
                zygote.send(header, fds)
            child.close()
            os.close(payload)
            payload = -1
            pipes.close_child_ends()
            return self._supervise(zygote, host, group, pipes, stdin, limits)
        finally:
            pipes.close()
            child.close()
            host.close()
            if payload >= 0:
                os.close(payload)
            if group is not None:
                group.remove()

    def _supervise(
        self,
        zygote: _Zygote,
        host: socket.socket,
        group: RunGroup | None,
        pipes: RunPipes,
        stdin: bytes,
        limits: Limits,
    ) -> ExecResult:
        pid = self._hello(zygote, host, pipes)
        pidfd = os.pidfd_open(pid)
        try:
            if group is not None:
                for procs in group.procs_files:
                    procs.write_text(str(pid))
            host.sendall(b"go")
            began = time.monotonic()
            deadline = began + limits.wall_s
            pump = pipes.pump(stdin, watch=[host.fileno()])
            status: int | None = None
            timed_out = False
            try:
                while pump.busy:
                    now = time.monotonic()
                    if not timed_out and now >= deadline:
                        timed_out = True
                        self._kill(pidfd, group)
                    for _ in pump.poll(0.05 if timed_out else deadline - now):
                        message = host.recv(256)
                        if message:
                            status = int(json.loads(message)["status"])
                        else:
                            pump.unwatch(host.fileno())
            finally:
                pump.close()
            wall_ms = (time.monotonic() - began) * 1000
        finally:
            os.close(pidfd)
        if group is not None and not group.kill_all():
            raise SandboxError("could not kill every process of the run")
        if status is not None:
            code = os.waitstatus_to_exitcode(status)
        elif not zygote.alive:
            raise SandboxError(f"the warm sandbox died during the run: {zygote._stderr()}")
        elif timed_out or (group is not None and (group.oom_kills() or 0) > 0):
            code = -signal.SIGKILL
        else:
            tail = bytes(pipes.streams[1].data[-500:]).decode(errors="replace")
            raise SandboxError(f"the warm run ended without a status: {tail}")
        if code == 125 and b"zygote: run set-up failed" in pipes.streams[1].data:
            tail = bytes(pipes.streams[1].data[-800:]).decode(errors="replace")
            raise SandboxError(f"the warm run could not be set up: {tail}")
        return exec_result(
            code, pipes.streams, wall_ms, None, group, limits, timed_out, pipes.chan_r >= 0
        )

    @staticmethod
    def _hello(zygote: _Zygote, host: socket.socket, pipes: RunPipes) -> int:
        """The run's first process's pid, as this process sees it (the kernel's word)."""
        ready = readable([host], START_TIMEOUT_S)
        if not ready:
            raise SandboxError("the warm sandbox did not start the run")
        message, ancdata, _, _ = host.recvmsg(16, socket.CMSG_SPACE(_CREDS))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and message:
                return int(struct.unpack("3i", data[:_CREDS])[0])
        # No hello: the zygote wrote why on the run's stderr before closing it.
        err = pipes.streams[1]
        with contextlib.suppress(OSError):
            err.data += os.read(pipes.stderr_r, 4000)
        reason = bytes(err.data).decode(errors="replace").strip() or "no reason given"
        raise SandboxError(f"the warm sandbox refused the run: {reason}")

    @staticmethod
    def _kill(pidfd: int, group: RunGroup | None) -> None:
        """Every process of the run; without cgroups, its first one (the rest follow:
        the run's pid 1 dies with it, and its pid namespace with that)."""
        if group is None or not group.kill_all():
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def _payload(files: Mapping[str, bytes | str]) -> int:
    """A memfd holding a JSON line listing (name, size) and then the files' bytes."""
    blobs = [(n, c.encode() if isinstance(c, str) else bytes(c)) for n, c in files.items()]
    head = json.dumps({"files": [[name, len(data)] for name, data in blobs]}).encode()
    fd = high_fd(os.memfd_create("rewardgate-run"))
    write_all(fd, head + b"\n" + b"".join(data for _, data in blobs))
    return fd


def _limits(limits: Limits, group: RunGroup | None) -> dict[str, int]:
    dirs = group.dirs if group is not None else {}
    return {
        "memory_mb": limits.memory_mb,
        "cpu_s": max(1, int(-(-limits.cpu_s // 1))),
        "open_files": max(limits.open_files, 4),
        "file_size_mb": max(1, limits.file_size_mb),
        # Where a cgroup is missing, the rlimits a cold run's shell would set.
        "address_space_mb": 0 if "memory" in dirs else limits.memory_mb,
        "nproc": 0 if "pids" in dirs else max(limits.processes, 1),
    }
