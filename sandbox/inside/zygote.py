"""Trusted in-sandbox server of the warm Python path: forks one clean run per request.

Started in a long-lived bwrap sandbox by `host_shipping.server_command("zygote")`
with CONTROL_FD as its argument, as pid 1, with CAP_SYS_ADMIN and CAP_SETPCAP inside
the sandbox's user namespace (nothing outside it). It imports nothing of rewardgate
but this package (see boot.py). It preloads trusted entry scripts the host sends
(harness.py, runner.py) once, calling their `preload(files)` if they have one, so a
run skips the interpreter start and the imports; it never runs a byte of a request's files.

One run, on a request (a JSON header plus fds: the run's socket, a memfd with its
files, stdin, stdout, stderr and the channel):

    zygote    fork -> A; closes its copies of the run's fds at once
    A         says hello on the run's socket, so the host (SO_PASSCRED) learns its pid
              and moves it into the run's cgroups; on "go", unshares mount, pid and
              IPC namespaces and forks B; waits for B, reports B's status on
              the run's socket, exits
    B         pid 1 of the new pid namespace, dies with A (PDEATHSIG); mounts a fresh
              tmpfs on /sandbox (the work dir) and /dev/shm and a fresh /proc; writes
              the files; sets the rlimits; moves stdin/stdout/stderr/channel to fd 0-3
              and closes every other fd; drops every capability (bounding, ambient,
              effective, permitted) under no_new_privs; then calls the entry's main()

Why reuse is clean: everything a run can change lives in namespaces that die with it.
When B exits or is killed the kernel kills every process left in its pid namespace
and A's wait returns only after they are all gone; the work dir, /dev/shm and SysV or
POSIX IPC objects are mounts and objects of the run's own namespaces; the zygote's own
/dev and root are read-only, and /sandbox is covered. A run cannot reach the zygote:
it sees no process outside its pid namespace, holds none of its fds, has no
capability, and the zygote is not dumpable. The network namespace is the zygote's
(no interface but loopback) and is not renewed per run: without a capability a run
can change nothing in it that outlives its processes (sockets close with them), and a
fresh one costs more than the rest of a run's set-up. Its verdict channel is a pipe the host
made for this run alone, so nothing of an earlier run can write into a later one.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import select
import socket
import sys
import traceback

from rewardgate.sandbox.inside import limits as rlimits
from rewardgate.sandbox.inside import loader, privileges, process

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

WORKDIR = loader.WORKDIR
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x20000, 0x8000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
MAX_FDS = 8

entries: dict[str, dict[str, Any]] = {}


def read_payload(fd: int) -> tuple[dict[str, Any], bytes]:
    """The memfd: a JSON line ({"files": [[name, size], ...], ...}) then the file bytes."""
    size = os.fstat(fd).st_size
    raw = os.pread(fd, size, 0)
    head, _, body = raw.partition(b"\n")
    return json.loads(head), body


def split_files(listing: list[list[Any]], body: bytes) -> list[tuple[str, bytes]]:
    """(name, bytes) of each file the payload lists."""
    out, offset = [], 0
    for name, size in listing:
        out.append((name, body[offset : offset + size]))
        offset += size
    return out


def write_files(files: list[tuple[str, bytes]]) -> None:
    for name, data in files:
        parent = os.path.dirname(name)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(name, "wb") as f:
            f.write(data)


def load_entry(header: dict[str, Any], payload_fd: int) -> dict[str, Any]:
    """The entry script run once as a module here, so each run only calls its main()."""
    key = header["entry"]
    if key not in entries:
        meta, body = read_payload(payload_fd)
        files = dict(split_files(meta["files"], body))
        own = {name: files[name].decode() for name in header["entry_files"]}
        entries[key] = loader.load_entry(header["script"], files[header["script"]], own)
        # What the entry preloaded (CadQuery: hundreds of MB) is inherited by every run:
        # frozen, no collection in a run walks it, so a run neither pays for the walk nor
        # copies the pages the walk would write to.
        gc.collect()
        gc.freeze()
    return entries[key]


def become_run(header: dict[str, Any], fds: list[int]) -> None:
    """B: the clean, unprivileged process the entry's main() runs in.

    The run's stdio and channel go to fd 0-3 first, so a failed set-up is reported on
    the run's own stderr.
    """
    privileges.die_with_parent()
    process.move_fds(fds[2:])  # the payload, fds[1], is above them: fds[0] is >= 3
    limits = header["limits"]
    privileges.mount("none", "/", None, MS_REC | MS_PRIVATE)
    size = f"size={limits['memory_mb']}m"
    privileges.mount("tmpfs", WORKDIR, "tmpfs", MS_NOSUID | MS_NODEV, f"{size},mode=0755")
    privileges.mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"{size},mode=1777")
    privileges.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(WORKDIR)
    os.environ["PWD"] = WORKDIR
    meta, body = read_payload(fds[1])
    write_files(split_files(meta["files"], body))
    process.close_from(len(fds) - 2)
    rlimits.set_limits(
        cpu_s=limits["cpu_s"],
        open_files=limits["open_files"],
        file_bytes=limits["file_size_mb"] << 20,
        address_space_bytes=limits.get("address_space_mb", 0) << 20,
        processes=limits.get("nproc") or None,
    )
    privileges.drop_capabilities()
    if header.get("seccomp"):
        privileges.install_filter(base64.b64decode(header["seccomp"]))
    process.reopen_std_streams()
    sys.argv = [header["script"]]


def run_a(header: dict[str, Any], fds: list[int], namespace: dict[str, Any]) -> None:
    """A: hello, wait for the host's go, then the namespaces and B."""
    sock = socket.socket(fileno=fds[0])
    sock.sendall(b"hello")
    if sock.recv(16) != b"go":
        return
    privileges.check(
        privileges.libc().unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare"
    )

    def set_up() -> None:
        sock.detach()
        become_run(header, fds)

    pid = loader.fork_run(set_up, namespace)
    for fd in fds[1:]:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    sock.sendall(json.dumps({"status": status}).encode())


def serve(control: int) -> None:
    ctl = socket.socket(fileno=control)
    ctl.sendall(b"ready")
    while True:
        while True:  # reap finished A processes (and anything orphaned to pid 1)
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        if not select.select([ctl], [], [], 1.0)[0]:
            continue
        message, ancdata, _, _ = ctl.recvmsg(1 << 16, socket.CMSG_SPACE(MAX_FDS * 4))
        if not message:
            return  # the host is gone
        fds: list[int] = []
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(memoryview(data).cast("i"))
        try:
            header = json.loads(message)
            namespace = load_entry(header, fds[1])
            pid = os.fork()
        except Exception:
            os.write(fds[4], f"zygote: cannot start the run: {traceback.format_exc()}".encode())
            pid = -1
        if pid == 0:
            try:
                ctl.close()
                run_a(header, fds, namespace)
            except BaseException:
                os.write(fds[4], f"zygote: run failed: {traceback.format_exc()}".encode())
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)


def main() -> None:
    privileges.not_dumpable()
    privileges.last_cap()  # read now: a run's set-up remounts /proc
    serve(int(sys.argv[1]))
