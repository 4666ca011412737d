"""Long-lived processes on bwrap: what `BwrapBackend.spawn` starts and returns.

The sandbox is a run's (`BwrapBackend._sandbox_args`: the same namespaces, read-only
system, tmpfs work dir, seccomp filter; the same cgroups and rlimits from `Limits`), and
so is the launch chain (bash joins the cgroups and moves descriptors, bwrap, the
sandbox's `sh` as pid 1 sets the rlimits and reports that set-up worked on a pipe).
What differs:

- nothing is supervised: the caller talks to the program over the descriptors it
  passed (`pass_fds` become fd 3, 4, ... inside) and ends it with `close`;
- `/tmp` is a link to the work dir (programs such as Chromium put their profile there);
- bwrap is started by a thread that lives as long as the process
  (`supervise.start_kept`: bwrap dies with the thread that forked it).

`close` kills every process of the cgroups (else the sandbox's pid 1, whose death ends
its pid namespace), waits for bwrap and removes the cgroups.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rewardgate.contract.errors import SandboxError
from rewardgate.sandbox.api import Limits, Mount
from rewardgate.sandbox.cgroups import RunGroup
from rewardgate.sandbox.supervise import high_fd, readable, start_kept

if TYPE_CHECKING:
    from rewardgate.sandbox.bwrap import BwrapBackend

__all__ = ["BwrapProcess", "spawn"]

CLOSE_WAIT_S = 5.0


class BwrapProcess:
    """A program spawned in a bwrap sandbox (`rewardgate.sandbox.api.Process`)."""

    def __init__(self, group: RunGroup | None) -> None:
        self._group = group
        self._proc: subprocess.Popen[bytes] | None = None
        self._exited = threading.Event()
        self._closing = threading.Lock()

    @property
    def launcher_pid(self) -> int | None:
        """Host pid of the launch chain's first process (bwrap, once it has exec'd)."""
        return self._proc.pid if self._proc is not None else None

    def wait(self, timeout: float | None = None) -> int | None:
        if not self._exited.wait(timeout) or self._proc is None:
            return None
        code = self._proc.returncode
        # The sandbox's sh reports a program killed by signal N as 128 + N.
        return -(code - 128) if code is not None and 128 < code <= 192 else code

    def kill(self) -> None:
        proc = self._proc
        spare = proc.pid if proc is not None else None
        if self._group is not None and self._group.kill_all(spare=spare):
            return
        if proc is not None and not self._exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                proc.kill()  # bwrap's pid 1 dies with it (--die-with-parent)

    def pids(self) -> set[int]:
        if self._group is not None:
            return self._group.pids()
        proc = self._proc
        return {proc.pid} if proc is not None and not self._exited.is_set() else set()

    def close(self) -> None:
        if not self._closing.acquire(blocking=False):
            return  # closed (or being closed) already: held for good
        self.kill()
        if self._proc is not None and not self._exited.wait(CLOSE_WAIT_S):
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            self._exited.wait(CLOSE_WAIT_S)
        if self._group is not None:
            self._group.kill_all()
            self._group.remove()

    def _start(
        self, cmd: list[str], pass_fds: list[int], stdio: list[int | None], uid: int | None
    ) -> None:
        streams = [fd if fd is not None else subprocess.DEVNULL for fd in stdio]
        try:
            self._proc, self._exited = start_kept(
                cmd, (streams[0], streams[1], streams[2]), pass_fds, uid, "rewardgate-spawn"
            )
        except OSError as exc:
            raise SandboxError(f"cannot start bwrap: {exc}") from exc


def spawn(
    backend: BwrapBackend,
    argv: Sequence[str],
    files: Mapping[str, bytes | str],
    limits: Limits,
    mounts: Sequence[Mount],
    pass_fds: Sequence[int],
    stdio: Sequence[int | None],
    setup_timeout_s: float,
) -> BwrapProcess:
    """Start `argv` as `Backend.spawn` describes; returns once the sandbox is set up."""
    from rewardgate.sandbox.bwrap import WORKDIR

    to_close: list[int] = []
    group = backend._run_group(limits, extra_pids=2)
    process = BwrapProcess(group)
    try:
        extra = ["--symlink", WORKDIR, "/tmp"]
        bw = backend._sandbox_args(files, limits, mounts, to_close, extra)
        file_fds = list(to_close)
        # The caller's descriptors, copied high first: bash moves them to 3, 4, ... and a
        # low one must not be overwritten before it has moved.
        passed = [high_fd(os.dup(fd)) for fd in pass_fds]
        to_close += passed
        started_r, started_w = (high_fd(fd) for fd in os.pipe())
        to_close += [started_r, started_w]
        started_at = 3 + len(passed)
        bw += [backend._limits_script(limits, group, started_at), "sh", *argv]
        launcher = [
            f"echo $$ > {shlex.quote(str(p))} || exit 125"
            for p in (group.procs_files if group else [])
        ]
        moves = [f"{3 + i}>&{fd} {fd}>&-" for i, fd in enumerate(passed)]
        moves.append(f"{started_at}>&{started_w} {started_w}>&-")
        launcher += [f"exec {' '.join(moves)}", 'exec "$@"']
        cmd = [backend._tools["bash"], "-c", "\n".join(launcher), "rewardgate", *bw]
        process._start(cmd, [*passed, started_w, *file_fds], list(stdio), backend._uid)
        os.close(started_w)
        to_close.remove(started_w)
        ready = readable([started_r], setup_timeout_s)
        if not ready or not os.read(started_r, 1):
            code = process.wait(0)
            process.close()
            raise SandboxError(
                "the spawned sandbox did not start"
                + (f" (exit {code})" if code is not None else f" within {setup_timeout_s} s")
            )
        return process
    except BaseException:
        process.close()
        if group is not None:
            group.remove()
        raise
    finally:
        for fd in to_close:
            with contextlib.suppress(OSError):
                os.close(fd)
