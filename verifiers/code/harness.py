"""Trusted in-sandbox harness for the function-call formats (HumanEval, MBPP, pytest, APPS).

Shipped as text into the sandbox work dir and run as the entry `harness.py` with the
job as JSON on stdin; it imports nothing of rewardgate but the sandbox's inside
library (`rewardgate.sandbox.inside`, there in every sandbox). It keeps fd 3 (the result
channel) and the test code. The program runs in a separate child process (see
`Child`: fd 3 and the job's stdin are closed there before any of its code runs) that
imports it and serves calls over a pipe (harness_child.py). Test code runs here, with
the program's functions bound to proxies whose return values cross as plain data
(None, bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset);
nothing else crosses. So the program cannot exit the harness, hand it an object that
equals everything, patch its builtins, or write a verdict: verdicts are JSON lines on
fd 3, one per test. `prctl(PR_SET_DUMPABLE, 0)` keeps the child out of
/proc/<harness>/ (memory, fds) and ptrace; `-I` and the filtered sys.path keep the
harness from importing anything the program writes into the work dir.

Channel lines: {"harness": "started"}, then {"import_failed": label, "message"} or
{"collect_failed": message} or {"tests": [names]}, one {"test": i, "label", "message",
"ms"} per test run, {"done": true}; {"internal_error": traceback} if the harness broke.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import select
import signal
import sys
import time

from rewardgate.sandbox.inside import channel, limits, loader, privileges, process

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any, NoReturn

MAX_MESSAGE = 32 << 20
# Loaded from the shipped files at start-up, before any program runs (the work dir is
# writable by the program; nothing is imported from it later).
WIRE: dict[str, Any] = {}  # harness_child.py: encode / decode
FORMATS: dict[str, Any] = {}  # harness_formats.py: collect
SHIPPED = {"harness_child.py": WIRE, "harness_formats.py": FORMATS}
PRELOADED = (
    "typing", "collections", "itertools", "functools", "math", "re", "heapq", "bisect",
    "string", "copy", "operator", "fractions", "decimal",
)  # fmt: skip


# --- the harness side -------------------------------------------------------------------


class CandidateFailure(BaseException):
    """The candidate died, ran out of time or memory: the test fails whatever it catches."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(message)
        self.label = label


class CandidateError(Exception):
    """An exception the candidate raised that has no builtin twin."""


