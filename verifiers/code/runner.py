"""Trusted in-sandbox runner for stdio tests and output checkers.

Shipped as text into the sandbox work dir and run as the entry `runner.py` with the
job as JSON on stdin; it imports nothing of rewardgate but the sandbox's inside
library (`rewardgate.sandbox.inside`). It runs the program (Python,
parsed first; or a binary the host built and mounted) once per test with that test's
stdin, and writes one
JSON line per test to fd 3 with the captured stdout (base64, cut at a cap the host
chose), the exit status and a stderr tail. The comparison with the expected output
happens on the host, so the expected outputs never enter the sandbox. Each run is a
separate process (only fd 0-2 open: fd 3 stays here) in its own session, killed whole
on its time limit. A Python program runs in a fork of this runner, reset to look like
a fresh `python3 solution.py` (`exec_python`): after a warm start that saves an
interpreter start per test. With `checker`, the job instead runs a checker program per
test on (input, expected, actual) files and reports its exit status.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import sys
import time

from rewardgate.sandbox.inside import channel, limits, privileges, process

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

TAIL = 1000
DEFAULT_MAX_STR_DIGITS = sys.get_int_max_str_digits()  # before main() lifts it


def limiter(memory_mb: int, cpu_s: int, file_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        # memory_mb 0: a runtime RLIMIT_AS breaks (JVM, Go, V8); the cgroup bounds it.
        limits.set_limits(cpu_s=cpu_s, file_bytes=file_bytes, address_space_bytes=memory_mb << 20)

    return apply


def exec_python(argv: list[str]) -> int:
    """In a fresh fork of this runner: `python3 *argv` without starting an interpreter.

    What a cold `python3 path` would differ in is reset first: `__main__`, argv, the
    script's dir on sys.path, the int-string limit, fresh standard streams on fd 0-2.
    Exit status follows the interpreter's: SystemExit's code, 1 and a traceback on an
    uncaught exception, non-daemon threads joined before exiting.
    """
    import builtins
    import threading
    import traceback
    import types

    path = argv[0]
    sys.set_int_max_str_digits(DEFAULT_MAX_STR_DIGITS)
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    sys.argv = list(argv)
    sys.path.insert(0, os.getcwd())
    process.reopen_std_streams()
    code = 0
    try:
        with open(path, "rb") as f:
            source = f.read()
        exec(compile(source, path, "exec"), main.__dict__)
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException as exc:
        frames = exc.__traceback__.tb_next if exc.__traceback__ else None  # not this frame
        traceback.print_exception(type(exc), exc, frames)
        code = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # what interpreter exit does
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            code = code or 120  # CPython's status when flushing stdout fails at exit
    return code


def exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    with contextlib.suppress(BaseException):
        print(exc.code, file=sys.stderr)
    return 1


def spawn(argv: list[str], python: bool, files: tuple[Any, Any, Any], limit: Any) -> int:
    """A child in its own session on the given stdin/stdout/stderr, limited by `limit`:
    `argv` exec'd, or with `python` the Python script argv[0] run in the fork. Only fd
    0-2 stay open: fd 3, the channel, above all."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        process.move_fds([f.fileno() for f in files])
        process.close_from(3)
        limit()
        if not python:
            os.execvp(argv[0], argv)
        os._exit(exec_python(argv))
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            os.write(2, f"cannot start the program: {exc}".encode())
    os._exit(127)


def run(
    argv: list[str], python: bool, stdin_bytes: bytes, time_limit: float, memory_mb: int, cap: int
) -> dict[str, Any]:
    """Run argv once (`python`: a Python script and its arguments); stdout and stderr go
    to files capped at `cap`."""
    with open(".stdin", "wb") as f:
        f.write(stdin_bytes)
    started = time.monotonic()
    with open(".stdin", "rb") as inp, open(".stdout", "wb") as out, open(".stderr", "wb") as err:
        try:
            limit = limiter(memory_mb, int(time_limit) + 1, cap)
            pid = spawn(argv, python, (inp, out, err), limit)
        except OSError as exc:  # out of processes: a previous run's leftovers
            return {"exit": -1, "timed_out": False, "ms": 0.0, "stdout": "", "truncated": False,
                    "stderr": f"cannot start the program: {exc}"}  # fmt: skip
        pidfd = os.pidfd_open(pid)
        timed_out = not select.select([pidfd], [], [], time_limit)[0]
        os.close(pidfd)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    ms = (time.monotonic() - started) * 1000
    with open(".stdout", "rb") as f:
        stdout = f.read(cap + 1)
    with open(".stderr", "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - TAIL))
        stderr = f.read(TAIL)
    for name in (".stdin", ".stdout", ".stderr"):
        os.unlink(name)
    return {
        "exit": os.waitstatus_to_exitcode(status),
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
    python = argv is None
    if python:
        problem = syntax_error()
        if problem is not None:
            channel.emit({"compile_error": problem})
            return
        argv = ["solution.py"]
    channel.emit({"compiled": True})
    args = job.get("args") or [[] for _ in job["stdin"]]  # per test, after argv
    tests = zip(job["stdin"], job["caps"], args, strict=True)
    for index, (stdin_text, cap, extra) in enumerate(tests):
        stdin = stdin_text.encode()
        result = run(argv + extra, python, stdin, job["time_limit"], job["memory_mb"], cap)
        channel.emit({"test": index, **result})
        if job["stop_on_failure"] and (result["exit"] != 0 or result["timed_out"]):
            break


def check(job: dict[str, Any]) -> None:
    for index, case in enumerate(job["cases"]):
        for name in ("input", "expected", "actual"):
            with open(f"{name}.txt", "w", encoding="utf-8") as f:
                f.write(case[name])
        argv = ["checker.py", "input.txt", "expected.txt", "actual.txt"]
        result = run(argv, True, b"", job["time_limit"], job["memory_mb"], 1 << 16)
        channel.emit(
            {
                "test": index,
                "exit": result["exit"],
                "timed_out": result["timed_out"],
                "stderr": result["stderr"],
            }
        )


def main() -> None:
    privileges.not_dumpable()
    channel.keep_private()
    sys.set_int_max_str_digits(0)
    job = json.loads(sys.stdin.read())
    channel.emit({"runner": "started"})
    try:
        check(job) if job["kind"] == "check" else stdio(job)
    except Exception:  # a bug here must not read as the program's failure
        import traceback

        channel.emit({"internal_error": traceback.format_exc()[-2000:]})
        return
    channel.emit({"done": True})


if __name__ == "__main__":
    main()
