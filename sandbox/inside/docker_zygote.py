"""Trusted warm-Python server inside a docker sandbox container: forks one run per request.

Started by the launcher (`docker_launcher.py`) with the command the host sent for it
(`host_shipping.server_command("docker_zygote")`) and a SOCK_SEQPACKET socket on fd 3,
as the sandbox uid; it imports nothing of rewardgate but this package. Its
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

import gc
import json
import os
import socket
import sys

from rewardgate.sandbox.inside import limits as rlimits
from rewardgate.sandbox.inside import loader, privileges, process

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

CONTROL = 3


def become_run(header: dict[str, Any], fds: list[int]) -> None:
    process.move_fds(fds)
    process.close_from(len(fds))
    os.setsid()
    os.chdir(loader.WORKDIR)
    limits = header["limits"]
    rlimits.set_limits(
        cpu_s=limits["cpu_s"],
        open_files=limits["open_files"],
        file_bytes=limits["file_size_bytes"],
    )
    process.reopen_std_streams()
    sys.argv = [header["script"]]


def main() -> None:
    privileges.not_dumpable()
    control = socket.socket(fileno=CONTROL)
    size = int.from_bytes(control.recv(8), "big")
    raw = b""
    while len(raw) < size:
        chunk = control.recv(1 << 20)
        if not chunk:
            return
        raw += chunk
    entry = json.loads(raw)
    namespace = loader.load_entry(entry["script"], entry["files"][entry["script"]], entry["files"])
    # Every run inherits the preloaded heap: frozen, no collection in a run walks (and
    # copies) it (zygote.py's `load_entry`).
    gc.collect()
    gc.freeze()
    control.send(b"ready")
    while True:
        message, fds, _, _ = socket.recv_fds(control, 1 << 16, 8)
        if not message:
            return
        header = json.loads(message)

        def set_up() -> None:
            control.close()
            become_run(header, fds)  # noqa: B023 - called before the next iteration

        pid = loader.fork_run(set_up, namespace)
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
