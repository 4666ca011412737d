"""Trusted in-sandbox chart runner: runs a plotting script in a child, reports its figure.

Shipped as text into the sandbox work dir with `startup.py`, `colours.py`,
`chartmimic.py` and `instrument.py` (loaded into one namespace, `SHIPPED`) and run as
the entry `runner.py`, cold or as `main()` in a fork of a zygote that ran `preload()`
(matplotlib already imported, so a run skips its import). It imports nothing of
rewardgate but the sandbox's inside library (`rewardgate.sandbox.inside`). One run:

1. The job (dpi, figure size, seed, limits) arrives as JSON on stdin; the script is
   `chart.py` in the work dir. The runner says it started on fd 3 (the channel).
2. The script runs in a forked child: own session, /dev/null on fd 0-2, every other
   fd closed but the write end of its result pipe (fd 3 above all), memory and CPU
   rlimits. The child instruments matplotlib (`instrument.py`), runs the script with
   the Agg backend, then saves the figure itself and sends one JSON line on its pipe:
   the PNG and the record (texts, layout, chart types, colours), or why it could not.
3. The runner waits for that line until the time limit, then kills the child and
   every other process the script left (`reaper.kill_the_rest`: the whole pid
   namespace but pid 1 and the runner in a bwrap sandbox, the runner's descendants
   in a docker container), and reports on fd 3: {"runner": "started"},
   then {"executed": {"ms", "exit", "signal", "timed_out"}} and {"result": ...} with
   the child's line as it came (the host checks it; the script could have written it),
   or {"internal_error": traceback} if the runner itself broke.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time

from rewardgate.sandbox.inside import channel, limits, loader, privileges, process, reaper

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

SCRIPT = "chart.py"
MAX_RESULT_BYTES = 48 << 20
# The shipped modules, loaded into one namespace before any script runs (the work dir
# is writable by the script; nothing is read from it later).
SHIPPED = ("startup.py", "colours.py", "chartmimic.py", "instrument.py")
INSTRUMENT: dict[str, Any] = {}


def load_shipped(sources: dict[str, str]) -> None:
    INSTRUMENT["__name__"] = "instrument"
    loader.exec_files(INSTRUMENT, sources, SHIPPED)


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


def start_child(source: str, job: dict[str, Any]) -> tuple[int, int]:
    """Fork the script's process: (pid, read end of its result pipe)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_fd)
        return pid, read_fd
    try:
        os.setsid()
        process.null_stdio()
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the script's prints go nowhere
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        process.close_from(3, keep=(write_fd,))
        in_use_mb = limits.address_space_in_use() >> 20
        limits.set_limits(
            cpu_s=int(job["time_limit_s"]) + 1,
            address_space_bytes=(in_use_mb + job["memory_mb"]) << 20,
        )
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


def main() -> None:
    try:
        run()
    except Exception:  # a bug here must not read as the script's failure
        import traceback

        channel.emit({"internal_error": traceback.format_exc()[-2000:]})


def run() -> None:
    privileges.not_dumpable()
    privileges.child_subreaper()  # the script's orphans stay ours, for the reaper
    channel.keep_private()
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]
    if not INSTRUMENT:  # a cold start (a warm one preloaded them)
        load_shipped(loader.read_files(SHIPPED))
        INSTRUMENT["preload_modules"](read_only=False)
    job = json.loads(sys.stdin.read())
    with open(SCRIPT, encoding="utf-8", errors="replace") as f:
        source = f.read()
    channel.emit({"runner": "started"})
    started = time.monotonic()
    pid, read_fd = start_child(source, job)
    output, timed_out = collect(pid, read_fd, job["time_limit_s"])
    _, status = os.waitpid(pid, 0)
    ms = round((time.monotonic() - started) * 1000, 1)
    reaper.kill_the_rest()
    executed = {
        "ms": ms,
        "timed_out": timed_out,
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
    }
    channel.emit({"executed": executed})
    line = output.partition(b"\n")[0]
    if line:
        try:
            result = json.loads(line)
        except ValueError:
            result = {"error": "protocol", "message": "the script's process sent no result"}
        channel.emit({"result": result})


if __name__ == "__main__":
    main()
