"""Tool sessions: long-lived sandboxed kernels that keep state between calls.

Agentic RL runs code during a rollout, turn after turn, in an environment that keeps
its state. A session is one sandbox spawned by `Backend.spawn` (same namespaces,
seccomp, cgroup and rlimits as a one-shot run) running the kernel
`rewardgate.sandbox.inside.session_kernel`, spoken to over two pipes. The manager is
per replica and lives in the gateway process, not in the engine's workers (which are
killed and replaced): a session must outlive them.

Limits: per call (the kernel interrupts the cell; one that defeats that is killed with
its session after a grace), memory and processes for the whole session (its cgroup),
total lifetime and idle time (`reap`, run by the app every second), and a bound on
live sessions (`Overloaded`, a 429). `close` kills the session's whole cgroup and its
tmpfs work dir goes with the sandbox: nothing is left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from rewardgate.contract.errors import InvalidRequest, NotFound, Overloaded, SandboxError
from rewardgate.sandbox.api import Limits, Process
from rewardgate.sandbox.host_shipping import server_command
from rewardgate.sandbox.registry import configure, get_backend
from rewardgate.sandbox.supervise import readable

__all__ = ["KERNELS", "Session", "SessionLimits", "SessionManager"]

Kernel = Literal["python", "bash"]
KERNELS: tuple[Kernel, ...] = ("python", "bash")
GRACE_S = 2.0  # past a call's timeout, what the kernel gets to interrupt it itself
START_TIMEOUT_S = 30.0
OUTPUT_BYTES = 1 << 16  # per stream, per call
READ_BYTES = 8 << 20  # one file read back from a session
# One answer line of a kernel at most: a cell runs in the kernel and can write to its
# answer pipe, so the gateway must not buffer whatever it sends (4 files of READ_BYTES
# fit, base64).
ANSWER_BYTES = 64 << 20
READ_PER_CALL = 4  # files read back in one call


@dataclass(frozen=True)
class SessionLimits:
    call_timeout_s: float = 30.0
    memory_mb: int = 256
    lifetime_s: float = 3600.0
    idle_s: float = 600.0
    processes: int = 64

    def capped(self, by: SessionLimits) -> SessionLimits:
        """These limits, none above `by`'s (a request may lower the server's, never
        raise them)."""
        return SessionLimits(
            min(self.call_timeout_s, by.call_timeout_s),
            min(self.memory_mb, by.memory_mb),
            min(self.lifetime_s, by.lifetime_s),
            min(self.idle_s, by.idle_s),
            min(self.processes, by.processes),
        )


@dataclass
class Session:
    """One live kernel. `call` is blocking and serialised by the session's lock."""

    id: str
    kernel: Kernel
    owner: str | None
    limits: SessionLimits
    process: Process
    requests: int
    answers: int
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    ended: str | None = None
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _buffer: bytearray = field(default_factory=bytearray)

    def _read_line(self, deadline: float) -> bytes | None:
        """One answer line, or None at EOF (the kernel is gone) or past `deadline`; b""
        past ANSWER_BYTES. Linear in the answer: the buffer grows in place and only the
        new chunk is searched for the newline (a large answer took quadratic time)."""
        end = self._buffer.find(b"\n")
        while end < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not readable([self.answers], left):
                return None
            chunk = os.read(self.answers, 1 << 16)
            if not chunk:
                return None
            found = chunk.find(b"\n")
            end = len(self._buffer) + found if found >= 0 else -1
            self._buffer += chunk
            if end < 0 and len(self._buffer) > ANSWER_BYTES:
                self._buffer.clear()
                return b""  # not an answer: the call ends the session
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send `request` to the kernel, its answer; a kernel that does not answer in
        `timeout_s` + a grace, or dies, ends the session (`ended` says why)."""
        with self.lock:
            if self.ended is not None:
                raise NotFound(f"session {self.id} has ended ({self.ended})")
            self.last_used = time.monotonic()
            self.calls += 1
            try:
                os.write(self.requests, (json.dumps(request) + "\n").encode())
                line = self._read_line(time.monotonic() + timeout_s + GRACE_S)
            except OSError:
                line = None
            self.last_used = time.monotonic()
            answer = _answer(line) if line is not None else None
            if answer is None:
                code = self.process.wait(0)
                reason = (
                    "the kernel's answer was not one JSON object (a cell wrote to its pipe)"
                    if line is not None
                    else "timeout: the call ran past its limit and was killed"
                    if code is None
                    else f"the kernel ended (exit {code}; out of memory or killed)"
                )
                self.close(reason)
                return {"status": "ended", "ended": reason, "stdout": "", "stderr": ""}
            return answer

    def close(self, reason: str) -> None:
        """Kill everything of the session and free its cgroup and pipes; idempotent."""
        if self.ended is None:
            self.ended = reason
        self.process.close()
        for fd in (self.requests, self.answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.requests = self.answers = -1

    def describe(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "id": self.id,
            "kernel": self.kernel,
            "calls": self.calls,
            "age_s": round(now - self.created, 3),
            "idle_s": round(now - self.last_used, 3),
            "limits": self.limits.__dict__,
        }


def _answer(line: bytes) -> dict[str, Any] | None:
    """A kernel's answer line as a dict, None when it is not one."""
    try:
        answer = json.loads(line)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def owner_of(api_key: str | None) -> str | None:
    """What a session records of the key that created it: a digest, never the key."""
    return hashlib.sha256(api_key.encode()).hexdigest() if api_key else None


