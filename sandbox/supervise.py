"""What every bwrap run shares, cold or warm: its pipes, capped output and the result.

A run's program is hostile, so the host never blocks on it: `Pump` feeds stdin and
drains stdout, stderr and the channel through one selector, keeping at most
`Limits.output_bytes` of each and discarding the rest (a program printing forever
costs CPU, never memory). `exec_result` turns what the run left (exit status, cgroup
counters, rusage) into the `ExecResult` both launch paths return.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import select
import selectors
import subprocess
import threading
from collections.abc import Iterable, Sequence
from typing import IO, Protocol, TypeVar

from rewardgate.sandbox.api import ExecResult, Limits
from rewardgate.sandbox.cgroups import RunGroup

__all__ = [
    "Pump",
    "RunPipes",
    "Stream",
    "exec_result",
    "high_fd",
    "readable",
    "start_kept",
    "write_all",
]

Stdio = int | IO[bytes] | None


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


Waitable = TypeVar("Waitable", int, _HasFileno)


def readable(sources: Sequence[Waitable], timeout_s: float | None) -> list[Waitable]:
    """Those of `sources` (descriptors or objects with `fileno()`) ready to read, or at
    end of file, within `timeout_s` (None: no limit): `select.select(sources, [], [],
    timeout_s)[0]` without select's ceiling. select() refuses a descriptor numbered
    1024 or more, which a gateway holding a few hundred sessions and connections
    reaches (every session's kernel start then failed with a ValueError)."""
    poller = select.poll()
    by_fd: dict[int, Waitable] = {}
    for source in sources:
        fd = source if isinstance(source, int) else source.fileno()
        by_fd[fd] = source
        poller.register(fd, select.POLLIN | select.POLLPRI)
    wait_ms = None if timeout_s is None else max(0, int(timeout_s * 1000 + 0.999))
    return [by_fd[fd] for fd, _ in poller.poll(wait_ms)]


_CHUNK = 1 << 20
_F_SETPIPE_SZ = 1031


def high_fd(fd: int) -> int:
    """A close-on-exec duplicate of `fd` numbered >= 10 (a launcher's fd moves never clobber it)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Stream:
    """Keeps the first `cap` bytes of a pipe and drains (discards) the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.truncated = False

    def feed(self, chunk: memoryview) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        if len(chunk) > room:
            self.truncated = True


class Pump:
    """Feeds one run's stdin and drains its output pipes; owns (and closes) their fds.

    `watch` fds are only polled: `poll` returns those that became readable, for the
    caller to handle (a pidfd, a control socket). The run is over for the pump when
    `open` is False: every output pipe reached EOF, which happens only when no process
    holding a write end is left.
    """

    def __init__(
        self, outputs: dict[int, Stream], stdin_fd: int, stdin: bytes, watch: Iterable[int] = ()
    ) -> None:
        self._outputs = dict(outputs)
        self._sel = selectors.DefaultSelector()
        self._buf = bytearray(_CHUNK)
        self._view = memoryview(self._buf)
        self._owned = [*self._outputs, stdin_fd]
        for fd in self._outputs:
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, _F_SETPIPE_SZ, _CHUNK)
            self._sel.register(fd, selectors.EVENT_READ)
        self._watched: set[int] = set()
        for fd in watch:
            self._sel.register(fd, selectors.EVENT_READ)
            self._watched.add(fd)
        self._stdin_fd = stdin_fd
        self._pending = memoryview(stdin)
        if self._pending:
            os.set_blocking(stdin_fd, False)
            self._sel.register(stdin_fd, selectors.EVENT_WRITE)
        else:
            self._close_stdin()

    @property
    def open(self) -> bool:
        return any(fd in self._outputs for fd in self._sel.get_map())

    @property
    def busy(self) -> bool:
        """Anything left to move or watch."""
        return bool(self._sel.get_map())

    def unwatch(self, fd: int) -> None:
        if fd in self._watched:
            self._watched.discard(fd)
            self._sel.unregister(fd)

    def poll(self, timeout: float) -> list[int]:
        """Move what is ready within `timeout` seconds; the watched fds that are readable."""
        ready = []
        for key, _ in self._sel.select(timeout):
            fd = int(key.fd)
            if fd in self._watched:
                ready.append(fd)
            elif fd == self._stdin_fd:
                self._feed_stdin()
            else:
                n = os.readv(fd, [self._buf])
                if n == 0:
                    self._sel.unregister(fd)
                else:
                    self._outputs[fd].feed(self._view[:n])
        return ready

    def _feed_stdin(self) -> None:
        try:
            self._pending = self._pending[os.write(self._stdin_fd, self._pending[:_CHUNK]) :]
        except BlockingIOError:
            return
        except BrokenPipeError:  # the program stopped reading: fine
            self._pending = self._pending[:0]
        if not self._pending:
            self._sel.unregister(self._stdin_fd)
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self._stdin_fd in self._owned:
            self._owned.remove(self._stdin_fd)
            os.close(self._stdin_fd)

    def close(self) -> None:
        self._sel.close()
        for fd in self._owned:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._owned.clear()


