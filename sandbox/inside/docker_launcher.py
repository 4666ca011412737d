"""Trusted launcher of one docker run, executed in the container by `docker exec`.

Started by `rewardgate.sandbox.docker` with `host_shipping.server_command(
"docker_launcher", "-S")`, its source and this package's in the command (so any image
with a python3 works and an image never runs a stale copy); standard library only.

One exec of the launcher serves many runs, one at a time: the host writes a job on the
exec's stdin (b"RGJ1", a 4-byte big-endian length, the job as JSON: argv, limits,
environment, the sizes of each file, mount and stdin; then those bytes in that order)
and reads the run's summary before it sends the next. The stdin stays open: its EOF
means the host is gone (its worker was killed, or the container is being recycled),
and a run in progress is killed with it. For each job the launcher

- empties the work dir /sandbox and /mnt (the files of `Mount`s; the image links each
  mount target, e.g. /prog -> /mnt/prog), writes the job's files there,
- runs argv in a child with stdin, stdout, stderr and, with a channel, fd 3 as pipes
  to itself, under RLIMIT_CPU/NOFILE/FSIZE/CORE (memory and pids are the container's
  cgroup limits, set by the host before the exec),
- keeps at most `output_bytes` of each stream, kills the run at `wall_s`,
- when the child exits or times out, kills every process of the sandbox uid (the
  launcher's own uid: `kill(-1)` spares only itself and the container's init, which
  runs as another uid), and wipes the files again,
- writes b"RGR1", a 4-byte length, a JSON summary (exit status, rusage, flags, whether
  anything was left behind) and the captured streams on its stdout.

A job with `streams` (a program `Backend.spawn` started) has no summary: its program's
descriptors are relayed as frames over the exec stream until it exits (`relay`).

`prctl(PR_SET_DUMPABLE, 0)` keeps the program (same uid) out of /proc/<launcher>/fd,
so it cannot write into the launcher's stdout (the exec stream to the host) nor the
channel's read end; it can only kill or stop the launcher, which the host sees as a
run without a summary and answers by recycling the container.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import time

from rewardgate.sandbox.inside import limits as rlimits
from rewardgate.sandbox.inside import loader, privileges, process, reaper
from rewardgate.sandbox.inside.channel import write_all

TYPE_CHECKING = False  # typing costs milliseconds per run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

WORKDIR = loader.WORKDIR
MOUNTS = "/mnt"
CHUNK = 1 << 16
SCRATCH = ("/dev/shm", "/dev/mqueue")


def read_exact(fd: int, n: int) -> bytes:
    parts = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the host closed the job stream early")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def wipe(top: str) -> None:
    """Remove everything under `top` (owned by this uid; modes may have been changed)."""
    try:
        names = os.listdir(top)
    except OSError:
        return
    for name in names:
        path = os.path.join(top, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
                wipe(path)
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError:
            pass


ZYGOTES: dict[str, tuple[int, Any]] = {}  # entry key -> (pid, control socket)


def others() -> list[int]:
    """Pids of the sandbox uid's live processes but this one and the warm zygotes
    (zygotes wait for the container's init to reap them)."""
    return reaper.others_of_uid(pid for pid, _ in ZYGOTES.values())


def kill_all() -> bool:
    """SIGKILL every other process of this uid (the zygotes spared), until none is left."""
    return reaper.kill_uid(pid for pid, _ in ZYGOTES.values())


def drop_zygotes() -> None:
    for pid, control in ZYGOTES.values():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        control.close()
    ZYGOTES.clear()


def zygote(job: dict[str, Any]) -> Any:
    """The control socket of the warm zygote of the job's entry, started on first use."""
    import socket

    entry = job["entry"]
    known = ZYGOTES.get(entry["key"])
    if known is not None:
        return known[1]
    if len(ZYGOTES) >= 4:
        drop_zygotes()
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(theirs.fileno(), 3)
            process.close_from(4)
            os.chdir(WORKDIR)
            argv = job["zygote"]
            os.execvpe(argv[0], argv, job["env"])
        finally:
            os._exit(127)
    theirs.close()
    payload = json.dumps({"script": entry["script"], "files": entry["files"]}).encode()
    mine.send(len(payload).to_bytes(8, "big"))
    for at in range(0, len(payload), CHUNK):
        mine.send(payload[at : at + CHUNK])
    mine.settimeout(30)
    if mine.recv(16) != b"ready":
        raise RuntimeError("the warm zygote did not start")
    mine.settimeout(None)
    ZYGOTES[entry["key"]] = (pid, mine)
    return mine


def place(job: dict[str, Any], blobs: dict[str, list[tuple[str, bytes]]]) -> None:
    """Write the job's files into the work dir and its mounts into /mnt."""
    for name, data in blobs["files"]:
        path = os.path.join(WORKDIR, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    for target, data in blobs["mounts"]:
        link = os.path.join(MOUNTS, target.strip("/").replace("/", "_"))
        if os.path.realpath(target) != link:
            raise RuntimeError(f"the image has no link {target} -> {link}")
        with open(link, "wb") as f:
            f.write(data)
        os.chmod(link, 0o755)


def spawn(job: dict[str, Any], fds: list[int]) -> int:
    limits = job["limits"]
    pid = os.fork()
    if pid:
        return pid
    try:
        process.move_fds(fds)
        process.close_from(len(fds))
        os.setsid()
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        rlimits.set_limits(
            cpu_s=limits["cpu_s"],
            open_files=limits["open_files"],
            file_bytes=limits["file_size_bytes"],
        )
        os.chdir(WORKDIR)
        argv = job["argv"]
        os.execvpe(argv[0], argv, job["env"])
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            os.write(2, f"rewardgate: cannot run {job['argv'][0]!r}: {exc}\n".encode())
    os._exit(127)


def supervise(job: dict[str, Any], stdin_data: bytes) -> tuple[Any, ...]:
    """Run the program; (wait status, rusage, timed out, wall ms, streams)."""
    limits = job["limits"]
    cap = limits["output_bytes"]
    in_r, in_w = os.pipe()
    pipes = [os.pipe(), os.pipe()] + ([os.pipe()] if job["channel"] else [])
    control = None
    if job.get("entry"):  # warm: a fork of the entry's preloaded zygote
        import socket

        control = zygote(job)
        header = {"script": job["entry"]["script"], "limits": job["limits"]}
        socket.send_fds(control, [json.dumps(header).encode()], [in_r] + [w for _, w in pipes])
        pid = json.loads(control.recv(1 << 16) or b'{"pid": 0}')["pid"]
    else:
        pid = spawn(job, [in_r] + [w for _, w in pipes])
    os.close(in_r)
    for _, w in pipes:
        os.close(w)
    began = time.monotonic()
    deadline = began + limits["wall_s"]
    streams = {r: bytearray() for r, _ in pipes}
    cut = {r: False for r, _ in pipes}
    pending = memoryview(stdin_data)
    if pending:
        os.set_blocking(in_w, False)
    else:
        os.close(in_w)
        in_w = -1
    done_fd = control.fileno() if control is not None else os.pidfd_open(pid)
    status = rusage = None
    stalled = 0
    timed_out = left_behind = False
    readers = set(streams)
    while readers or status is None:
        wait = max(0.0, deadline - time.monotonic()) if not timed_out else 0.5
        writers = [in_w] if in_w >= 0 else []
        watch = list(readers) + ([done_fd] if status is None else []) + [0]
        ready_r, ready_w, _ = select.select(watch, writers, [], wait)
        if not ready_r and not ready_w and status is None:
            if not timed_out and time.monotonic() >= deadline:
                timed_out = True
                kill_all()
            elif timed_out and control is not None:
                stalled += 1
                if stalled > 4:  # the zygote does not report (stopped): it goes
                    drop_zygotes()
                    control = None
                    status, rusage = int(signal.SIGKILL), (0.0, 0)
            continue
        if ready_w:
            try:
                pending = pending[os.write(in_w, pending[:CHUNK]) :]
            except BlockingIOError:
                pass
            except BrokenPipeError:
                pending = pending[:0]
            if not pending:
                os.close(in_w)
                in_w = -1
        for fd in ready_r:
            if fd == 0:
                if not os.read(0, 1 << 16):  # the host is gone: so is the run
                    kill_all()
                    os._exit(0)
            elif fd == done_fd and control is not None:
                report = control.recv(1 << 16)
                if not report:  # the program killed the zygote
                    ZYGOTES.clear()
                    control.close()
                    control = None
                    status, rusage = int(signal.SIGKILL), (0.0, 0)
                else:
                    done = json.loads(report)
                    status, rusage = done["status"], (done["cpu_ms"], done["max_rss_kb"])
                left_behind = bool(others())
                kill_all()
            elif fd == done_fd:
                _, status, usage = os.wait4(pid, 0)
                rusage = ((usage.ru_utime + usage.ru_stime) * 1000, usage.ru_maxrss)
                # The program is done: whatever it left running is killed, so the
                # pipes reach EOF even if a leftover process holds them.
                left_behind = bool(others())
                kill_all()
            else:
                data = os.read(fd, CHUNK)
                if not data:
                    readers.discard(fd)
                    continue
                room = cap - len(streams[fd])
                if room > 0:
                    streams[fd] += data[:room]
                if len(data) > room:
                    cut[fd] = True
        if timed_out and status is None and not readers and control is None:
            _, status, usage = os.wait4(pid, 0)
            rusage = ((usage.ru_utime + usage.ru_stime) * 1000, usage.ru_maxrss)
    wall_ms = (time.monotonic() - began) * 1000
    if in_w >= 0:
        os.close(in_w)
    if not job.get("entry"):
        os.close(done_fd)
    for r, _ in pipes:
        os.close(r)
    ordered = [streams[r] for r, _ in pipes]
    truncated = any(cut.values())
    return status, rusage, timed_out, wall_ms, ordered, truncated, left_behind


FILTERED = [False]


def install_filter(program: bytes) -> None:
    """rewardgate's seccomp filter (sandbox/seccomp.py) on the launcher, so on every run
    and zygote it starts, on top of Docker's profile (which lets io_uring through before
    Docker 25)."""
    privileges.install_filter(program)
    FILTERED[0] = True


def serve(job: dict[str, Any]) -> None:
    """One run: its files and stdin follow the job on the stream; its summary goes back."""
    if job.get("seccomp") and not FILTERED[0]:
        import base64

        install_filter(base64.b64decode(job["seccomp"]))
    blobs = {
        "files": [(name, read_exact(0, n)) for name, n in job["files"]],
        "mounts": [(target, read_exact(0, n)) for target, n in job["mounts"]],
    }
    stdin_data = read_exact(0, job["stdin_size"])
    # The previous run was cleaned up after; this is the second line of defence.
    leftover = bool(others()) or any(os.listdir(d) for d in (WORKDIR, MOUNTS) if os.path.isdir(d))
    if leftover:
        kill_all()
        wipe(WORKDIR)
        wipe(MOUNTS)
    place(job, blobs)
    del blobs
    if job.get("streams") is not None:  # spawned: no summary, its streams are relayed
        from rewardgate.sandbox.inside import relay

        relay.run(job, spawn, kill_all)
        kill_all()
        wipe(WORKDIR)
        wipe(MOUNTS)
        return
    status, rusage, timed_out, wall_ms, streams, truncated, left = supervise(job, stdin_data)
    clean = kill_all()
    wipe(WORKDIR)
    wipe(MOUNTS)
    scraps = [d for d in SCRATCH if os.path.isdir(d) and os.access(d, os.R_OK) and os.listdir(d)]
    summary = {
        "exit": os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "wall_ms": wall_ms,
        "cpu_ms": rusage[0],
        "max_rss_kb": rusage[1],
        "truncated": truncated,
        "sizes": [len(s) for s in streams],
        "dirty": not clean or bool(scraps) or leftover or left,
    }
    head = json.dumps(summary).encode()
    write_all(1, b"RGR1" + struct.pack(">I", len(head)) + head + b"".join(streams))


def serve_jobs() -> None:
    """Serve jobs until the host closes the stream (one exec serves many runs)."""
    privileges.not_dumpable()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    while True:
        first = os.read(0, 4)
        if not first:
            return
        magic = first + read_exact(0, 4 - len(first))
        if magic != b"RGJ1":
            raise RuntimeError("not a rewardgate job")
        (size,) = struct.unpack(">I", read_exact(0, 4))
        serve(json.loads(read_exact(0, size)))


def main() -> int:
    try:
        serve_jobs()
    except BaseException as exc:  # the launcher's own failure: the host reports it
        os.write(2, f"rewardgate launcher: {type(exc).__name__}: {exc}\n".encode())
        return 70
    return 0
