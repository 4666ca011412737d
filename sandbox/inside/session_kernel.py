"""A session's kernel: a long-lived interpreter in one sandbox that runs cell after cell.

The host (`rewardgate.service.sessions`) spawns it with two pipes, requests on fd 3 and
answers on fd 4, one JSON line each; argv[1] names the kernel:

- `python`: each cell is executed in one namespace kept across cells (a notebook
  kernel); the value of its last expression comes back as its `repr`;
- `bash`: one `bash` process keeps variables, functions and the working directory;
  each command is `eval`ed there and its exit status comes back.

Each cell's fd 1 and 2 are fresh memfds (what the cell and any program it starts
write), read back up to the request's `max_bytes`. A cell running past `timeout_s`
is interrupted: Python's by an alarm that raises in it (the namespace stays), bash's by
killing the shell's process group and starting a new shell (its state is lost, said in
stderr). A cell that defeats the alarm is the host's to end: it kills the session.

The pipes are not inherited by anything a cell starts. Python cells run in this very
process, so they could reach them: they would only answer for their own session.
Standard library only (shipped by `host_shipping`).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import json
import os
import secrets
import select
import shlex
import signal
import subprocess
import sys
import time
import traceback

from rewardgate.sandbox.inside.channel import write_all

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

REQUESTS, ANSWERS = 3, 4
MAX_FILES = 1000


class CellTimeout(BaseException):
    """Raised in a Python cell by the per-cell alarm (a BaseException: `except
    Exception` in the cell does not swallow it)."""


def _on_alarm(signum: int, frame: object) -> None:
    raise CellTimeout


def _read_capped(fd: int, max_bytes: int) -> tuple[str, bool]:
    """What a memfd holds from its start, cut at `max_bytes`; whether it was cut."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, max_bytes, 0) if size else b""
    return data.decode("utf-8", "replace"), size > max_bytes


class Captured:
    """fd 1 and 2 (and sys.stdout / sys.stderr, which write to them) sent to two fresh
    memfds for one cell, then put back."""

    def __enter__(self) -> Captured:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        self.saved = [os.dup(1), os.dup(2)]
        self.memfds = [os.memfd_create("stdout"), os.memfd_create("stderr")]
        for target, memfd in zip((1, 2), self.memfds, strict=False):
            os.dup2(memfd, target)
        return self

    def __exit__(self, *exc: object) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        for target, saved in zip((1, 2), self.saved, strict=False):
            os.dup2(saved, target)
            os.close(saved)

    def read(self, max_bytes: int) -> dict[str, Any]:
        (out, cut_out), (err, cut_err) = (_read_capped(fd, max_bytes) for fd in self.memfds)
        for fd in self.memfds:
            os.close(fd)
        return {"stdout": out, "stderr": err, "truncated": cut_out or cut_err}


class PythonKernel:
    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        signal.signal(signal.SIGALRM, _on_alarm)

    def run(self, code: str, timeout_s: float, max_bytes: int) -> dict[str, Any]:
        status, value, error = "ok", None, None
        with Captured() as captured:
            try:
                tree = ast.parse(code, "<cell>", "exec")
                last = None
                tail = tree.body[-1] if tree.body else None
                if isinstance(tail, ast.Expr):
                    last = ast.Expression(tail.value)
                    tree.body.pop()
                signal.setitimer(signal.ITIMER_REAL, timeout_s)
                try:
                    # safe: running the model's cell is this kernel's job, and it runs
                    # only inside the session's sandbox (no network, seccomp, cgroup).
                    exec(compile(tree, "<cell>", "exec"), self.namespace)
                    if last is not None:
                        last_code = compile(last, "<cell>", "eval")
                        result = eval(last_code, self.namespace)  # safe: as above
                        if result is not None:
                            value = repr(result)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except CellTimeout:
                status = "timeout"
                sys.stderr.write(f"cell interrupted after {timeout_s} s\n")
            except SystemExit as exc:
                status = "error"
                sys.stderr.write(f"SystemExit({exc.code!r}): the session stays open\n")
            except BaseException as exc:
                status = "error"
                error = {"ename": type(exc).__name__, "evalue": str(exc)}
                traceback.print_exc()
        answer = {"status": status, "value": value, **captured.read(max_bytes)}
        if error is not None:
            answer["error"] = error
        return answer


