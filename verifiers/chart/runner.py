"""Trusted in-sandbox chart runner: runs a plotting script in a child, reports its figure.

Shipped as text into the sandbox work dir with `startup.py`, `colours.py`,
`chartmimic.py` and `instrument.py` (loaded into one namespace, `SHIPPED`) and run as
`python3 -I runner.py`, or as `main()` in a fork of a zygote that ran `preload()`
(matplotlib already imported, so a run skips its import). It must not import
rewardgate. One run:

1. The job (dpi, figure size, seed, limits) arrives as JSON on stdin; the script is
   `chart.py` in the work dir. The runner says it started on fd 3 (the channel).
2. The script runs in a forked child: own session, /dev/null on fd 0-2, every other
   fd closed but the write end of its result pipe (fd 3 above all), memory and CPU
   rlimits. The child instruments matplotlib (`instrument.py`), runs the script with
   the Agg backend, then saves the figure itself and sends one JSON line on its pipe:
   the PNG and the record (texts, layout, chart types, colours), or why it could not.
3. The runner waits for that line until the time limit, then kills the child and
   every other process left in the sandbox (`kill(-1)` reaches the whole pid
   namespace but pid 1 and the runner), and reports on fd 3: {"runner": "started"},
   then {"executed": {"ms", "exit", "signal", "timed_out"}} and {"result": ...} with
   the child's line as it came (the host checks it; the script could have written it),
   or {"internal_error": traceback} if the runner itself broke.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import sys
import time

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

CHANNEL = 3
SCRIPT = "chart.py"
MAX_RESULT_BYTES = 48 << 20
# The shipped modules, loaded into one namespace before any script runs (the work dir
# is writable by the script; nothing is read from it later).
SHIPPED = ("startup.py", "colours.py", "chartmimic.py", "instrument.py")
INSTRUMENT: dict[str, Any] = {}


def emit(obj: dict[str, Any]) -> None:
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(CHANNEL, data) :]


def load_shipped(sources: dict[str, str]) -> None:
    INSTRUMENT["__name__"] = "instrument"
    for name in SHIPPED:
        exec(compile(sources[name], name, "exec"), INSTRUMENT)


def preload(files: dict[str, str]) -> None:
    """A warm start (sandbox/zygote.py): the shipped modules and matplotlib, once."""
    load_shipped(files)
    INSTRUMENT["preload_modules"](read_only=True)


def child_main(write_fd: int, source: str, job: dict[str, Any]) -> None:
    """In the child: limits, then the script; one JSON line on `write_fd`."""
    out = os.fdopen(write_fd, "wb", buffering=0)

    def send(obj: dict[str, Any]) -> None:
        out.write((json.dumps(obj) + "\n").encode())

    try:
        INSTRUMENT["run_script"](source, job, send)
    except MemoryError:
        with contextlib.suppress(BaseException):
            send({"error": "memory_limit", "message": "MemoryError"})


def _address_space_mb() -> int:
    """This process's virtual size (the preloaded libraries count against RLIMIT_AS)."""
    with open("/proc/self/statm", encoding="ascii") as f:
        pages = int(f.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE") >> 20


def start_child(source: str, job: dict[str, Any]) -> tuple[int, int]:
    """Fork the script's process: (pid, read end of its result pipe)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_fd)
        return pid, read_fd
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)  # fd 0 is the job's pipe
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the script's prints go nowhere
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        memory = (_address_space_mb() + job["memory_mb"]) << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        cpu = int(job["time_limit_s"]) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        child_main(write_fd, source, job)
    finally:
        os._exit(0)


def collect(pid: int, read_fd: int, limit_s: float) -> tuple[bytes, bool]:
    """The child's line, until the pipe closes or `limit_s` passes: (bytes, timed out)."""
    deadline = time.monotonic() + limit_s
    chunks: list[bytes] = []
    size = 0
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read_fd], [], [], left)[0]:
            timed_out = True
            break
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_RESULT_BYTES:
            break
        chunks.append(chunk)
        if b"\n" in chunk:  # the one line: a process the script left may hold the pipe
            break
    os.close(read_fd)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return b"".join(chunks), timed_out


def kill_the_rest() -> None:
    """Every process of the sandbox but pid 1 and this one (the script may have forked).

    Only inside a sandbox's own pid namespace, where the runner is pid 1 (warm) or 2
    (cold, under the sandbox's shell): anywhere else `kill(-1)` would reach every
    process of the host that this user may signal (as root, all of them).
    """
    if os.getpid() > 2:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(-1, signal.SIGKILL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def main() -> None:
    try:
        run()
    except Exception:  # a bug here must not read as the script's failure
        import traceback

        emit({"internal_error": traceback.format_exc()[-2000:]})


def run() -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    os.set_inheritable(CHANNEL, False)
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]
    if not INSTRUMENT:  # a cold start (a warm one preloaded them)
        sources = {}
        for name in SHIPPED:
            with open(name, encoding="utf-8") as f:
                sources[name] = f.read()
        load_shipped(sources)
        INSTRUMENT["preload_modules"](read_only=False)
    job = json.loads(sys.stdin.read())
    with open(SCRIPT, encoding="utf-8", errors="replace") as f:
        source = f.read()
    emit({"runner": "started"})
    started = time.monotonic()
    pid, read_fd = start_child(source, job)
    output, timed_out = collect(pid, read_fd, job["time_limit_s"])
    _, status = os.waitpid(pid, 0)
    ms = round((time.monotonic() - started) * 1000, 1)
    kill_the_rest()
    executed = {
        "ms": ms,
        "timed_out": timed_out,
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
    }
    emit({"executed": executed})
    line = output.partition(b"\n")[0]
    if line:
        try:
            result = json.loads(line)
        except ValueError:
            result = {"error": "protocol", "message": "the script's process sent no result"}
        emit({"result": result})


if __name__ == "__main__":
    main()
