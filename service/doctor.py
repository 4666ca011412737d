"""`rewardgate doctor`: which backends and tools work on this machine, and the fix for each.

Each check is cheap and side-effect free, so doctor can run anywhere, any time.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from rewardgate.verifiers.errors import ConfigurationError
from rewardgate.verifiers.registry import Registry

__all__ = ["Check", "run_checks"]


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
        for tool, state in registry.get(verifier_name).health().items():
            ok = state == "ok"
            checks.append(
                Check(f"{verifier_name}.{tool}", verifier_name, ok, state, "" if ok else state)
            )
    return checks
