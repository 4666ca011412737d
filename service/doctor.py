"""Which backends and tools work on this machine: `rewardgate doctor` and `/readyz`.

Each check is side-effect free, so doctor can run anywhere, any time. The gateway asks
the same questions through `HealthMonitor`: off the event loop, with a timeout, and
again once its answers are older than `refresh_s`, so a backend that breaks after start
is reported and one that recovers comes back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib.util
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rewardgate.verifiers.base import Verifier
from rewardgate.verifiers.errors import ConfigurationError
from rewardgate.verifiers.registry import Registry

__all__ = ["Check", "HealthMonitor", "run_checks", "verifier_health"]


@dataclass(frozen=True)
class Check:
    name: str
    used_by: str
    ok: bool
    detail: str
    fix: str


def _module(name: str) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        found = importlib.util.find_spec(name) is not None
        return found, "importable" if found else "not installed"

    return probe


def _command(*argv: str) -> Callable[[], tuple[bool, str]]:
    """Probes the tool a sandbox would run: found on the sandbox's PATH (under /usr),
    not a user's own install elsewhere on this process's PATH (rustup, pyenv)."""

    def probe() -> tuple[bool, str]:
        from rewardgate.sandbox.bwrap import PATH as SANDBOX_PATH

        path = shutil.which(argv[0], path=SANDBOX_PATH)
        if path is None:
            return False, f"not on the sandbox's PATH ({SANDBOX_PATH})"
        try:
            out = subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"{path}: {exc}"
        first = (out.stdout or out.stderr).strip().splitlines()
        return out.returncode == 0, first[0][:80] if first else path

    return probe


def _docker_socket() -> tuple[bool, str]:
    path = "/var/run/docker.sock"
    if not os.path.exists(path):
        return False, f"{path} missing (dockerd not running)"
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(path)
    except OSError as exc:
        return False, f"{path}: {exc}"
    return True, f"{path} accepts connections"


def _cgroup(controller: str) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        path = f"/sys/fs/cgroup/{controller}"
        if not os.path.isdir(path):
            return False, f"{path} missing (cgroup v1 {controller} controller not mounted)"
        writable = os.access(path, os.W_OK)
        return writable, f"{path} {'writable' if writable else 'read-only'}"

    return probe


APT = "apt-get install -y"
# (name, used by, probe, fix)
SYSTEM_CHECKS: list[tuple[str, str, Callable[[], tuple[bool, str]], str]] = [
    ("bwrap", "code sandbox", _command("bwrap", "--version"), f"{APT} bubblewrap"),
    ("cgroup pids", "code sandbox limits", _cgroup("pids"), "run as root on a cgroup v1 host"),
    ("cgroup memory", "code sandbox limits", _cgroup("memory"), "run as root on a cgroup v1 host"),
    ("dockerd", "docker sandbox", _docker_socket, f"{APT} docker.io && dockerd &"),
    ("gcc", "code (C)", _command("gcc", "--version"), f"{APT} gcc"),
    ("g++", "code (C++)", _command("g++", "--version"), f"{APT} g++"),
    ("java", "code (Java)", _command("java", "-version"), f"{APT} default-jdk-headless"),
    ("node", "code (JavaScript)", _command("node", "--version"), f"{APT} nodejs"),
    ("rustc", "code (Rust)", _command("rustc", "--version"), f"{APT} rustc"),
    ("go", "code (Go)", _command("go", "version"), f"{APT} golang"),
    ("bash", "code (bash)", _command("bash", "--version"), f"{APT} bash"),
    ("php", "code (PHP)", _command("php", "--version"), f"{APT} php-cli"),
    ("lua5.4", "code (Lua)", _command("lua5.4", "-v"), f"{APT} lua5.4"),
    (
        "perl",
        "code (Perl)",
        _command("perl", "-MTest::Deep", "-v"),
        f"{APT} perl libtest-deep-perl",
    ),
    ("ruby", "code (Ruby)", _command("ruby", "-rtest/unit", "-v"), f"{APT} ruby ruby-test-unit"),
    ("Rscript", "code (R)", _command("Rscript", "--version"), f"{APT} r-base-core"),
    ("tsc", "code (TypeScript)", _command("tsc", "--version"), f"{APT} node-typescript"),
    ("racket", "code (Racket)", _command("racket", "--version"), f"{APT} racket"),
    ("mono", "code (C#)", _command("mcs", "--version"), f"{APT} mono-mcs mono-runtime"),
    ("gdc", "code (D)", _command("gdc", "--version"), f"{APT} gdc"),
    ("scalac", "code (Scala)", _command("scalac", "-version"), f"{APT} scala"),
    ("kotlinc", "code (Kotlin)", _command("kotlinc", "-version"), f"{APT} kotlin"),
    ("iverilog", "code (Verilog)", _command("iverilog", "-V"), f"{APT} iverilog"),
    ("chromium", "web, chart", _command("chromium", "--version"), f"{APT} chromium"),
    ("math_verify", "math", _module("math_verify"), 'pip install "rewardgate[server]"'),
    ("pyarrow", "score (Parquet)", _module("pyarrow"), 'pip install "rewardgate[server]"'),
]


def run_checks(registry: Registry | None = None) -> list[Check]:
    checks = []
    for name, used_by, probe, fix in SYSTEM_CHECKS:
        ok, detail = probe()
        checks.append(Check(name, used_by, ok, detail, "" if ok else fix))
    if registry is None:
        try:
            registry = Registry.from_entry_points()
        except ConfigurationError as exc:
            checks.append(Check("verifier plugins", "all", False, exc.message, "fix the plugin"))
            return checks
    for verifier_name in registry.names():
        for tool, state in verifier_health(registry.get(verifier_name)).items():
            ok = state == "ok"
            checks.append(
                Check(f"{verifier_name}.{tool}", verifier_name, ok, state, "" if ok else state)
            )
    return checks


def verifier_health(verifier: Verifier) -> dict[str, str]:
    """`verifier.health()`, with a probe that raises reported as a broken tool.

    A health check is written against tools that may be half-installed; its own crash
    says the verifier cannot work, not that the whole readiness report should fail.
    """
    try:
        return {tool: str(state) for tool, state in verifier.health().items()}
    except Exception as exc:
        return {"health": f"health probe failed: {type(exc).__name__}: {exc}"}


def _in_daemon_thread(probe: Callable[[], dict[str, str]]) -> concurrent.futures.Future[Any]:
    """Run `probe` in a thread of its own that never keeps the process from exiting.

    Not an executor: a probe that hangs for ever (a docker daemon that accepts and
    never answers) must neither hold a pooled thread other work waits for nor block
    the interpreter's exit, which joins executor threads.
    """
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(probe())
        except BaseException as exc:  # verifier_health catches the rest
            future.set_exception(exc)

    threading.Thread(target=run, name="rewardgate-health", daemon=True).start()
    return future


_POLL_S = 0.01


@dataclass
class _Probe:
    """One verifier's last answer and, while it runs, its probe in flight."""

    result: dict[str, str] | None = None
    checked_at: float | None = None
    running: concurrent.futures.Future[Any] | None = None
    started_at: float = 0.0