class SessionManager:
    """The live sessions of this replica, bounded by `max_live`."""

    def __init__(
        self,
        backend: str = "bwrap",
        max_live: int = 200,
        limits: SessionLimits | None = None,
        resolve_asset: Any = None,
        memory_budget_mb: int = 0,
        replica: str = "",
    ) -> None:
        self.backend = backend
        self.replica = replica  # ids start with `replica~` (sessions_forward.py)
        # The caps of all live sessions together stay under this (0: max_live x cap).
        self.memory_budget_mb = memory_budget_mb or max_live * (limits or SessionLimits()).memory_mb
        self.max_live = max_live
        self.limits = limits or SessionLimits()
        self.resolve_asset = resolve_asset  # "asset:<sha>" -> Path, or None: refused
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._starting = 0
        self._reserved_mb = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def _files(self, files: Mapping[str, bytes | str]) -> dict[str, bytes | str]:
        out: dict[str, bytes | str] = {}
        for name, text in files.items():
            norm = posixpath.normpath(name)
            if not name or "\0" in name or norm.startswith(("/", "..")) or norm == ".":
                raise InvalidRequest(f"file name must be relative, inside the work dir: {name!r}")
            if isinstance(text, str) and text.startswith("asset:"):
                if self.resolve_asset is None:
                    raise InvalidRequest("this server holds no assets for session files")
                out[name] = self.resolve_asset(text).read_bytes()
            else:
                out[name] = text
        return out

    def create(
        self,
        kernel: str,
        files: Mapping[str, bytes | str] | None = None,
        limits: SessionLimits | None = None,
        owner: str | None = None,
    ) -> Session:
        """Start a session (blocking: about a second on a busy host)."""
        if kernel not in KERNELS:
            raise InvalidRequest(f"unknown kernel {kernel!r}; available: {', '.join(KERNELS)}")
        wanted = (limits or self.limits).capped(self.limits)
        contents = self._files(files or {})
        with self._lock:
            if len(self._sessions) + self._starting >= self.max_live:
                raise Overloaded(f"{self.max_live} sessions are live; end one or retry later")
            if self._memory_mb() + self._reserved_mb + wanted.memory_mb > self.memory_budget_mb:
                raise Overloaded(
                    f"the live sessions' memory caps would pass {self.memory_budget_mb} MB"
                )
            self._starting += 1
            self._reserved_mb += wanted.memory_mb
        try:
            return self._start(kernel, contents, wanted, owner)
        finally:
            with self._lock:
                self._starting -= 1
                self._reserved_mb -= wanted.memory_mb

    def _memory_mb(self) -> int:
        return sum(s.limits.memory_mb for s in self._sessions.values())

    def _start(
        self,
        kernel: Kernel,
        files: dict[str, bytes | str],
        limits: SessionLimits,
        owner: str | None,
    ) -> Session:
        sandbox = Limits(
            memory_mb=limits.memory_mb,
            processes=limits.processes,
            cpu_s=limits.lifetime_s,
            open_files=256,
            file_size_mb=64,
        )
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        try:
            process = get_backend(self.backend).spawn(
                [*server_command("session_kernel"), kernel], files, sandbox, pass_fds=[req_r, ans_w]
            )
        except BaseException:
            for fd in (req_w, ans_r):
                os.close(fd)
            raise
        finally:
            os.close(req_r)
            os.close(ans_w)
        token = secrets.token_urlsafe(16)
        session_id = f"{self.replica}~{token}" if self.replica else token
        session = Session(session_id, kernel, owner, limits, process, req_w, ans_r)
        if session._read_line(time.monotonic() + START_TIMEOUT_S) is None:
            session.close("did not start")
            raise SandboxError("the session's kernel did not start")
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str, owner: str | None = None) -> Session:
        session = self._sessions.get(session_id)
        # Another key's session reads as absent: its id says nothing to a stranger.
        if session is None or session.owner != owner:
            raise NotFound(f"no live session {session_id}")
        return session

    def is_live(self, session_id: str) -> bool:
        return session_id in self._sessions

    def run(
        self, session_id: str, code: str, timeout_s: float | None = None, owner: str | None = None
    ) -> dict[str, Any]:
        session = self.get(session_id, owner)
        limit = min(timeout_s or session.limits.call_timeout_s, session.limits.call_timeout_s)
        answer = session.call(
            {"op": "run", "code": code, "timeout_s": limit, "max_bytes": OUTPUT_BYTES}, limit
        )
        if session.ended is not None:
            self._forget(session)
        return answer

    def files(self, session_id: str, owner: str | None = None) -> list[dict[str, Any]]:
        session = self.get(session_id, owner)
        answer = session.call({"op": "files"}, session.limits.call_timeout_s)
        if session.ended is not None:
            self._forget(session)
            raise NotFound(f"session {session_id} has ended ({session.ended})")
        files: list[dict[str, Any]] = answer.get("files", [])
        return files

    def read(
        self, session_id: str, paths: list[str], owner: str | None = None
    ) -> dict[str, str | None]:
        """Files of the session's work dir, base64 (None: absent or over READ_BYTES),
        READ_PER_CALL a call so that each answer stays under ANSWER_BYTES."""
        session = self.get(session_id, owner)
        contents: dict[str, str | None] = {}
        for start in range(0, len(paths), READ_PER_CALL):
            part = paths[start : start + READ_PER_CALL]
            request = {"op": "read", "paths": part, "max_bytes": READ_BYTES}
            answer = session.call(request, session.limits.call_timeout_s)
            if session.ended is not None:
                self._forget(session)
                raise NotFound(f"session {session_id} has ended ({session.ended})")
            contents.update(answer.get("contents", {}))
        return contents

    def delete(self, session_id: str, owner: str | None = None) -> None:
        session = self.get(session_id, owner)
        self._forget(session)
        session.close("deleted")

    def _forget(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def reap(self, now: float | None = None) -> list[str]:
        """End the sessions past their lifetime or idle limit; their ids. A session in a
        call is left to that call (whose own limit ends it)."""
        now = time.monotonic() if now is None else now
        ended = []
        for session in list(self._sessions.values()):
            if now - session.created > session.limits.lifetime_s:
                reason = "lifetime"
            elif now - session.last_used > session.limits.idle_s:
                reason = "idle"
            else:
                continue
            if not session.lock.acquire(blocking=False):
                continue
            try:
                self._forget(session)
                session.close(f"expired ({reason})")
            finally:
                session.lock.release()
            ended.append(session.id)
        return ended

    def close(self) -> None:
        """End every session (at shutdown)."""
        for session in list(self._sessions.values()):
            self._forget(session)
            session.close("server stopping")

    @classmethod
    def from_settings(cls, settings: Any, resolve_asset: Any = None) -> SessionManager:
        from rewardgate.service.verifier_settings import sandbox_env

        # The docker backend exactly as the verifiers configure it (the server's image
        # and pool size): configured otherwise, the verifiers' first use replaced the
        # process-wide instance and its close() removed these sessions' containers.
        configure("docker", **sandbox_env(settings).docker_options())
        limits = SessionLimits(
            call_timeout_s=settings.session_call_timeout_s,
            memory_mb=settings.session_memory_mb,
            lifetime_s=settings.session_lifetime_s,
            idle_s=settings.session_idle_s,
        )
        return cls(
            settings.session_backend or settings.sandbox_backend,
            settings.session_max_live,
            limits,
            resolve_asset,
            settings.session_memory_budget_mb,
            settings.session_replica,
        )


def limits_from(body: Mapping[str, Any], defaults: SessionLimits) -> SessionLimits:
    """A request's `limits` object over `defaults` (unknown keys refused)."""
    unknown = set(body) - set(defaults.__dict__)
    if unknown:
        raise InvalidRequest(f"unknown session limits: {', '.join(sorted(unknown))}")
    try:
        values = {k: type(getattr(defaults, k))(v) for k, v in body.items()}
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidRequest(f"bad session limits: {exc}") from exc
    bad = sorted(k for k, v in values.items() if not v > 0)
    if bad:
        raise InvalidRequest(f"session limits must be positive: {', '.join(bad)}")
    return replace(defaults, **values)
