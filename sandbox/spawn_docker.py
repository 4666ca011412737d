"""Long-lived processes on docker: what `DockerBackend.spawn` starts and returns.

A spawned program gets a container of its own, made as a pooled one is (no network,
read-only root, no capability, no-new-privileges, Docker's seccomp profile, the run's
memory and pids limits as the container's cgroup limits, one CPU), plus a tmpfs `/tmp`
(long-lived programs such as Chromium keep a profile there), and is never pooled: the
launcher (`inside/docker_launcher.py`) runs it as one job, so it gets the files, the
rlimits and rewardgate's own seccomp filter a run gets, only with no wall-clock limit.

Descriptors (`pass_fds`, `stdio`) cannot cross the Docker daemon, so their bytes do:
the launcher's exec stream, which any daemon carries (local, remote, or the host's seen
from the service's own container, where a bind-mounted socket folder would not be the
daemon's), is multiplexed into frames (`inside/relay.py`). Inside, the program gets a
pipe on each fd the caller passed (a socket pair where the caller's descriptor is
read-write, e.g. Node's stdio), /dev/null on the other fds of 0-2. Here one pump thread
per process relays the frames to and from duplicates of the caller's descriptors, whose
originals stay the caller's to close: an input reaching EOF here closes the program's
end, a program closing its output closes the duplicate (or shuts a socket's write
side), so each side sees the other's EOF as it would on a real descriptor.

`wait` reads the exit status from the relay's last frame; `kill` kills the container's
init, which ends the container and every process in it (the stream ends: -9); `close`
also removes the container, so nothing of it is left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rewardgate.contract.errors import SandboxError
from rewardgate.sandbox.api import Limits, Mount
from rewardgate.sandbox.inside.relay import DATA, EOF, EXIT, HEADER, frame
from rewardgate.sandbox.supervise import readable

if TYPE_CHECKING:
    from rewardgate.sandbox.docker import DockerBackend, _Box

__all__ = ["DockerProcess", "spawn"]

# The "wall" limit a spawned job runs under: none a program could reach.
NO_WALL_S = 365 * 24 * 3600.0
CLOSE_WAIT_S = 10.0
CHUNK = 1 << 16
# Docker's header on each piece of an exec's output (no tty): stream, 0, 0, 0, length.
DOCKER_HEADER = struct.Struct(">BxxxI")


def stream_mode(fd: int | None) -> str | None:
    """How the program uses the caller's `fd`: "r" reads it (the caller passed a read
    end), "w" writes it, "rw" both (a socket); None: /dev/null."""
    if fd is None:
        return None
    try:
        access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError as exc:
        raise SandboxError(f"cannot pass descriptor {fd}: {exc}") from exc
    return {os.O_RDONLY: "r", os.O_WRONLY: "w"}.get(access, "rw")


class DockerProcess:
    """A program spawned in a container of its own (`rewardgate.sandbox.api.Process`)."""

    def __init__(self, backend: DockerBackend, box: _Box, modes: list[str | None]) -> None:
        self.container_id = box.id
        self._backend = backend
        self._box = box
        self._modes = modes
        self._fds: dict[int, int] = {}  # program fd -> our duplicate of the caller's
        self._inputs: dict[int, int] = {}  # duplicate read here -> program fd
        self._origin: dict[int, int] = {}  # program fd -> the caller's descriptor
        self._code: int | None = None
        self._exited = threading.Event()
        self._killed = threading.Event()
        self._closing = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._said = bytearray()  # the launcher's stderr, for a failure's message
        self._pump: threading.Thread | None = None

    def wait(self, timeout: float | None = None) -> int | None:
        if not self._exited.wait(timeout):
            return None
        return self._code

    def kill(self) -> None:
        self._killed.set()
        with contextlib.suppress(Exception):
            self._backend._api().kill(self.container_id, signal="SIGKILL")

    def pids(self) -> set[int]:
        """Host pids of the container's processes (its init and launcher included)."""
        try:
            top = self._backend._api().top(self.container_id)
        except Exception:
            return set()
        column = top["Titles"].index("PID")
        return {int(row[column]) for row in top.get("Processes") or ()}

    def close(self) -> None:
        if not self._closing.acquire(blocking=False):
            return  # closed (or being closed) already: held for good
        self.kill()
        self._exited.wait(CLOSE_WAIT_S)
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._pump is not None and self._pump is not threading.current_thread():
            self._pump.join(CLOSE_WAIT_S)
        self._remove()
        if not self._exited.is_set():
            self._end(-9)
        for fd in (*self._fds.values(), self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def _remove(self) -> None:
        """Remove the container and return once it is gone (or after CLOSE_WAIT_S): a
        closed process leaves nothing behind."""
        box = self._box
        box.detach()
        with self._backend._lock:
            self._backend._all.discard(box.id)
        deadline = time.monotonic() + CLOSE_WAIT_S
        while time.monotonic() < deadline:
            try:
                api = self._backend._api()
                api.remove_container(box.id, force=True)
            except Exception as exc:
                status = getattr(getattr(exc, "response", None), "status_code", None)
                if status == 404:
                    return
                if status != 409:  # 409: auto-removal under way; anything else: give up
                    return
            else:
                return
            time.sleep(0.1)

    # -- the pump ------------------------------------------------------------------------

    def _start(self, passed: list[int | None]) -> None:
        seen: set[int] = set()
        for target, fd in enumerate(passed):
            if fd is not None:
                self._fds[target] = os.dup(fd)
                self._origin[target] = fd
                # One descriptor on several fds (a socket as stdin and stdout): its
                # input goes to the first of them only, as one reader would take it.
                if self._modes[target] != "w" and fd not in seen:
                    self._inputs[self._fds[target]] = target
                seen.add(fd)
        self._pump = threading.Thread(target=self._run, name="rewardgate-docker-spawn", daemon=True)
        self._pump.start()

    def _end(self, code: int) -> None:
        if not self._exited.is_set():
            self._code = -9 if self._killed.is_set() else code
            self._exited.set()

    def _send(self, data: bytes) -> None:
        sock = self._box.sock
        if sock is None:
            return
        with self._send_lock, contextlib.suppress(OSError):
            sock.sendall(data)

    def _run(self) -> None:
        """Relay until the stream ends: the program's frames to the caller's descriptors,
        the caller's input to the program."""
        sock = self._box.sock
        assert sock is not None
        inputs = self._inputs
        raw = bytearray(self._box.pending)
        out = bytearray()
        sock_fd = sock.fileno()
        try:
            while True:
                ready = readable([sock_fd, self._wake_r, *inputs], None)
                if self._wake_r in ready:
                    break
                for fd in [fd for fd in ready if fd in inputs]:
                    self._forward(fd, inputs)
                if sock_fd not in ready:
                    continue
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                raw += chunk
                while len(raw) >= DOCKER_HEADER.size:
                    kind, size = DOCKER_HEADER.unpack_from(raw)
                    if len(raw) < DOCKER_HEADER.size + size:
                        break
                    piece = raw[DOCKER_HEADER.size : DOCKER_HEADER.size + size]
                    del raw[: DOCKER_HEADER.size + size]
                    if kind == 1:
                        out += piece
                    else:
                        self._said = (self._said + piece)[-4096:]
                self._deliver(out)
        except OSError:
            pass
        self._end(-9)
        for fd in list(self._fds.values()):  # the program is gone: so are its streams
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def _forward(self, fd: int, inputs: dict[int, int]) -> None:
        """The caller wrote to (or closed) an input of the program: on to the container."""
        target = inputs[fd]
        try:
            data = os.read(fd, CHUNK)
        except OSError:
            data = b""
        if not data:
            del inputs[fd]
        self._send(frame(target, DATA, data) if data else frame(target, EOF))

    def _deliver(self, out: bytearray) -> None:
        """Whole relay frames of `out` onto the caller's descriptors."""
        while len(out) >= HEADER.size:
            target, op, size = HEADER.unpack_from(out)
            if len(out) < HEADER.size + size:
                return
            payload = bytes(out[HEADER.size : HEADER.size + size])
            del out[: HEADER.size + size]
            fd = self._fds.get(target)
            if op == EXIT:
                self._end(int(payload))
            elif fd is None:
                continue
            elif op == DATA:
                with contextlib.suppress(OSError):
                    view = memoryview(payload)
                    while view:
                        view = view[os.write(fd, view) :]
            elif op == EOF and self._modes[target] == "w":
                os.close(self._fds.pop(target))
            elif op == EOF:
                # A socket on several fds (stdout and stderr) is shut once all have ended.
                origin = self._origin.pop(target)
                if origin not in self._origin.values():
                    with contextlib.suppress(OSError):
                        socket.socket(fileno=os.dup(fd)).shutdown(socket.SHUT_WR)


def spawn(
    backend: DockerBackend,
    argv: Sequence[str],
    files: Mapping[str, bytes | str],
    limits: Limits,
    mounts: Sequence[Mount],
    pass_fds: Sequence[int],
    stdio: Sequence[int | None],
) -> DockerProcess:
    """Start `argv` as `Backend.spawn` describes, in a fresh container."""
    passed: list[int | None] = [*stdio, *pass_fds]
    modes = [stream_mode(fd) for fd in passed]
    limits = dataclasses.replace(limits, wall_s=NO_WALL_S)
    payload = backend._job(argv, files, b"", limits, mounts, False, None, streams=modes)
    box = backend._create(limits.memory_mb, max(limits.processes, 1), scratch=True)
    process = DockerProcess(backend, box, modes)
    try:
        backend._send(box, payload)
        process._start(passed)
    except BaseException:
        process.close()
        raise
    return process
