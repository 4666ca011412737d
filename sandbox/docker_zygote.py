"""Trusted warm-Python server inside a docker sandbox container: forks one run per request.

Started by the launcher (`docker_launcher.py`) as `python3 -I -c <this source>` with a
SOCK_SEQPACKET socket on fd 3, as the sandbox uid; it must not import rewardgate. Its
first message is the entry (a `PythonEntry`: the trusted script and its files); it
runs the script once as a module, calls its `preload(files)` if it has one, and says
"ready". Then, per request (a JSON header and the run's stdin, stdout, stderr and, with
a channel, channel fds), it forks a child that moves those fds to 0-3, closes every
other (the control socket above all), enters the work dir, sets the run's rlimits and
calls the entry's `main()` as a cold `python3 -I script` would; it answers with the
child's pid, then with its exit status and CPU time once it has reaped it.

It never receives a request's files or data (the launcher writes the files to the work
dir; the data flows through the run's own pipes), so a run, forked from it, holds
nothing of an earlier run. It is not dumpable: a run (same uid) cannot read its memory
or fds; it can kill or stop it, which the launcher sees and answers by recycling the
container.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import socket
import sys
import traceback

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

WORKDIR = "/sandbox"
CONTROL = 3


def load(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry script run once as a module, so each run only calls its main()."""
    files = entry["files"]
    script = entry["script"]
    namespace: dict[str, Any] = {"__name__": "rewardgate_entry", "__builtins__": __builtins__}
    namespace["__file__"] = f"{WORKDIR}/{script}"
    exec(compile(files[script], script, "exec"), namespace)
    if "preload" in namespace:
        namespace["preload"](dict(files))
    gc.freeze()  # what is loaded stays out of every run's collections: fewer copied pages
    return namespace


def become_run(header: dict[str, Any], fds: list[int]) -> None:
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(len(fds), 1 << 16)
    os.setsid()
    os.chdir(WORKDIR)
    limits = header["limits"]
    cpu = limits["cpu_s"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    nofile = min(limits["open_files"], resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    fsize = limits["file_size_bytes"]
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
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


def main() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    control = socket.socket(fileno=CONTROL)
    size = int.from_bytes(control.recv(8), "big")
    raw = b""
    while len(raw) < size:
        chunk = control.recv(1 << 20)
        if not chunk:
            return
        raw += chunk
    namespace = load(json.loads(raw))
    control.send(b"ready")
    while True:
        message, fds, _, _ = socket.recv_fds(control, 1 << 16, 8)
        if not message:
            return
        header = json.loads(message)
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                become_run(header, fds)
            except BaseException:
                os.write(2, f"zygote: run set-up failed: {traceback.format_exc()}".encode())
                os._exit(125)
            os._exit(run_main(namespace))
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())
        _, status, usage = os.wait4(pid, 0)
        done = {
            "status": status,
            "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
            "max_rss_kb": usage.ru_maxrss,
        }
        control.send(json.dumps(done).encode())


if __name__ == "__main__":
    main()
