"""Trusted in-sandbox runner for stdio tests and output checkers.

Shipped as text into the sandbox work dir and run as `python3 -I runner.py` with the
job as JSON on stdin; it must not import rewardgate. It runs the program (Python,
parsed first; or a binary the host built and mounted) once per test with that test's
stdin, and writes one
JSON line per test to fd 3 with the captured stdout (base64, cut at a cap the host
chose), the exit status and a stderr tail. The comparison with the expected output
happens on the host, so the expected outputs never enter the sandbox. Each run is a
separate process (close_fds: fd 3 stays here) in its own session, killed whole on its
time limit. With `checker`, the job instead runs a checker program per test on
(input, expected, actual) files and reports its exit status.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

CHANNEL = 3
TAIL = 1000


def emit(obj: dict[str, Any]) -> None:
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(CHANNEL, data) :]


def limiter(memory_mb: int, cpu_s: int, file_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        memory = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run(
    argv: list[str], stdin_bytes: bytes, time_limit: float, memory_mb: int, cap: int
) -> dict[str, Any]:
    """Run argv once; stdout and stderr go to files capped at `cap` bytes."""
    with open(".stdin", "wb") as f:
        f.write(stdin_bytes)
    started = time.monotonic()
    with open(".stdin", "rb") as inp, open(".stdout", "wb") as out, open(".stderr", "wb") as err:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=inp,
                stdout=out,
                stderr=err,
                close_fds=True,
                start_new_session=True,
                preexec_fn=limiter(memory_mb, int(time_limit) + 1, cap),
            )
        except OSError as exc:  # out of processes: a previous run's leftovers
            return {"exit": -1, "timed_out": False, "ms": 0.0, "stdout": "", "truncated": False,
                    "stderr": f"cannot start the program: {exc}"}  # fmt: skip
        timed_out = False
        try:
            proc.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            timed_out = True
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    ms = (time.monotonic() - started) * 1000
    with open(".stdout", "rb") as f:
        stdout = f.read(cap + 1)
    with open(".stderr", "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - TAIL))
        stderr = f.read(TAIL)
    for name in (".stdin", ".stdout", ".stderr"):
        os.unlink(name)
    return {
        "exit": proc.returncode,
        "timed_out": timed_out,
        "ms": round(ms, 1),
        "stdout": base64.b64encode(stdout[:cap]).decode(),
        "truncated": len(stdout) > cap,
        "stderr": stderr.decode("utf-8", "replace"),
    }


def syntax_error() -> str | None:
    try:
        with open("solution.py", "rb") as f:
            compile(f.read(), "solution.py", "exec")
    except (SyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def stdio(job: dict[str, Any]) -> None:
    argv = job["argv"]  # a compiled program, built (and cached) by the host's toolchain
    if argv is None:
        problem = syntax_error()
        if problem is not None:
            emit({"compile_error": problem})
            return
        argv = [sys.executable, "solution.py"]
    emit({"compiled": True})
    for index, (stdin_text, cap) in enumerate(zip(job["stdin"], job["caps"], strict=True)):
        result = run(argv, stdin_text.encode(), job["time_limit"], job["memory_mb"], cap)
        emit({"test": index, **result})
        if job["stop_on_failure"] and (result["exit"] != 0 or result["timed_out"]):
            break


def check(job: dict[str, Any]) -> None:
    argv = [sys.executable, "checker.py", "input.txt", "expected.txt", "actual.txt"]
    for index, case in enumerate(job["cases"]):
        for name in ("input", "expected", "actual"):
            with open(f"{name}.txt", "w", encoding="utf-8") as f:
                f.write(case[name])
        result = run(argv, b"", job["time_limit"], job["memory_mb"], 1 << 16)
        emit(
            {
                "test": index,
                "exit": result["exit"],
                "timed_out": result["timed_out"],
                "stderr": result["stderr"],
            }
        )


def main() -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    os.set_inheritable(CHANNEL, False)
    sys.set_int_max_str_digits(0)
    job = json.loads(sys.stdin.read())
    emit({"runner": "started"})
    try:
        check(job) if job["kind"] == "check" else stdio(job)
    except Exception:  # a bug here must not read as the program's failure
        import traceback

        emit({"internal_error": traceback.format_exc()[-2000:]})
        return
    emit({"done": True})


if __name__ == "__main__":
    main()