class HealthMonitor:
    """Every verifier's `health()`, probed off the event loop, bounded and refreshed.

    `checks()` is what `/readyz` shows. It starts a probe for each verifier whose last
    answer is older than `refresh_s` (none runs twice at once), waits at most
    `timeout_s` for those in flight, and reports a probe still running past its
    timeout as `health: probe did not answer in N s` (a hang is a broken backend),
    keeping it rather than starting another beside it. The orchestrator's readiness
    polls are what drive the refresh: no thread runs while nobody asks.
    """

    def __init__(self, registry: Registry, *, timeout_s: float = 5.0, refresh_s: float = 10.0):
        self.registry = registry
        self.timeout_s = timeout_s
        self.refresh_s = refresh_s
        self._probes: dict[str, _Probe] = {}

    async def checks(self) -> dict[str, str]:
        """`{"<verifier>.<tool>": "ok" or what is wrong}` for every registered verifier."""
        now = time.monotonic()
        names = self.registry.names()
        for name in names:
            probe = self._probes.setdefault(name, _Probe())
            stale = probe.checked_at is None or now - probe.checked_at >= self.refresh_s
            if probe.running is None and stale:
                # The instance is built here, on the loop: the registry is not thread-safe.
                try:
                    verifier = self.registry.get(name)
                except Exception as exc:
                    probe.result, probe.checked_at = {"health": f"cannot start: {exc}"}, now
                    continue
                probe.running = _in_daemon_thread(functools.partial(verifier_health, verifier))
                probe.started_at = now
        in_flight = [p.running for p in self._probes.values() if p.running is not None]
        if in_flight:
            # Polled, not awaited through the loop: a hung probe's thread must hold no
            # callback into a loop that may be gone (a test client's) when it returns.
            deadline = max(p.started_at for p in self._probes.values() if p.running)
            deadline += self.timeout_s
            while not all(f.done() for f in in_flight) and time.monotonic() < deadline:
                await asyncio.sleep(_POLL_S)
        report: dict[str, str] = {}
        for name in names:
            probe = self._probes[name]
            running = probe.running
            if running is not None and running.done():
                probe.result = running.result()
                probe.checked_at, probe.running = time.monotonic(), None
            if probe.running is not None:
                report[f"{name}.health"] = (
                    f"health probe did not answer in {self.timeout_s:g} s "
                    f"(running for {time.monotonic() - probe.started_at:.0f} s)"
                )
            elif probe.result is not None:
                report.update({f"{name}.{tool}": state for tool, state in probe.result.items()})
        return report
