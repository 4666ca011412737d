"""The docker backend: runs in a warm pool of locked-down containers, reused through `exec`.

Each container of the pool is started once from the sandbox image (`sandbox/Dockerfile`)
with no network, a read-only root, every capability dropped, `no-new-privileges`,
Docker's default seccomp profile (and rewardgate's own filter, `sandbox/seccomp.py`,
which the launcher installs on itself for every run: it also refuses io_uring, which
Docker lets through before 25.0), one CPU, memory and pids limits, and two tmpfs
mounts: the work dir `/sandbox` and `/mnt` (build outputs; the image links
`/prog -> /mnt/prog`). Its init is a tiny reaper
running as uid 65533. One `docker exec` per container starts a trusted launcher
(`inside/docker_launcher.py`, shipped as `python3 -I -S -c` source) as uid 65534, which serves
the container's runs one at a time over the exec's stream: it writes a run's files,
runs the program with its limits and pipes, and answers with one framed summary. The
exec's set-up (about 100 ms here) is paid once per container, not per run.

Trust boundary of one run, in the order a hostile program meets it:

- the program's stdin/stdout/stderr (and fd 3, the channel, given only to the first
  process, which a trusted harness closes for the code it starts) are pipes to the
  launcher; the launcher is non-dumpable, so the program (same uid, no capability)
  cannot open `/proc/<launcher>/fd/*` to write into the exec stream or the channel;
- the program can kill or stop the launcher: the host then gets no summary (or none
  in time), reports the run as killed (or timed out), and recycles the container; it
  cannot read what the launcher kept of earlier runs (non-dumpable; the program is
  exec'd, never a fork of the launcher that runs code);
- when the program exits or times out, the launcher kills every process of uid 65534
  and wipes `/sandbox` and `/mnt`; a run that left a process or a file in /dev/shm,
  was killed or timed out recycles its container, so nothing a run plants (a daemon
  hunting for later runs' channels) reaches the next run in that container;
- limits: memory and pids are the container's cgroup limits, updated before a run
  when they differ from the container's current ones (`docker update`); CPU time,
  open files and file size are RLIMITs the launcher sets. Whole-container memory
  limits (not RLIMIT_AS) are what JVM, Go and Node need.

The host's Docker socket is the trust boundary of the service itself: whoever can
talk to it is root on the host, so the service that holds it must be trusted (see the
README's Docker section). `SandboxError` is raised only when docker itself fails
(daemon down, image missing, a container that dies under the launcher).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import posixpath
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardgate.contract.errors import SandboxError
from rewardgate.sandbox import python_prefix, seccomp
from rewardgate.sandbox.api import ExecResult, Limits, Mount, Process, PythonEntry
from rewardgate.sandbox.host_shipping import entry_command, server_command
from rewardgate.sandbox.supervise import readable

__all__ = ["DEFAULT_IMAGE", "DockerBackend"]

DEFAULT_IMAGE = "rewardgate/sandbox:latest"
WORKDIR = "/sandbox"
RUN_USER = "65534:65534"
INIT_USER = "65533:65533"
LABEL = "io.rewardgate.sandbox"
# Memory of the container's own processes (init, launcher) on top of the run's limit;
# processes: init and launcher (docker's exec helper becomes the launcher).
OVERHEAD_MB = 48
OVERHEAD_PIDS = 2
# Each warm zygote (a preloaded interpreter) a container keeps: its memory and process.
ZYGOTE_MB = 48
MAX_ZYGOTES = 4
SETUP_TIMEOUT_S = 30.0
MOUNT_DIR_MB = 256
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": WORKDIR,
    "TMPDIR": WORKDIR,
    "LANG": "C.UTF-8",
    **python_prefix.THREAD_ENV,  # BLAS pools of one thread: see python_prefix
}
# The container's pid 1 (uid 65533): reaps the orphans a run leaves (the launcher kills
# them), and ends the container once no process of the sandbox uid (the launcher is
# one while its host holds the stream) has run for IDLE_S seconds: the pool of a worker
# that was killed (no chance to clean up) removes itself.
IDLE_S = 60
INIT = """
import ctypes, os, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
last = time.monotonic()
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    for pid in os.listdir('/proc'):
        try:
            if pid.isdigit() and os.stat('/proc/' + pid).st_uid == {uid}:
                last = time.monotonic()
                break
        except OSError:
            pass
    if time.monotonic() - last > {idle_s}:
        raise SystemExit(0)
    time.sleep(0.2)
