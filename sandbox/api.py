"""The sandbox contract: what a backend runs, under which limits, and what comes back.

Every backend (bwrap, docker) implements `Backend.run` (one-shot: every process is dead
on return) and `Backend.spawn` (a long-lived `Process`, e.g. a browser, that the caller
talks to over descriptors it passes in and ends with `close`); verifiers depend on
this module only, never on a backend's internals, so a request can pick its backend
by name (`options.backend`) and get the same `ExecResult`.

What a program does is never an exception: crashing, looping past `wall_s`, running
out of memory, trying to escape, all come back as an `ExecResult` with the flags set.
`SandboxError` (from `rewardgate.verifiers.errors`) is raised only when the sandbox
itself cannot work (bwrap missing, a mount failing, the host out of resources), and
the engine reports it as `status: "error"`, never as a reward of 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

__all__ = ["Backend", "ExecResult", "Limits", "Mount", "Process", "PythonEntry"]


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. Defaults suit one unit test of a small program."""

    wall_s: float = 10.0
    cpu_s: float = 10.0
    memory_mb: int = 512
    processes: int = 64
    open_files: int = 64
    file_size_mb: int = 16
    output_bytes: int = 1 << 20  # per stream (stdout, stderr, channel); the rest is cut


@dataclass(frozen=True)
class Mount:
    """A host path made visible read-only inside the sandbox (toolchains, build outputs)."""

    source: Path
    target: str


@dataclass(frozen=True)
class PythonEntry:
    """A trusted Python script (`script`, one of `files`) that a run executes as main.

    The script defines `main()` and calls it under `if __name__ == "__main__"`.
    Trusted means ours (a test harness, a runner), never a request's: a backend may
    preload it once and run each request's work by calling its `main()` in a fresh
    sandbox forked from that preloaded interpreter (the warm path), or start
    `python3 -I script` in a cold one; the script must behave the same under both.
    A warm start calls the script's `preload(files)`, if it has one, once with `files`
    (name -> text) before any run, so it can load its helpers and imports ahead.
    """

    script: str
    files: Mapping[str, str]

    @property
    def cold_argv(self) -> list[str]:
        """argv starting the entry in a sandbox whose work dir holds its files, as a cold
        `run_python` starts it (with the sandbox's inside library): for a caller that
        must `run` it, e.g. with mounts of its own that no warm sandbox should keep."""
        from rewardgate.sandbox.host_shipping import entry_command

        return entry_command(self.script)

    @cached_property
    def key(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(f"{name}\0{len(self.files[name])}\0{self.files[name]}".encode())
        return digest.hexdigest()


@dataclass
class ExecResult:
    """How a run ended. `exit_code` is negative (-signal) when a signal ended it."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    wall_ms: float
    cpu_ms: float
    max_rss_kb: int
    timed_out: bool = False
    oom_killed: bool = False
    truncated: bool = False
    # Bytes the sandbox's first process wrote to fd 3: a channel for a trusted harness
    # that the program under test cannot reach (see `Backend.run`'s `channel`).
    channel: bytes | None = None
    details: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.oom_killed)


class Process(Protocol):
    """A long-lived sandboxed program started by `Backend.spawn`.

    It runs in the same namespaces, under the same seccomp filter and cgroup limits as
    a run, until it exits or `kill`/`close` ends it. Safe to use from any thread.
    """

    def wait(self, timeout: float | None = None) -> int | None:
        """The program's exit status once it has ended (negative: killed by that
        signal), or None if it still runs after `timeout` seconds."""
        ...

    def kill(self) -> None:
        """SIGKILL every process of it (its cgroup, else its sandbox's pid 1, which
        takes the pid namespace along); returns at once."""
        ...

    def pids(self) -> set[int]:
        """Host pids of its processes now (empty once it is gone)."""
        ...

    def close(self) -> None:
        """Kill everything of it, wait for it, free its cgroups; idempotent."""
        ...


class Backend(Protocol):
    name: str

    def run(
        self,
        argv: Sequence[str],
        files: Mapping[str, bytes | str] | None = None,
        stdin: bytes | str = b"",
        limits: Limits | None = None,
        *,
        mounts: Sequence[Mount] = (),
        channel: bool = False,
    ) -> ExecResult:
        """Run `argv` in a fresh sandbox whose work dir (the cwd) holds `files`.

        `channel=True` gives the first process an extra writable fd 3, read back into
        `ExecResult.channel`; a trusted harness keeps it and closes it in any process
        it starts for untrusted code. Every process of the run is dead on return.
        """
        ...

    def run_python(
        self,
        entry: PythonEntry,
        files: Mapping[str, bytes | str] | None = None,
        stdin: bytes | str = b"",
        limits: Limits | None = None,
        *,
        channel: bool = False,
        mounts: Sequence[Mount] = (),
    ) -> ExecResult:
        """Run the trusted `entry` with `files` beside it, as `run` would run
        `python3 -I entry.script`; a backend may fork it from a preloaded interpreter.

        `mounts` should be the same few sets across calls (a runtime the entry needs,
        such as a CAD library): a warm backend keeps a preloaded sandbox per set."""
        ...

    def spawn(
        self,
        argv: Sequence[str],
        files: Mapping[str, bytes | str] | None = None,
        limits: Limits | None = None,
        *,
        mounts: Sequence[Mount] = (),
        pass_fds: Sequence[int] = (),
        stdio: tuple[int | None, int | None, int | None] = (None, None, None),
    ) -> Process:
        """Start `argv` in a fresh sandbox (work dir with `files`, as `run`) and return
        while it runs. `pass_fds[i]` is the program's fd 3 + i (the caller's copies stay
        the caller's to close); `stdio` its fd 0-2 (None: /dev/null). `limits.wall_s`
        does not apply (the caller decides when it ends); the other limits do, the CPU
        limit per process. `/tmp` is the work dir (long-lived programs expect one).
        `SandboxError` if it cannot start."""
        ...

    def health(self) -> dict[str, str]:
        """Each capability this backend needs: name -> "ok" or what is wrong and the fix."""
        ...

    def identity(self) -> str:
        """What programs run on here beyond the host's packages, for verdict fingerprints:
        docker's image id; "host" for bwrap, whose toolchains are the host's own."""
        ...