class BashKernel:
    def __init__(self) -> None:
        self.shell: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.shell = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def restart(self) -> None:
        shell = self.shell
        if shell is not None:
            with contextlib.suppress(OSError):
                os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
            for pipe in (shell.stdin, shell.stdout, shell.stderr):
                if pipe is not None:
                    pipe.close()
        self.start()

    def run(self, code: str, timeout_s: float, max_bytes: int) -> dict[str, Any]:
        shell = self.shell
        assert shell is not None and shell.stdin and shell.stdout and shell.stderr
        mark = "__rewardgate_" + secrets.token_hex(8) + "__"
        script = (
            f"eval -- {shlex.quote(code)} </dev/null\n"
            f"printf '%s %d\\n' {mark} $?\nprintf '%s\\n' {mark} >&2\n"
        )
        try:
            shell.stdin.write(script.encode())
            shell.stdin.flush()
        except BrokenPipeError:
            self.restart()
            return {
                "status": "error",
                "value": None,
                "stdout": "",
                "truncated": False,
                "stderr": "the shell had ended; a new one was started\n",
            }
        bufs = {shell.stdout.fileno(): bytearray(), shell.stderr.fileno(): bytearray()}
        done: set[int] = set()
        deadline = time.monotonic() + timeout_s
        status, exit_code = "ok", None
        while len(done) < 2:
            left = deadline - time.monotonic()
            ready = select.select([fd for fd in bufs if fd not in done], [], [], max(0, left))[0]
            if not ready:
                status = "timeout"
                break
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    done.add(fd)
                    status = "exited"
                    continue
                bufs[fd] += chunk
                if len(bufs[fd]) > 4 * max_bytes + 4096:  # keep the head and the tail
                    del bufs[fd][max_bytes : len(bufs[fd]) - 4096]
                if mark.encode() in bufs[fd][-4096:]:
                    done.add(fd)
        out, err = bytes(bufs[shell.stdout.fileno()]), bytes(bufs[shell.stderr.fileno()])
        at = out.rfind(mark.encode())
        if at >= 0:
            tail = out[at + len(mark) :].split()
            exit_code = int(tail[0]) if tail else None
            out = out[:at]
        err = err[: err.rfind(mark.encode())] if mark.encode() in err else err
        if status != "ok":
            self.restart()
            note = "timed out" if status == "timeout" else "exited"
            err += f"\nthe shell {note}; a new one was started (its state is lost)\n".encode()
        elif exit_code:
            status = "error"
        return {
            "status": status,
            "value": None,
            "exit_code": exit_code,
            "stdout": out[:max_bytes].decode("utf-8", "replace"),
            "stderr": err[:max_bytes].decode("utf-8", "replace"),
            "truncated": len(out) > max_bytes or len(err) > max_bytes,
        }


def list_files(root: str = ".") -> list[dict[str, Any]]:
    """Files under the work dir (path, bytes), at most MAX_FILES."""
    found: list[dict[str, Any]] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            try:
                size = os.lstat(path).st_size
            except OSError:
                continue
            found.append({"path": os.path.relpath(path, root), "bytes": size})
            if len(found) >= MAX_FILES:
                return found
    return found


def read_files(paths: list[str], max_bytes: int) -> dict[str, str | None]:
    """Each of `paths` (under the work dir) base64-encoded, None if absent or bigger
    than `max_bytes`."""
    import base64

    found: dict[str, str | None] = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read(max_bytes + 1)
        except OSError:
            data = None
        ok = data is not None and len(data) <= max_bytes
        found[path] = base64.b64encode(data).decode() if ok and data is not None else None
    return found


def main() -> int:
    for fd in (REQUESTS, ANSWERS):
        os.set_inheritable(fd, False)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a cell over the file size: EFBIG
    kernel = PythonKernel() if sys.argv[1:2] == ["python"] else BashKernel()
    requests = os.fdopen(REQUESTS, "rb")
    sys.argv = [""]
    os.write(ANSWERS, b'{"status": "ready"}\n')
    for line in requests:
        request = json.loads(line)
        started = time.monotonic()
        if request.get("op") == "files":
            answer: dict[str, Any] = {"status": "ok", "files": list_files()}
        elif request.get("op") == "read":
            read = read_files(request["paths"], int(request["max_bytes"]))
            answer = {"status": "ok", "contents": read}
        else:
            answer = kernel.run(
                request["code"], float(request["timeout_s"]), int(request["max_bytes"])
            )
        answer["elapsed_ms"] = round((time.monotonic() - started) * 1000, 3)
        write_all(ANSWERS, (json.dumps(answer) + "\n").encode())
    return 0