"""


def _check_relpath(name: str) -> str:
    norm = posixpath.normpath(name)
    if not name or norm.startswith(("/", "..")) or norm == ".":
        raise ValueError(f"file name must be relative and inside the work dir: {name!r}")
    return norm


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


class _Gone(Exception):
    """The pooled container is no longer there (it ended itself after idling)."""


@dataclass
class _Box:
    """One pooled container and the limits its cgroup has now."""

    id: str
    memory_mb: int
    pids: int
    entries: set[str] = field(default_factory=set)  # warm zygotes the launcher keeps
    exec_id: str = ""
    raw: Any = None
    sock: socket.socket | None = None
    pending: bytearray = field(default_factory=bytearray)

    def detach(self) -> None:
        """Close the launcher's stream: the launcher sees EOF, kills its run and ends."""
        for closable in (self.sock, self.raw):
            with contextlib.suppress(Exception):
                if closable is not None:
                    closable.close()
        self.sock = self.raw = None


class DockerBackend:
    """`Backend` on a Docker daemon. Thread-safe; fork-safe (a child starts its own pool).

    What a caller must know:

    - The work dir is `/sandbox` (tmpfs; also `HOME` and `TMPDIR`); the root is
      read-only; `python3`, `gcc`, `java`, `node`, `rustc`, `go` are the image's.
    - A `Mount` is copied in, not bind-mounted (the daemon may run on another host or
      the service in a container): a file source only, whose target the image links
      into /mnt (`/prog`). Its size counts against the run's memory.
    - `wall_s` counts from the program's start inside the container; `timed_out` with
      `details["timeout"]` "wall" or "cpu"; `oom_killed` from the container's
      memory cgroup where this host can read it, else from a SIGKILL near the limit.
    - `setup_timeout_s`: how long past `wall_s` the host waits for a launcher that
      does not answer (the program stopped it) before it recycles the container.
    - One exec per container: its launcher serves every run of the container in turn
      and ends when the host closes the stream; `idle_s` later the container ends and
      is removed, so a killed worker's pool goes away by itself.
    - `pool_size` idle containers are kept per process; more concurrent runs start
      more containers, and those beyond `pool_size` are removed after their run.
    """

    name = "docker"

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        pool_size: int = 2,
        cpus: float = 1.0,
        base_url: str | None = None,
        setup_timeout_s: float = SETUP_TIMEOUT_S,
        idle_s: float = IDLE_S,
        warm: bool = True,
    ) -> None:
        self.warm = warm
        self.idle_s = idle_s
        self.image = image
        self.setup_timeout_s = setup_timeout_s
        self.pool_size = max(pool_size, 0)
        self.cpus = cpus
        self._base_url = base_url
        self._lock = threading.Lock()
        self._health_lock = threading.Lock()
        self._health: dict[str, str] | None = None
        self._pid = os.getpid()
        self._client: Any = None
        self._idle: list[_Box] = []
        self._all: set[str] = set()
        self._launcher = server_command("docker_launcher", "-S")
        self._zygote = server_command("docker_zygote")
        self._init = INIT.format(uid=RUN_USER.split(":")[0], idle_s=idle_s)
        atexit.register(self.close)

    # -- the daemon -----------------------------------------------------------------

    def _api(self) -> Any:
        """This process's low-level client; a forked child drops its parent's pool."""
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._client = None
                    self._idle = []
                    self._all = set()
        if self._client is None:
            import docker

            try:
                if self._base_url:
                    self._client = docker.DockerClient(base_url=self._base_url, timeout=60)
                else:
                    self._client = docker.from_env(timeout=60)
            except Exception as exc:
                raise SandboxError(f"cannot reach the Docker daemon: {exc}") from exc
        return self._client.api

    def identity(self) -> str:
        """The sandbox image's id: a rebuilt image is another judge."""
        try:
            return str(self._api().inspect_image(self.image)["Id"])
        except SandboxError:
            raise
        except Exception as exc:
            raise SandboxError(f"cannot inspect image {self.image}: {exc}") from exc

    def health(self) -> dict[str, str]:
        if self._health is not None:
            return dict(self._health)
        with self._health_lock:
            if self._health is None:
                self._health = self._probe()
            return dict(self._health)

    def _probe(self) -> dict[str, str]:
        try:
            api = self._api()
            api.ping()
        except Exception as exc:
            return {
                "docker": f"daemon unreachable ({exc}): start dockerd "
                "(scripts/dockerd.sh) or set DOCKER_HOST",
                "docker_image": "not tested: no daemon",
            }
        report = {"docker": "ok"}
        try:
            api.inspect_image(self.image)
        except Exception:
            report["docker_image"] = (
                f"image {self.image} missing: build it with scripts/docker-images.sh"
            )
            return report
        report["docker_image"] = "ok"
        try:
            result = self._run(["id", "-u"], {}, b"", Limits(wall_s=10), (), False)
        except SandboxError as exc:
            report["docker_run"] = f"cannot run a sandbox: {exc.message}"
            return report
        uid = result.stdout.decode(errors="replace").strip()
        report["docker_run"] = (
            "ok"
            if result.exit_code == 0 and uid == RUN_USER.split(":")[0]
            else f"program ran as uid {uid!r} (exit {result.exit_code}), expected 65534"
        )
        return report

    def _ensure_ready(self) -> None:
        health = self.health()
        if health.get("docker") != "ok":
            raise SandboxError(f"docker sandbox unavailable: {health.get('docker')}")
        if health.get("docker_image") != "ok":
            raise SandboxError(f"docker sandbox unavailable: {health.get('docker_image')}")

    # -- the pool -------------------------------------------------------------------

    def _create(self, memory_mb: int, pids: int, scratch: bool = False) -> _Box:
        """A fresh container; `scratch`: with a tmpfs /tmp and room in /dev/shm, as a
        spawned long-lived program (a browser) wants."""
        api = self._api()
        extra = {"/tmp": "exec,size=1g,uid=65534,gid=65534,mode=0700"} if scratch else {}
        self._sweep_stale(api)
        host_config = api.create_host_config(
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=f"{memory_mb + OVERHEAD_MB}m",
            memswap_limit=f"{memory_mb + OVERHEAD_MB}m",
            pids_limit=pids + OVERHEAD_PIDS,
            nano_cpus=int(self.cpus * 1e9),
            ipc_mode="private",
            auto_remove=True,
            shm_size="256m" if scratch else "16m",
            tmpfs={
                WORKDIR: "exec,size=4g,uid=65534,gid=65534,mode=0755",
                "/mnt": f"exec,size={MOUNT_DIR_MB}m,uid=65534,gid=65534,mode=0755",
                # An empty, read-only view: the container's cgroup files are nothing
                # the program needs.
                "/sys/fs/cgroup": "ro,size=4k,mode=0555",
                **extra,
            },
        )
        try:
            created = api.create_container(
                self.image,
                command=["python3", "-I", "-S", "-c", self._init],
                user=INIT_USER,
                working_dir=WORKDIR,
                environment=ENV,
                labels={LABEL: f"{socket.gethostname()}:{os.getpid()}"},
                host_config=host_config,
                network_disabled=True,
            )
            api.start(created["Id"])
        except Exception as exc:
            raise SandboxError(f"cannot start a sandbox container: {exc}") from exc
        box = _Box(created["Id"], memory_mb, pids)
        with self._lock:
            self._all.add(box.id)
        return box

    def _sweep_stale(self, api: Any) -> None:
        """Remove this host's pool containers whose process is gone (killed workers)."""
        if self._all:
            return  # done when this process made its first container
        host = socket.gethostname()
        with contextlib.suppress(Exception):
            for info in api.containers(all=True, filters={"label": LABEL}):
                owner = info.get("Labels", {}).get(LABEL, "")
                name, _, pid = owner.rpartition(":")
                if name == host and pid.isdigit() and not _alive(int(pid)):
                    api.remove_container(info["Id"], force=True)

    def _acquire(self, limits: Limits, key: str) -> _Box:
        """An idle box (else a new one) with the run's limits; `key`: its warm entry."""
        with self._lock:
            box = self._idle.pop() if self._idle else None
        if box is not None:
            want = _wanted(box.entries, limits, key)
            if (box.memory_mb, box.pids) != want:
                try:
                    self._set_limits(box, *want)
                except Exception:
                    self._discard(box)
                    box = None
        if box is None:
            box = self._create(*_wanted(set(), limits, key))
        if key:
            full = key not in box.entries and len(box.entries) >= MAX_ZYGOTES
            box.entries = {key} if full else box.entries | {key}
        return box

    def _set_limits(self, box: _Box, memory_mb: int, pids: int) -> None:
        api = self._api()
        memory = (memory_mb + OVERHEAD_MB) << 20
        # Raising memory must raise the swap limit first; lowering, the other way round.
        body = {"Memory": memory, "MemorySwap": memory, "PidsLimit": pids + OVERHEAD_PIDS}
        response = api._post_json(api._url("/containers/{0}/update", box.id), data=body)
        api._raise_for_status(response)
        box.memory_mb, box.pids = memory_mb, pids

    def _release(self, box: _Box, recycle: bool) -> None:
        with self._lock:
            keep = not recycle and len(self._idle) < self.pool_size and self._pid == os.getpid()
            if keep:
                self._idle.append(box)
        if not keep:
            self._discard(box)

    def _discard(self, box: _Box) -> None:
        """Remove a container in the background: its replacement starts on demand."""
        box.detach()
        with self._lock:
            self._all.discard(box.id)
        api = self._client.api if self._client is not None else None
        if api is None:
            return

        def remove() -> None:
            with contextlib.suppress(Exception):
                api.remove_container(box.id, force=True)

        threading.Thread(target=remove, daemon=True).start()

    def close(self) -> None:
        """Remove this process's containers (at exit; the pool restarts on next use)."""
        if self._client is None or self._pid != os.getpid():
            return
        with self._lock:
            ids, self._all, idle, self._idle = list(self._all), set(), self._idle, []
        for box in idle:
            box.detach()
        for box_id in ids:
            with contextlib.suppress(Exception):
                self._client.api.remove_container(box_id, force=True)

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
        """`python3 -I script`, or with `warm` a fork of a zygote that preloaded `entry`.

        `mounts` are files copied in, as for `run`; a runtime directory an entry needs
        belongs in the image (the CAD runtime is at /opt/rewardgate/cad there)."""
        merged = {**entry.files, **(files or {})}
        argv = entry_command(entry.script)
        if not self.warm:
            return self.run(argv, merged, stdin, limits, mounts=mounts, channel=channel)
        self._ensure_ready()
        return self._run(argv, merged, stdin, limits or Limits(), mounts, channel, entry)

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
        """A long-lived `argv` in a container of its own (`sandbox/spawn_docker.py`):
        the bytes of `pass_fds` and `stdio` are relayed over the launcher's stream."""
        from rewardgate.sandbox.spawn_docker import spawn

        if not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a non-empty sequence of str")
        self._ensure_ready()
        return spawn(self, argv, files or {}, limits or Limits(), mounts, pass_fds, stdio)

    def _run(
        self,
        argv: Sequence[str],
        files: Mapping[str, bytes | str],
        stdin: bytes | str,
        limits: Limits,
        mounts: Sequence[Mount],
        channel: bool,
        entry: PythonEntry | None = None,
    ) -> ExecResult:
        payload = self._job(argv, files, _as_bytes(stdin), limits, mounts, channel, entry)
        key = entry.key if entry is not None else ""
        box = self._acquire(limits, key)
        recycle = True
        try:
            oom_before = _oom_kills(box.id)
            try:
                frames, exit_code, host_timeout = self._exec(box, payload, limits)
            except _Gone:  # an idle container that ended itself: one more, fresh
                self._discard(box)
                box = self._create(*_wanted(set(), limits, key))
                box.entries = {key} if key else set()
                oom_before = _oom_kills(box.id)
                frames, exit_code, host_timeout = self._exec(box, payload, limits)
            result, recycle = self._result(frames, exit_code, host_timeout, limits)
            oom_after = _oom_kills(box.id)
            if oom_before is not None and oom_after is not None:
                result.oom_killed = oom_after > oom_before
            elif result.exit_code == -9 and not result.timed_out:
                result.oom_killed = result.max_rss_kb * 1024 >= (limits.memory_mb << 20) * 0.9
            if result.oom_killed:
                result.timed_out = False
                result.details.pop("timeout", None)
            return result
        finally:
            self._release(box, recycle)

    def _job(
        self,
        argv: Sequence[str],
        files: Mapping[str, bytes | str],
        stdin: bytes,
        limits: Limits,
        mounts: Sequence[Mount],
        channel: bool,
        entry: PythonEntry | None,
        streams: Sequence[str | None] | None = None,
    ) -> bytes:
        file_list = [(_check_relpath(name), _as_bytes(data)) for name, data in files.items()]
        mount_list = []
        for mount in mounts:
            source = Path(mount.source)
            if not source.is_file():
                raise SandboxError(f"docker mounts copy files only; not a file: {source}")
            mount_list.append((mount.target, source.read_bytes()))
        job = {
            "argv": list(argv),
            "env": ENV,
            "channel": channel,
            "files": [(name, len(data)) for name, data in file_list],
            "mounts": [(target, len(data)) for target, data in mount_list],
            "stdin_size": len(stdin),
            "limits": {
                "wall_s": limits.wall_s,
                "cpu_s": max(1, int(-(-limits.cpu_s // 1))),
                "open_files": max(limits.open_files, 4),
                "file_size_bytes": max(1, limits.file_size_mb) << 20,
                "output_bytes": limits.output_bytes,
            },
        }
        if seccomp.program_b64():
            job["seccomp"] = seccomp.program_b64()
        if streams is not None:
            job["streams"] = list(streams)
        if entry is not None:
            job["entry"] = {"key": entry.key, "script": entry.script, "files": dict(entry.files)}
            job["zygote"] = self._zygote
        head = json.dumps(job).encode()
        parts = [b"RGJ1", struct.pack(">I", len(head)), head]
        parts += [data for _, data in file_list] + [data for _, data in mount_list] + [stdin]
        return b"".join(parts)

    def _attach(self, box: _Box) -> None:
        """Start the container's launcher: one exec that serves every run of the box."""
        api = self._api()
        try:
            box.exec_id = api.exec_create(
                box.id,
                self._launcher,
                stdin=True,
                user=RUN_USER,
                workdir=WORKDIR,
                environment=ENV,
            )["Id"]
            box.raw = api.exec_start(box.exec_id, socket=True)
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (404, 409):  # no such container, or not running
                raise _Gone(str(exc)) from exc
            raise SandboxError(f"docker exec failed: {exc}") from exc
        box.sock = getattr(box.raw, "_sock", box.raw)

    def _exec(
        self, box: _Box, payload: bytes, limits: Limits
    ) -> tuple[dict[int, bytearray], int | None, bool]:
        """Send one job to the box's launcher; (stdout/stderr bytes, exit code if the
        launcher ended, host timeout). The stdout holds exactly one summary."""
        self._send(box, payload)
        frames = {1: bytearray(), 2: bytearray()}
        deadline = time.monotonic() + limits.wall_s + self.setup_timeout_s
        ended, timed_out = self._collect(box, frames, limits, deadline)
        if timed_out:
            return frames, None, True
        return frames, self._exit_code(box) if ended else 0, False

    def _send(self, box: _Box, payload: bytes) -> None:
        """A job on the box's launcher stream (started on first use)."""
        if box.sock is None:
            self._attach(box)
        assert box.sock is not None
        try:
            box.sock.sendall(payload)
        except OSError as exc:
            raise SandboxError(f"docker exec stream broke: {exc}") from exc

    def _collect(
        self, box: _Box, frames: dict[int, bytearray], limits: Limits, deadline: float
    ) -> tuple[bool, bool]:
        """Read the launcher's stream into `frames` until its summary is whole, the
        stream ends or `deadline` passes: (ended, timed out)."""
        sock = box.sock
        assert sock is not None
        # The summary carries at most three capped streams; the rest is a bound.
        most = 3 * limits.output_bytes + (1 << 20)
        buf = box.pending
        try:
            while True:
                while len(buf) >= 8:
                    kind, size = buf[0], struct.unpack(">I", buf[4:8])[0]
                    if len(buf) < 8 + size:
                        break
                    if kind in frames and len(frames[kind]) < most:
                        frames[kind] += buf[8 : 8 + size]
                    del buf[: 8 + size]
                done = _summary_size(frames[1])
                if done is not None and len(frames[1]) >= done:
                    return False, False
                left = deadline - time.monotonic()
                if left <= 0 or not readable([sock], left):
                    return False, True
                chunk = sock.recv(1 << 20)
                if not chunk:
                    return True, False
                buf += chunk
        except OSError as exc:
            raise SandboxError(f"docker exec stream broke: {exc}") from exc

    def _exit_code(self, box: _Box) -> int | None:
        """The exit code of the box's ended launcher."""
        try:
            info = self._api().exec_inspect(box.exec_id)
        except Exception as exc:
            raise SandboxError(f"docker exec inspect failed: {exc}") from exc
        code = info.get("ExitCode")
        return int(code) if code is not None else None

    @staticmethod
    def _result(
        frames: dict[int, bytearray], exit_code: int | None, host_timeout: bool, limits: Limits
    ) -> tuple[ExecResult, bool]:
        """The run's result and whether its container must be recycled."""
        out = frames[1]
        summary: dict[str, Any] | None = None
        if out[:4] == b"RGR1" and len(out) >= 8:
            size = struct.unpack(">I", out[4:8])[0]
            with contextlib.suppress(ValueError):
                summary = json.loads(out[8 : 8 + size])
                body = out[8 + size :]
        if summary is None:
            said = bytes(frames[2]).decode(errors="replace").strip()
            if host_timeout:
                # The launcher never answered: the program stopped it (SIGSTOP) or
                # it outlived every clock; either way the program's doing.
                result = ExecResult(-9, b"", b"", limits.wall_s * 1000, 0.0, 0, timed_out=True)
                result.details["timeout"] = "wall"
                return result, True
            if exit_code is not None and (exit_code < 0 or exit_code >= 128):
                # Killed from inside: only the program (same uid) can do that.
                result = ExecResult(-(exit_code - 128) if exit_code >= 128 else exit_code,
                                    b"", b"", 0.0, 0.0, 0)  # fmt: skip
                result.details["launcher"] = "killed by the program"
                return result, True
            raise SandboxError(f"the docker launcher failed (exit {exit_code}): {said[-500:]}")
        sizes = summary["sizes"]
        streams, at = [], 0
        for n in sizes:
            streams.append(bytes(body[at : at + n]))
            at += n
        if len(streams) == 2:
            streams.append(b"")
        timed_out = bool(summary["timed_out"])
        code = int(summary["exit"])
        details: dict[str, object] = {}
        cpu_ms = float(summary["cpu_ms"])
        if timed_out:
            details["timeout"] = "wall"
        elif code == -24 or (code == -9 and cpu_ms >= limits.cpu_s * 1000):
            timed_out = True
            details["timeout"] = "cpu"
        result = ExecResult(
            exit_code=code,
            stdout=streams[0],
            stderr=streams[1],
            wall_ms=float(summary["wall_ms"]),
            cpu_ms=cpu_ms,
            max_rss_kb=int(summary["max_rss_kb"]),
            timed_out=timed_out,
            truncated=bool(summary["truncated"]),
            channel=streams[2] if len(sizes) == 3 else None,
            details=details,
        )
        recycle = bool(summary["dirty"]) or timed_out or code == -9
        return result, recycle


def _wanted(entries: set[str], limits: Limits, key: str) -> tuple[int, int]:
    """(memory MB, processes) of a box for a run: the run's own plus its zygotes'."""
    kept = entries | {key} if key else entries
    n = len(kept) if len(kept) <= MAX_ZYGOTES else 1
    return limits.memory_mb + ZYGOTE_MB * n, max(limits.processes, 1) + n


def _summary_size(out: bytearray) -> int | None:
    """The whole length of the launcher's answer once its header has arrived."""
    if len(out) < 8:
        return None
    if out[:4] != b"RGR1":
        return len(out)  # not ours: stop reading, `_result` reports it
    size = struct.unpack(">I", out[4:8])[0]
    if len(out) < 8 + size:
        return None
    try:
        sizes = json.loads(out[8 : 8 + size])["sizes"]
    except (ValueError, KeyError, TypeError):
        return len(out)
    return 8 + size + sum(int(n) for n in sizes)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _oom_kills(container_id: str) -> int | None:
    """The container's OOM-kill count where this host sees its cgroup (cgroup v1 or v2)."""
    candidates = (
        f"/sys/fs/cgroup/memory/docker/{container_id}/memory.oom_control",
        f"/sys/fs/cgroup/memory/system.slice/docker-{container_id}.scope/memory.oom_control",
        f"/sys/fs/cgroup/docker/{container_id}/memory.events",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.events",
    )
    for path in candidates:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    return None
