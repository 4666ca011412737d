"""Trusted in-sandbox server of the warm Python path: forks one clean run per request.

Shipped as text into a long-lived bwrap sandbox and run there as
`python3 -I zygote.py CONTROL_FD`, as pid 1, with CAP_SYS_ADMIN and CAP_SETPCAP inside
the sandbox's user namespace (nothing outside it). It must not import rewardgate. It
preloads trusted entry scripts the host sends (harness.py, runner.py) once, calling
their `preload(files)` if they have one, so a run skips the interpreter start and the
imports; it never runs a byte of a request's files.

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
import ctypes
import gc
import json
import os
import resource
import select
import socket
import sys
import traceback

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

WORKDIR = "/sandbox"
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x20000, 0x8000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
MAX_FDS = 8

libc = ctypes.CDLL(None, use_errno=True)
entries: dict[str, dict[str, Any]] = {}
LAST_CAP = [63]  # the kernel's, read at start-up


def check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    check(
        libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def drop_capabilities() -> None:
    """Leave no capability in any set; no_new_privs so no exec can bring one back."""
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    for cap in range(LAST_CAP[0] + 1):
        check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop bounding cap")
    check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient caps")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2 words: all 0
    check(libc.capset(header, data), "capset")


class SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install_filter(program: bytes) -> None:
    """The host's seccomp filter on this process and all it starts (after the mounts:
    it refuses mount and unshare; no_new_privs is already set)."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.addressof(buf))
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


def read_payload(fd: int) -> tuple[dict[str, Any], bytes]:
    """The memfd: a JSON line ({"files": [[name, size], ...], ...}) then the file bytes."""
    size = os.fstat(fd).st_size
    raw = os.pread(fd, size, 0)
    head, _, body = raw.partition(b"\n")
    return json.loads(head), body


def write_files(listing: list[list[Any]], body: bytes) -> None:
    offset = 0
    for name, size in listing:
        parent = os.path.dirname(name)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(name, "wb") as f:
            f.write(body[offset : offset + size])
        offset += size


def load_entry(header: dict[str, Any], payload_fd: int) -> dict[str, Any]:
    """The entry script run once as a module here, so each run only calls its main()."""
    key = header["entry"]
    if key not in entries:
        meta, body = read_payload(payload_fd)
        offset = 0
        source = b""
        for name, size in meta["files"]:
            if name == header["script"]:
                source = body[offset : offset + size]
            offset += size
        namespace: dict[str, Any] = {"__name__": "rewardgate_entry", "__builtins__": __builtins__}
        namespace["__file__"] = f"{WORKDIR}/{header['script']}"
        exec(compile(source, header["script"], "exec"), namespace)
        if "preload" in namespace:  # the entry's own warm-up: its modules, common imports
            own = set(header["entry_files"])
            offset = 0
            sources = {}
            for name, size in meta["files"]:
                if name in own:
                    sources[name] = body[offset : offset + size].decode()
                offset += size
            namespace["preload"](sources)
        entries[key] = namespace
        gc.freeze()  # what is loaded now stays out of every run's collections: fewer copied pages
    return entries[key]


def set_limits(limits: dict[str, Any]) -> None:
    cpu = limits["cpu_s"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    nofile = min(limits["open_files"], resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    fsize = limits["file_size_mb"] << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.get("address_space_mb"):
        memory = limits["address_space_mb"] << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if limits.get("nproc"):
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))


def become_run(header: dict[str, Any], fds: list[int]) -> None:
    """B: the clean, unprivileged process the entry's main() runs in.

    The run's stdio and channel go to fd 0-3 first, so a failed set-up is reported on
    the run's own stderr.
    """
    check(libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "pdeathsig")
    import fcntl

    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in fds[2:]]
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    for fd in high:
        os.close(fd)
    limits = header["limits"]
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    size = f"size={limits['memory_mb']}m"
    mount("tmpfs", WORKDIR, "tmpfs", MS_NOSUID | MS_NODEV, f"{size},mode=0755")
    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"{size},mode=1777")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(WORKDIR)
    os.environ["PWD"] = WORKDIR
    meta, body = read_payload(fds[1])
    write_files(meta["files"], body)
    os.closerange(len(high), 1 << 16)
    set_limits(limits)
    drop_capabilities()
    if header.get("seccomp"):
        install_filter(base64.b64decode(header["seccomp"]))
    # The zygote's own streams are other fds' objects: a run gets its own.
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
    sys.argv = [header["script"]]


def run_main(namespace: dict[str, Any]) -> int:
    code = 0
    try:
        namespace["main"]()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            code = code or 120
    return code


def run_a(header: dict[str, Any], fds: list[int], namespace: dict[str, Any]) -> None:
    """A: hello, wait for the host's go, then the namespaces and B."""
    sock = socket.socket(fileno=fds[0])
    sock.sendall(b"hello")
    if sock.recv(16) != b"go":
        return
    check(
        libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC),
        "unshare",
    )
    pid = os.fork()
    if pid == 0:
        try:
            sock.detach()
            become_run(header, fds)
        except BaseException:
            os.write(2, f"zygote: run set-up failed: {traceback.format_exc()}".encode())
            os._exit(125)
        os._exit(run_main(namespace))
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
    check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "dumpable")
    with open("/proc/sys/kernel/cap_last_cap") as f:
        LAST_CAP[0] = int(f.read())
    serve(int(sys.argv[1]))


if __name__ == "__main__":
    main()