class Child:
    """The program's process. The first is forked before the harness reads its job (so
    it holds no test data) and skips an interpreter start; a replacement after a crash
    or a timeout is a fresh interpreter running harness_child.py."""

    def __init__(self) -> None:
        self.job: dict[str, Any] = {}
        self.pid = 0
        self.buffer = b""
        # Once the current test has lost its child, every later call in it fails too.
        self.failed: CandidateFailure | None = None
        self.deadline = 0.0
        self.functions: list[str] = []
        self.classes: list[str] = []
        self.rfd = self.wfd = -1

    def _fork(self) -> tuple[int, int] | None:
        """Fork with fresh pipes: the child's (read, write) fds in the child, None here."""
        to_child, self.wfd = os.pipe()
        self.rfd, from_child = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:  # out of processes or memory: the program's doing
            for fd in (to_child, from_child, self.rfd, self.wfd):
                os.close(fd)
            raise CandidateFailure("runtime_error", f"cannot start the program: {exc}") from None
        if pid == 0:
            try:
                os.setsid()
                process.null_stdio()
                process.close_from(3, keep=(to_child, from_child))  # the channel above all
                return to_child, from_child
            except BaseException:
                os._exit(127)
        self.pid = pid
        os.close(to_child)
        os.close(from_child)
        self.buffer = b""
        return None

    def prefork(self) -> None:
        fds = self._fork()
        if fds is None:
            return
        try:  # the child: wait for the settings, then become the program's server
            with os.fdopen(os.dup(fds[0]), "rb") as inp:
                config = json.loads(inp.readline())
            self._limit(config["memory_mb"])
            prelude = WIRE["APPS_PRELUDE"] if config["prelude"] else ""
            WIRE["child_main"](fds[0], fds[1], prelude)
        finally:
            os._exit(0)

    @staticmethod
    def _limit(memory_mb: int) -> None:
        limits.set_limits(address_space_bytes=memory_mb << 20)

    def start(self, limit_s: float) -> None:
        if self.pid:  # the preforked child waits for its settings
            config = {"memory_mb": self.job["memory_mb"], "prelude": bool(self.job.get("prelude"))}
            try:
                os.write(self.wfd, (json.dumps(config) + "\n").encode())
            except OSError:
                self.kill()
                raise CandidateFailure("runtime_error", "the program exited") from None
        else:
            fds = self._fork()
            if fds is not None:  # the child: a fresh interpreter, nothing of the job left
                try:
                    self._limit(self.job["memory_mb"])
                    for fd in fds:
                        os.set_inheritable(fd, True)
                    prelude = "1" if self.job.get("prelude") else "0"
                    argv = [sys.executable, "-I", "harness_child.py", *map(str, fds), prelude]
                    os.execv(sys.executable, argv)
                finally:
                    os._exit(127)
        self.deadline = time.monotonic() + limit_s
        reply = self.receive()
        if "ready" not in reply:
            self.kill()
            raise CandidateFailure(reply.get("error", "runtime_error"), reply.get("message", ""))
        self.functions, self.classes = reply["ready"], reply["classes"]

    def kill(self) -> None:
        if self.pid:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            os.close(self.rfd)
            os.close(self.wfd)
            self.pid = 0

    def receive(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                self.kill()
                raise CandidateFailure("time_limit", "time limit exceeded")
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk or len(self.buffer) > MAX_MESSAGE:
                self.kill()
                raise CandidateFailure("runtime_error", "the program exited or broke the protocol")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            self.kill()
            raise CandidateFailure("runtime_error", "the program broke the protocol") from None

    def call(self, target: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.failed is not None:
            raise self.failed
        if not self.pid:
            self.start(self.job["time_limit"] + 5)
        message = {"call": target, "args": json.dumps(WIRE["encode"](list(args)))}
        message["kwargs"] = json.dumps(WIRE["encode"](dict(kwargs)))
        try:
            os.write(self.wfd, (json.dumps(message) + "\n").encode())
            reply = self.receive()
        except CandidateFailure as failure:
            self.failed = failure
            raise
        except OSError:
            self.kill()
            self.failed = CandidateFailure("runtime_error", "the program exited")
            raise self.failed from None
        if "ok" in reply:
            try:
                return WIRE["decode"](reply["ok"])
            except (ValueError, TypeError, RecursionError):
                raise CandidateError("the program returned a malformed value") from None
        name, message_text = str(reply.get("exc")), str(reply.get("message"))[:500]
        if name == "MemoryError":
            self.failed = CandidateFailure("memory_limit", "MemoryError")
            raise self.failed
        cls = getattr(builtins, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                exc = cls(message_text)
            except Exception:
                raise CandidateError(f"{name}: {message_text}") from None
            exc.from_candidate = True  # type: ignore[attr-defined]  # a test that does not expect it reports runtime_error
            raise exc
        raise CandidateError(f"{name}: {message_text}")

    def proxy(self, target: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self.call(target, args, kwargs)

        call.__name__ = call.__qualname__ = target.rpartition(".")[2]
        return call


def run_tests(child: Child, tests: list[tuple[str, Any]], stop_on_failure: bool) -> None:
    """Run `(name, thunk)` pairs; one verdict line per test on the channel."""
    channel.emit({"tests": [name for name, _ in tests]})
    limit = child.job["time_limit"]
    for index, (_name, thunk) in enumerate(tests):
        child.failed = None
        started = time.monotonic()
        child.deadline = started + limit
        label, message = "passed", ""
        signal.setitimer(signal.ITIMER_REAL, limit + 2)
        try:
            if not child.pid:
                child.start(limit + 5)
                child.deadline = time.monotonic() + limit
            thunk()
        except CandidateFailure as failure:
            label, message = failure.label, str(failure)
        except AssertionError as exc:
            label, message = "wrong_answer", f"AssertionError: {exc}"
        except CandidateError as exc:
            label, message = "runtime_error", str(exc)
        except Exception as exc:
            label = "runtime_error" if getattr(exc, "from_candidate", False) else "wrong_answer"
            message = f"{type(exc).__name__}: {exc}"
        except BaseException as exc:
            label, message = "wrong_answer", f"{type(exc).__name__}: {exc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if child.failed is not None:
            label, message = child.failed.label, str(child.failed)
        ms = round((time.monotonic() - started) * 1000, 1)
        channel.emit({"test": index, "label": label, "message": message[:500], "ms": ms})
        if label != "passed" and stop_on_failure:
            break
    channel.emit({"done": True})


def main() -> None:
    try:
        harness()
    except Exception:  # a bug here must not read as the program's failure
        import traceback

        channel.emit({"internal_error": traceback.format_exc()[-2000:]})


def load_shipped(sources: dict[str, str]) -> None:
    for name, namespace in SHIPPED.items():
        namespace["__name__"] = name.removesuffix(".py")
        loader.exec_files(namespace, sources, [name])


def preload(files: dict[str, str]) -> None:
    """A warm start (sandbox/zygote.py): the shipped modules, and the standard modules
    programs import most, loaded once for every run (`random` is left out: a preloaded
    one would give every run the same seed)."""
    load_shipped(files)
    for name in PRELOADED:
        __import__(name)


def harness() -> None:
    privileges.not_dumpable()
    channel.keep_private()
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]
    sys.set_int_max_str_digits(0)
    if not WIRE:  # a cold start (a warm one preloaded them)
        # The test collectors load before any candidate runs: the work dir is writable.
        load_shipped(loader.read_files(SHIPPED))
    child = Child()
    child.prefork()  # before the job is read: the child must not hold it
    job = json.loads(sys.stdin.read())
    child.job = job
    channel.emit({"harness": "started"})

    def on_alarm(signum: int, frame: Any) -> NoReturn:
        raise CandidateFailure("time_limit", "time limit exceeded")

    signal.signal(signal.SIGALRM, on_alarm)
    try:
        child.start(job["time_limit"] + 5)
    except CandidateFailure as failure:
        channel.emit({"import_failed": failure.label, "message": str(failure)[:1000]})
        return
    try:
        tests = FORMATS["collect"](job, child)[: job.get("max_tests") or None]
    except BaseException as exc:
        channel.emit({"collect_failed": f"{type(exc).__name__}: {exc}"[:1000]})
        return
    run_tests(child, tests, job.get("stop_on_failure", False))
    child.kill()


if __name__ == "__main__":
    main()
