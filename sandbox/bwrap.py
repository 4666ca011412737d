"""The bubblewrap backend: one fresh, unprivileged, network-less sandbox per run.

How one run is launched (one process image chain, no helper daemon):

    bash             started as uid/gid 65534 with no supplementary groups (when the
                     service is root); joins the run's cgroups (pids, memory, cpuacct:
                     their cgroup.procs files are chowned to that uid), moves the channel
                     pipe to fd 3 and the start-up pipe to fd 4, execs bwrap
    bwrap            unprivileged: new user, pid, net, ipc, uts and cgroup namespaces,
                     no nested user namespaces, all capabilities dropped, read-only /usr
                     (+ a few /etc files), tmpfs root remounted read-only, a tmpfs work
                     dir `/sandbox` (the cwd) holding `files`; --die-with-parent, so a
                     killed worker takes its sandboxes along
    sh (sandbox)     pid 1 of the sandbox (bwrap --as-pid-1): sets RLIMIT_CPU/NOFILE/FSIZE
                     (and RLIMIT_AS/NPROC where a cgroup is missing), writes one byte on
                     fd 4 (proof that set-up worked), runs argv as pid 2 and waits for it.
                     bwrap's own pid-1 reaper is not used: bwrap exits without reaping
                     it, leaving a zombie per run to the host's init.

The program runs as uid 65534 both inside and on the host, so RLIMITs bind and a file
that only root may read stays unreadable even if it were mounted. Every process of a run
is in its pid namespace and in its cgroups: on return the namespace's init is dead (which
kills the namespace) and the cgroups are emptied with SIGKILL, then removed.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import posixpath
import resource
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from rewardgate.contract.errors import SandboxError
from rewardgate.sandbox import python_prefix, seccomp
from rewardgate.sandbox.api import ExecResult, Limits, Mount, Process, PythonEntry
from rewardgate.sandbox.cgroups import CgroupManager, RunGroup
from rewardgate.sandbox.host_shipping import entry_command
from rewardgate.sandbox.supervise import RunPipes, Stream, exec_result, high_fd, write_all
from rewardgate.sandbox.warm import WarmPython

__all__ = ["WORKDIR", "BwrapBackend"]

WORKDIR = "/sandbox"
SANDBOX_UID = 65534
PATH = "/usr/local/bin:/usr/bin:/bin"
# What a toolchain needs from /etc; nothing with accounts, keys or host configuration.
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "localtime",
    "python3",
    "python3.11",
    "python3.12",
    "java-17-openjdk",  # the JVM's jvm.cfg and java.security link here
    "R",  # /usr/lib/R/etc links here (Renviron, ldpaths)
    "racket",  # config.rktd: where the collections are
    "php",  # the CLI's php.ini and its extensions' ini files
    "mono",  # Mono's config and machine.config (assembly binding)
    "matplotlibrc",  # Debian's matplotlib refuses to import without it
)
SYSTEM_DIRS = ("usr",)
SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
SETUP_TIMEOUT_S = 30.0
# A warm run's view, for the start-up probe: uid, capability sets, work dir listing.
PROBE_ENTRY = PythonEntry(
    "probe.py",
    {
        "probe.py": (
            "import os\n"
            "def main():\n"
            "    lines = open('/proc/self/status').read().splitlines()\n"
            "    caps = dict(l.split(':') for l in lines if l.startswith('Cap'))\n"
            "    sets = ('CapEff', 'CapPrm', 'CapAmb')\n"
            "    print(os.getuid(), *(int(caps[s], 16) for s in sets),\n"
            "          *sorted(set(os.listdir('.')) - {'probe.py'}))\n"
        )
    },
)


def _check_relpath(name: str) -> str:
    norm = posixpath.normpath(name)
    if not name or norm.startswith(("/", "..")) or norm == ".":
        raise ValueError(f"file name must be relative and inside the work dir: {name!r}")
    return norm


class BwrapBackend:
    """`Backend` on bubblewrap + cgroup v1. Thread- and fork-safe; probes once, lazily.

    What a caller must know:

    - The work dir is `/sandbox` (tmpfs, size `memory_mb`, also `HOME` and `TMPDIR`);
      nothing else is writable but the sandbox's own `/dev` (a per-run tmpfs: /dev/shm).
      `python3` is the system one (/usr/bin/python3), not the service's venv.
    - A `Mount` source must be traversable by uid 65534 (bwrap runs unprivileged): a
      0700 directory fails with `SandboxError`.
    - `wall_s` counts from the moment the program is exec'd, not the sandbox set-up
      (which has its own bound, `SETUP_TIMEOUT_S`); `wall_ms` is measured the same way.
    - bwrap reports a program killed by signal N as status 128 + N; that is mapped back
      to `exit_code == -N`, so a program that itself exits 129..192 reads as a signal.
    - `timed_out` with `details["timeout"]` "wall" or "cpu" (RLIMIT_CPU, whole seconds
      rounded up); `oom_killed` from the memory cgroup's OOM-kill counter.
    - Without writable cgroups runs still work, degraded: RLIMIT_AS for memory and
      RLIMIT_NPROC (shared host-wide by every run's uid 65534) for processes;
      `health()` says so.
    - A seccomp filter (`sandbox/seccomp.py`) refuses the kernel interfaces no program
      needs (keyring, eBPF, perf, userfaultfd, io_uring, mounts, namespaces, ...), in
      cold and warm runs alike.
    """

    name = "bwrap"

    def __init__(
        self,
        bwrap: str = "bwrap",
        cgroup_root: Path = Path("/sys/fs/cgroup"),
        warm: bool = True,
    ) -> None:
        self._bwrap_name = bwrap
        self._warm_wanted = warm
        self._warm: WarmPython | None = None
        # Root drops to SANDBOX_UID; anyone else already is unprivileged and stays.
        self._uid = SANDBOX_UID if os.geteuid() == 0 else None
        self._cgroups = CgroupManager(cgroup_root, owner_uid=self._uid)
        self._lock = threading.Lock()
        self._health: dict[str, str] | None = None
        self._base: list[str] = []
        self._tools: dict[str, str] = {}

    # -- start-up probe -------------------------------------------------------------

    def identity(self) -> str:
        return "host"

    def health(self) -> dict[str, str]:
        if self._health is not None:
            return dict(self._health)
        with self._lock:
            if self._health is None:
                self._health = self._probe()
            return dict(self._health)

    def _probe(self) -> dict[str, str]:
        report: dict[str, str] = {}
        missing = []
        for tool in (self._bwrap_name, "bash"):
            path = shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin")
            if path is None:
                missing.append(tool)
            else:
                self._tools[tool] = path
        parents = self._cgroups.parents()
        for controller in ("pids", "memory", "cpuacct"):
            report[f"cgroup_{controller}"] = (
                "ok" if controller in parents else self._cgroups.problems[controller]
            )
        if missing:
            report["bwrap"] = f"missing {', '.join(missing)}: apt-get install bubblewrap bash"
            report["unprivileged_uid"] = "not tested: bwrap cannot start"
            return report
        self._base = self._base_args()
        try:
            result = self._run(["id", "-u"], {}, b"", Limits(wall_s=10), (), False)
        except SandboxError as exc:
            report["bwrap"] = (
                f"cannot start a sandbox: {exc.message} (unprivileged bwrap needs user "
                "namespaces: sysctl user.max_user_namespaces > 0, and "
                "kernel.unprivileged_userns_clone=1 where that sysctl exists)"
            )
            report["unprivileged_uid"] = "not tested: bwrap cannot start"
            return report
        report["bwrap"] = "ok"
        uid = result.stdout.decode(errors="replace").strip()
        want = str(self._uid if self._uid is not None else os.geteuid())
        report["unprivileged_uid"] = (
            "ok"
            if result.exit_code == 0 and uid == want and want != "0"
            else f"program ran as uid {uid!r} (exit {result.exit_code}), expected {want}"
        )
        report["warm_python"] = self._probe_warm(want) if self._warm_wanted else "off"
        report["seccomp"] = (
            "ok"
            if seccomp.program() is not None
            else f"off: no system call table for {platform.machine()} (sandbox/seccomp.py)"
        )
        return report

    def _probe_warm(self, uid: str) -> str:
        """Start a zygote and check a run in it: unprivileged, no capability, clean dir.

        The probe's zygote is closed again: each worker process starts its own.
        """
        warm = WarmPython(self._zygote_args(), self._uid, self._run_group)
        try:
            result = warm.run(PROBE_ENTRY, {"mine": "x"}, b"", Limits(wall_s=10), False)
        except SandboxError as exc:
            return f"off, runs start cold: {exc.message}"
        finally:
            warm.close()
        seen = result.stdout.decode(errors="replace").split()
        if result.exit_code != 0 or seen != [uid, "0", "0", "0", "mine"]:
            return f"off, runs start cold: probe run saw {seen} (exit {result.exit_code})"
        self._warm = warm
        return "ok"

    def _zygote_args(self) -> list[str]:
        """bwrap arguments of the zygote's sandbox: a cold run's, plus the capabilities its
        trusted set-up uses inside the sandbox's user namespace, and a read-only /dev."""
        caps = ["--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP"]
        return [*self._base, *caps, "--remount-ro", "/dev", "--dir", WORKDIR]

    def _ensure_ready(self) -> None:
        health = self.health()
        if health.get("bwrap") != "ok":
            raise SandboxError(f"bwrap sandbox unavailable: {health.get('bwrap')}")

    def _base_args(self) -> list[str]:
        args = [
            self._tools[self._bwrap_name],
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--as-pid-1",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--hostname",
            "sandbox",
        ]
        for name in SYSTEM_DIRS:
            if os.path.isdir(f"/{name}"):
                args += ["--ro-bind", f"/{name}", f"/{name}"]
        for name in SYSTEM_LINKS:
            host = f"/{name}"
            if os.path.islink(host):
                args += ["--symlink", os.readlink(host), host]
            elif os.path.isdir(host):
                args += ["--ro-bind", host, host]
        for name in ETC_FILES:
            host = f"/etc/{name}"
            if os.path.exists(host):
                args += ["--ro-bind", host, host]
        args += python_prefix.bind_args()  # numpy, pandas, ... for every python3 run
        args += ["--proc", "/proc", "--dev", "/dev", "--clearenv"]
        for key, value in (
            ("PATH", PATH),
            ("HOME", WORKDIR),
            ("TMPDIR", WORKDIR),
            ("LANG", "C.UTF-8"),
            *python_prefix.THREAD_ENV.items(),
        ):
            args += ["--setenv", key, value]
        return args

    # -- one run --------------------------------------------------------------------

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
        if not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a non-empty sequence of str")
        self._ensure_ready()
        return self._run(argv, files or {}, stdin, limits or Limits(), mounts, channel)

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
        self._ensure_ready()
        files = {**entry.files, **(files or {})}
        for name in files:
            _check_relpath(name)
        limits = limits or Limits()
        if self._warm is None:
            argv = entry_command(entry.script)
            return self._run(argv, files, stdin, limits, mounts, channel)
        stdin_bytes = stdin.encode() if isinstance(stdin, str) else bytes(stdin)
        return self._warm.run(entry, files, stdin_bytes, limits, channel, tuple(mounts))

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
        """A long-lived `argv` in a run's sandbox (see `rewardgate.sandbox.spawn_bwrap`)."""
        from rewardgate.sandbox.spawn_bwrap import spawn

        if not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a non-empty sequence of str")
        self._ensure_ready()
        limits = limits or Limits()
        return spawn(self, argv, files or {}, limits, mounts, pass_fds, stdio, SETUP_TIMEOUT_S)

    def _run(
        self,
        argv: Sequence[str],
        files: Mapping[str, bytes | str],
        stdin: bytes | str,
        limits: Limits,
        mounts: Sequence[Mount],
        channel: bool,
    ) -> ExecResult:
        stdin_bytes = stdin.encode() if isinstance(stdin, str) else bytes(stdin)
        to_close: list[int] = []
        group: RunGroup | None = None
        try:
            group = self._run_group(limits, extra_pids=2)
            bw = self._sandbox_args(files, limits, mounts, to_close)
            file_fds = list(to_close)
            bw += [self._limits_script(limits, group), "sh", *argv]

            # Pipes the launcher moves into place: started (fd 4) and channel (fd 3).
            pipes = RunPipes(channel, limits.output_bytes)
            started_r, started_w = (high_fd(fd) for fd in os.pipe())
            to_close += [started_r, started_w]
            launcher = [
                f"echo $$ > {shlex.quote(str(p))} || exit 125"
                for p in (group.procs_files if group else [])
            ]
            pass_fds = [started_w, *file_fds]
            if channel:
                pass_fds.append(pipes.chan_w)
                launcher.append(f"exec 3>&{pipes.chan_w} {pipes.chan_w}>&-")
            launcher.append(f"exec 4>&{started_w} {started_w}>&-")
            launcher.append('exec "$@"')
            cmd = [self._tools["bash"], "-c", "\n".join(launcher), "rewardgate", *bw]
            start = time.monotonic()
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=pipes.stdin_r,
                    stdout=pipes.stdout_w,
                    stderr=pipes.stderr_w,
                    pass_fds=pass_fds,
                    env={"PATH": "/usr/bin:/bin"},
                    cwd="/",
                    user=self._uid,
                    group=self._uid,
                    extra_groups=[] if self._uid is not None else None,
                )
            except OSError as exc:
                pipes.close()
                raise SandboxError(f"cannot start bwrap: {exc}") from exc
            # Only the child may hold the write ends, so EOF means every holder is gone.
            pipes.close_child_ends()
            for fd in [started_w, *file_fds]:
                os.close(fd)
                to_close.remove(fd)
            to_close.remove(started_r)
            return self._supervise(proc, group, limits, pipes, stdin_bytes, started_r, start)
        finally:
            for fd in to_close:
                with contextlib.suppress(OSError):
                    os.close(fd)
            if group is not None:
                group.remove()

    def _run_group(self, limits: Limits, extra_pids: int) -> RunGroup | None:
        """The run's cgroups with its limits, or None where the host has none writable.

        `extra_pids`: the launch's own processes in the group besides the program's, so
        the program's processes and threads get exactly `limits.processes`.
        """
        try:
            group = self._cgroups.create() if self._cgroups.parents() else None
            if group is not None:
                group.set_limits(
                    memory_bytes=limits.memory_mb << 20,
                    pids=max(limits.processes, 1) + extra_pids,
                )
            return group
        except OSError as exc:
            raise SandboxError(f"cannot set up the run's cgroups: {exc}") from exc

    def _sandbox_args(
        self,
        files: Mapping[str, bytes | str],
        limits: Limits,
        mounts: Sequence[Mount],
        fds: list[int],
        extra: Sequence[str] = (),
    ) -> list[str]:
        """bwrap's arguments up to its `sh -c` (the limits script and argv follow): the
        namespaces, the work dir with `files`, `mounts`, `extra`, the seccomp filter.
        The memfds they name go in `fds`, for the caller to pass and close."""
        bw = [*self._base, *self._workdir_args(files, limits, fds), *extra]
        for mount in mounts:
            if not Path(mount.source).exists():
                raise SandboxError(f"mount source does not exist: {mount.source}")
            bw += ["--ro-bind", str(mount.source), mount.target]
        rules = seccomp.program()
        if rules is not None:
            fd = high_fd(os.memfd_create("rewardgate-seccomp"))
            fds.append(fd)
            write_all(fd, rules)
            os.lseek(fd, 0, os.SEEK_SET)
            bw += ["--seccomp", str(fd)]
        return [*bw, "--remount-ro", "/", "--chdir", WORKDIR, "--", "/bin/sh", "-c"]

    @staticmethod
    def _workdir_args(
        files: Mapping[str, bytes | str], limits: Limits, fds: list[int]
    ) -> list[str]:
        """bwrap arguments making the tmpfs work dir with `files`; their memfds go in `fds`."""
        bw = ["--size", str(limits.memory_mb << 20), "--tmpfs", WORKDIR]
        made_dirs: set[str] = set()
        for name, content in files.items():
            rel = _check_relpath(name)
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in made_dirs:
                    made_dirs.add(d)
                    bw += ["--dir", f"{WORKDIR}/{d}"]
            data = content.encode() if isinstance(content, str) else bytes(content)
            fd = high_fd(os.memfd_create("rewardgate-file"))
            fds.append(fd)
            write_all(fd, data)
            os.lseek(fd, 0, os.SEEK_SET)
            bw += ["--file", str(fd), f"{WORKDIR}/{rel}"]
        return bw

    @staticmethod
    def _limits_script(limits: Limits, group: RunGroup | None, started_fd: int = 4) -> str:
        def clamp(kind: int, want: int) -> int:
            hard = resource.getrlimit(kind)[1]
            return want if hard == resource.RLIM_INFINITY else min(want, hard)

        cpu = max(1, math.ceil(limits.cpu_s))
        cmds = [
            f"ulimit -S -t {cpu}",
            f"ulimit -H -t {cpu + 1}",
            f"ulimit -n {clamp(resource.RLIMIT_NOFILE, max(limits.open_files, 4))}",
            f"ulimit -f {max(1, limits.file_size_mb * 2048)}",  # 512-byte blocks
        ]
        if group is None or "memory" not in group.dirs:
            cmds.append(f"ulimit -v {limits.memory_mb * 1024}")
        if group is None or "pids" not in group.dirs:
            cmds.append(f"ulimit -p {max(limits.processes, 1)}")  # dash: -p is NPROC
        done = f"printf x >&{started_fd} && exec {started_fd}>&-"
        return " && ".join(cmds) + f' && {done} && {{ "$@"; }}'

    def _supervise(
        self,
        proc: subprocess.Popen[bytes],
        group: RunGroup | None,
        limits: Limits,
        pipes: RunPipes,
        stdin: bytes,
        started_fd: int,
        start: float,
    ) -> ExecResult:
        started = Stream(1)
        pidfd = os.pidfd_open(proc.pid)
        pump = pipes.pump(stdin, watch=[pidfd, started_fd])
        try:
            # The program's clock starts when it does (the start-up byte), so a loaded
            # host's slow sandbox set-up never eats into `wall_s`; set-up has its own bound.
            deadline = start + SETUP_TIMEOUT_S
            began = 0.0
            timed_out = False
            rusage: resource.struct_rusage | None = None
            exited_at = killed_at = 0.0
            while pump.busy:
                now = time.monotonic()
                if not began and started.data:
                    began = now
                    deadline = began + limits.wall_s
                if not timed_out and now >= deadline:
                    if not began:
                        self._kill(proc, group)
                        raise SandboxError(f"sandbox did not start within {SETUP_TIMEOUT_S} s")
                    timed_out = True
                    self._kill(proc, group)
                    killed_at = now
                if timed_out and proc.returncode is None and now - killed_at > 2.0:
                    proc.kill()  # the launcher did not exit once its sandbox was gone
                if proc.returncode is not None and now - exited_at > 2.0:
                    # The launcher is gone but a pipe is still held: only a process of
                    # this run can hold it, so the run's cgroups are killed.
                    if group is None or not group.kill_all(timeout_s=2.0):
                        raise SandboxError("a sandboxed process outlived its pid namespace")
                    exited_at = now
                done = timed_out or proc.returncode is not None
                for fd in pump.poll(0.05 if done else max(0.0, deadline - now)):
                    if fd == pidfd:
                        _, status, rusage = os.wait4(proc.pid, 0)
                        proc.returncode = os.waitstatus_to_exitcode(status)
                        exited_at = time.monotonic()
                        pump.unwatch(pidfd)
                    elif not os.read(started_fd, 1) or started.data:
                        pump.unwatch(started_fd)
                    else:
                        started.data += b"x"
            wall_ms = (time.monotonic() - (began or start)) * 1000
        finally:
            pump.close()
            os.close(pidfd)
            os.close(started_fd)
            if proc.returncode is None:
                self._kill(proc, group)
                try:
                    proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if group is not None and not group.kill_all():
            raise SandboxError("could not kill every process of the run")
        if not started.data:
            err = pipes.streams[1]
            raise SandboxError(
                "sandbox failed to start: " + bytes(err.data).decode(errors="replace").strip()
            )
        return exec_result(
            proc.returncode,
            pipes.streams,
            wall_ms,
            rusage,
            group,
            limits,
            timed_out,
            pipes.chan_r >= 0,
        )

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes], group: RunGroup | None) -> None:
        """Kill every process of the run but the launcher, which then exits by itself.

        Killing bwrap's own process first would orphan its pid-1 child to the host's
        init, which in a container may never reap it (a zombie per timeout). Killing the
        sandbox's pid 1 makes the kernel kill the whole pid namespace.
        """
        if group is None or not group.kill_all(spare=proc.pid):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