class RunPipes:
    """A run's stdin, stdout, stderr and (optionally) channel pipes, all numbered >= 10.

    The child ends (`child_ends`) go to the sandbox and must be closed here once it
    holds them; the parent ends belong to the `Pump` that `pump` makes.
    """

    def __init__(self, channel: bool, cap: int) -> None:
        self.streams = (Stream(cap), Stream(cap), Stream(cap))
        self.stdin_r, self.stdin_w = (high_fd(fd) for fd in os.pipe())
        self.stdout_r, self.stdout_w = (high_fd(fd) for fd in os.pipe())
        self.stderr_r, self.stderr_w = (high_fd(fd) for fd in os.pipe())
        self.chan_r = self.chan_w = -1
        if channel:
            self.chan_r, self.chan_w = (high_fd(fd) for fd in os.pipe())
        self._pumped = False

    @property
    def child_ends(self) -> list[int]:
        return [fd for fd in (self.stdin_r, self.stdout_w, self.stderr_w, self.chan_w) if fd >= 0]

    def pump(self, stdin: bytes, watch: Iterable[int] = ()) -> Pump:
        out, err, chan = self.streams
        outputs = {self.stdout_r: out, self.stderr_r: err}
        if self.chan_r >= 0:
            outputs[self.chan_r] = chan
        self._pumped = True
        return Pump(outputs, self.stdin_w, stdin, watch)

    def close_child_ends(self) -> None:
        """Once the sandbox holds them: from now on EOF means every holder is gone."""
        for fd in self.child_ends:
            os.close(fd)
        self.stdin_r = self.stdout_w = self.stderr_w = self.chan_w = -1

    def close(self) -> None:
        """Close every end still here (a launch that failed, or the pump's if never made)."""
        fds = self.child_ends
        if not self._pumped:
            fds += [self.stdin_w, self.stdout_r, self.stderr_r, self.chan_r]
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.stdin_r = self.stdout_w = self.stderr_w = self.chan_w = -1


def exec_result(
    returncode: int,
    streams: tuple[Stream, Stream, Stream],
    wall_ms: float,
    rusage: resource.struct_rusage | None,
    group: RunGroup | None,
    limits: Limits,
    timed_out: bool,
    channel: bool,
) -> ExecResult:
    """The run's `ExecResult`; `returncode` as bwrap reports it (signal N = 128 + N)."""
    out, err, chan = streams
    code = returncode
    if 128 < code < 128 + 65:
        code = -(code - 128)
    cpu_ns = group.cpu_ns() if group else None
    if cpu_ns is not None:
        cpu_ms = cpu_ns / 1e6
    elif rusage is not None:
        cpu_ms = (rusage.ru_utime + rusage.ru_stime) * 1000
    else:
        cpu_ms = 0.0
    # The peak of the run: the cgroup's (whole run, incl. tmpfs files) or, without
    # one, the largest waited-for process's. The cgroup's is preferred: ru_maxrss
    # survives exec, so the launcher reports the RSS of the process that forked it
    # (a large Python worker) even when the program itself is tiny.
    peak_bytes = group.max_memory_bytes() if group is not None else None
    if peak_bytes is not None:
        rss_kb = peak_bytes // 1024
    else:
        rss_kb = rusage.ru_maxrss if rusage is not None else 0
    details: dict[str, object] = {}
    oom = bool(group and (group.oom_kills() or 0) > 0)
    if not oom and code == -9 and group is None:
        oom = rss_kb * 1024 >= (limits.memory_mb << 20) * 0.9
    if timed_out:
        details["timeout"] = "wall"
    elif code == -24 or (code == -9 and not oom and cpu_ms >= limits.cpu_s * 1000):
        timed_out = True
        details["timeout"] = "cpu"
    if group is not None and (group.memory_failures() or 0) > 0:
        details["memory_limit_hit"] = True
    return ExecResult(
        exit_code=code,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        wall_ms=wall_ms,
        cpu_ms=cpu_ms,
        max_rss_kb=int(rss_kb),
        timed_out=timed_out,
        oom_killed=oom,
        truncated=out.truncated or err.truncated or chan.truncated,
        channel=bytes(chan.data) if channel else None,
        details=details,
    )


def start_kept(
    cmd: Sequence[str],
    stdio: tuple[Stdio, Stdio, Stdio],
    pass_fds: Sequence[int],
    uid: int | None,
    name: str,
) -> tuple[subprocess.Popen[bytes], threading.Event]:
    """Popen `cmd` (a sandbox's launch chain, as `uid` with no supplementary group) from
    a thread that lives as long as the process and reaps it; the Event is set once it
    has exited. bwrap dies with the thread that forked it (`--die-with-parent`), so a
    long-lived sandbox must not be started by a caller's pool thread. Raises OSError."""
    started, exited = threading.Event(), threading.Event()
    box: list[subprocess.Popen[bytes]] = []
    failure: list[OSError] = []

    def keeper() -> None:
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=stdio[0],
                stdout=stdio[1],
                stderr=stdio[2],
                pass_fds=pass_fds,
                env={"PATH": "/usr/bin:/bin"},
                cwd="/",
                user=uid,
                group=uid,
                extra_groups=[] if uid is not None else None,
            )
        except OSError as exc:
            failure.append(exc)
            return
        finally:
            started.set()
        box.append(proc)
        proc.wait()
        exited.set()

    threading.Thread(target=keeper, name=name, daemon=True).start()
    started.wait()
    if failure:
        raise failure[0]
    return box[0], exited
