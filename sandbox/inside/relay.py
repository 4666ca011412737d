"""The streams of a program spawned on docker, relayed over the launcher's exec stream.

No descriptor crosses the Docker daemon, but the exec that runs the launcher has one
byte stream each way, and any daemon (local, remote, reached from inside the service's
own container) carries it. So a spawned program's descriptors are made here, in the
container, and their bytes travel as frames on that stream: `run` gives the program a
pipe (or, for a descriptor the host passed read-write, a socket pair) on each fd the
host asked for, /dev/null on the others of 0-2, and relays both ways until the program
exits, when it kills what the program left (`kill_all`), sends the end of every output
and one exit frame.

A frame, both ways: `HEADER` (the program's fd, the operation, the payload's length)
then the payload. DATA carries bytes, EOF closes that direction of the fd (the host's
copy reached EOF, or the program's output did), EXIT (to the host only) carries the
program's exit status as text. The launcher's stdin and stdout are the stream: EOF on
stdin means the host is gone, and the program goes with it. The relay never blocks on
the program: bytes for a program that does not read wait in a buffer (the container's
memory limit bounds it), and a program's output is read only while less than `HIGH`
bytes wait for the host, so a flood pushes back on the program, not on the stream.
"""

from __future__ import annotations

import os
import select
import socket
import struct

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

HEADER = struct.Struct(">BBI")
DATA, EOF, EXIT = 0, 1, 2
CHUNK = 1 << 16
HIGH = 1 << 20


def frame(fd: int, op: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(fd, op, len(payload)) + payload


def program_ends(modes: list[str | None]) -> tuple[list[int], dict[int, int]]:
    """The program's fd i (`ends[i]`) for each mode, and the relay's end of each
    relayed one: "r" the program reads (a pipe), "w" it writes, "rw" a socket pair,
    None /dev/null."""
    ends: list[int] = []
    mine: dict[int, int] = {}
    for target, mode in enumerate(modes):
        if mode is None:
            ends.append(os.open(os.devnull, os.O_RDWR))
            continue
        if mode == "rw":
            a, b = socket.socketpair()
            here, there = a.detach(), b.detach()
        elif mode == "r":
            there, here = os.pipe()
        else:
            here, there = os.pipe()
        ends.append(there)
        mine[target] = here
        os.set_blocking(here, False)
    return ends, mine


def end_input(fd: int, mode: str | None) -> None:
    """The host's side of `fd` reached EOF: so does the program's, read-side only."""
    try:
        if mode == "rw":
            socket.socket(fileno=os.dup(fd)).shutdown(socket.SHUT_WR)
        else:
            os.close(fd)
    except OSError:
        pass


class Relay:
    """One spawned program's streams (see the module docstring)."""

    def __init__(self, modes: list[str | None], mine: dict[int, int]) -> None:
        self.modes = modes
        self.mine = mine
        self.inbox: dict[int, bytearray] = {fd: bytearray() for fd in mine}
        self.ended: set[int] = set()  # inputs whose EOF came: closed once drained
        self.reading = {fd for fd in mine if modes[fd] in ("w", "rw")}
        self.writing = {fd for fd in mine if modes[fd] in ("r", "rw")}
        self.closed: set[int] = set()
        self.out = bytearray()
        self.stream = bytearray()

    def from_host(self) -> None:
        data = os.read(0, CHUNK)
        if not data:
            raise EOFError("the host is gone")
        self.stream += data
        while len(self.stream) >= HEADER.size:
            fd, op, size = HEADER.unpack_from(self.stream)
            if len(self.stream) < HEADER.size + size:
                return
            payload = bytes(self.stream[HEADER.size : HEADER.size + size])
            del self.stream[: HEADER.size + size]
            if fd not in self.writing:
                continue
            if op == DATA:
                self.inbox[fd] += payload
            elif op == EOF:
                self.ended.add(fd)
            self.feed(fd)

    def feed(self, fd: int) -> None:
        """Write what waits for the program's `fd`; close it once its EOF came."""
        box = self.inbox[fd]
        try:
            while box:
                del box[: os.write(self.mine[fd], box[:CHUNK])]
        except BlockingIOError:
            return
        except OSError:  # the program closed its end: nothing more reaches it
            box.clear()
            self.ended.add(fd)
        if fd in self.ended and not box:
            self.writing.discard(fd)
            end_input(self.mine[fd], self.modes[fd])
            if self.modes[fd] == "r":
                self.closed.add(fd)

    def from_program(self, fd: int) -> None:
        try:
            data = os.read(self.mine[fd], CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.out += frame(fd, DATA, data)
        else:
            self.reading.discard(fd)
            self.out += frame(fd, EOF)

    def flush(self, block: bool) -> None:
        os.set_blocking(1, block)
        try:
            while self.out:
                del self.out[: os.write(1, self.out[:CHUNK])]
        except BlockingIOError:
            pass

    def loop(self, done_fd: int) -> None:
        """Relay until the program (`done_fd`: its pidfd) has exited."""
        while True:
            watch = [0, done_fd] + (
                [self.mine[fd] for fd in self.reading] if len(self.out) < HIGH else []
            )
            outs = [1] if self.out else []
            outs += [self.mine[fd] for fd in self.writing if self.inbox[fd]]
            ready_r, ready_w, _ = select.select(watch, outs, [])
            by_end = {end: fd for fd, end in self.mine.items()}
            if 0 in ready_r:
                self.from_host()
            for end in ready_r:
                if end in by_end and by_end[end] in self.reading:
                    self.from_program(by_end[end])
            for end in ready_w:
                if end == 1:
                    self.flush(False)
                elif by_end.get(end) in self.writing:
                    self.feed(by_end[end])
            if done_fd in ready_r:
                return

    def drain(self) -> None:
        """The program's leftovers are dead: read its outputs to their end."""
        for fd in sorted(self.reading):
            os.set_blocking(self.mine[fd], True)
            while fd in self.reading:
                self.from_program(fd)
                self.flush(True)


def run(job: dict[str, Any], start: Callable[[dict[str, Any], list[int]], int],
        kill_all: Callable[[], object]) -> None:  # fmt: skip
    """Start the job's program on relayed streams (`start(job, fds)` forks it with
    `fds[i]` as its fd i and returns its pid) and relay until it has exited."""
    modes: list[str | None] = list(job["streams"])
    ends, mine = program_ends(modes)
    pid = start(job, ends)
    for end in ends:
        os.close(end)
    relay = Relay(modes, mine)
    done_fd = os.pidfd_open(pid)
    try:
        relay.loop(done_fd)
    except EOFError:
        kill_all()
        os._exit(0)
    _, status, _ = os.wait4(pid, 0)
    os.close(done_fd)
    kill_all()
    relay.drain()
    relay.out += frame(0, EXIT, str(os.waitstatus_to_exitcode(status)).encode())
    relay.flush(True)
    for fd, end in mine.items():
        if fd not in relay.closed:
            os.close(end)
