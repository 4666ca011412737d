"""Where the browser runs: a bubblewrap jail with no network and nothing of the host's.

Request routing cannot contain a page: prefetch, preconnect, `sendBeacon` and WebSockets
go around it. So Chromium runs where no network exists: Playwright launches a small
launcher script as the "browser executable"; the script joins the browser's cgroups
and execs bubblewrap, which starts Chromium in fresh user, pid, network, ipc, uts and
cgroup namespaces. Playwright's pipe transport (`--remote-debugging-pipe`, inherited
fds 3 and 4) crosses into the jail untouched; sockets reach nothing, not even the
host's loopback (the jail's own loopback is down and nothing listens on it).

Inside: `/usr` read-only (and the `/bin`, `/lib` links), from `/etc` only the dynamic
linker's cache and fontconfig, the font cache, a fresh `/proc` and `/dev`, and an empty
tmpfs `/tmp` as HOME and profile. No `/home`, `/root`, `/var`, `/sys`, `/run`, no
environment: a page that reached `file://` would find fonts and libraries, no secrets.
Run by root, the jail drops to uid 65534 (setpriv) before bwrap, so Chromium holds no
privilege on the host either, and needs `--no-sandbox` (its own sandbox would need the
user namespaces the jail forbids): the jail is its isolation.

`--die-with-parent` ties the jail to the Playwright driver, which dies with the worker;
the cgroups (`rewardgate.sandbox.cgroups`, when the host has them) bound the browser's
memory and tasks and let a hung browser be killed whole.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path

from rewardgate.sandbox.bwrap import ETC_FILES, SANDBOX_UID, SYSTEM_DIRS, SYSTEM_LINKS

__all__ = ["CHROMIUM_CANDIDATES", "find_chromium", "jail_argv", "write_launcher"]

# Debian's browser binary first: /usr/bin/chromium is a shell script around it.
CHROMIUM_CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "/usr/lib/chromium-browser/chromium-browser",
    "chromium",
    "chromium-browser",
)
# Read-only extras Chromium needs to draw text the same way on every run.
FONT_PATHS = ("/etc/fonts", "/var/cache/fontconfig")
JAIL_HOME = "/tmp"


def find_chromium(configured: str | None = None) -> str | None:
    """The Chromium binary to run: the configured one, else the first one installed."""
    for candidate in (configured,) if configured else CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return os.path.realpath(found)
    return None


def jail_argv(chromium: str, bwrap: str) -> list[str]:
    """The command that starts `chromium` in the jail; Playwright's arguments follow it."""
    argv: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv") or "setpriv"
        uid = str(SANDBOX_UID)
        argv += [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    argv += [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]
    for name in SYSTEM_DIRS:
        if os.path.isdir(f"/{name}"):
            argv += ["--ro-bind", f"/{name}", f"/{name}"]
    for name in SYSTEM_LINKS:
        host = f"/{name}"
        if os.path.islink(host):
            argv += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            argv += ["--ro-bind", host, host]
    for path in (*(f"/etc/{name}" for name in ETC_FILES), *FONT_PATHS):
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", JAIL_HOME, "--clearenv"]
    for key, value in (("PATH", "/usr/bin:/bin"), ("HOME", JAIL_HOME), ("LANG", "C.UTF-8")):
        argv += ["--setenv", key, value]
    argv += ["--chdir", JAIL_HOME, "--", chromium]
    return argv


def write_launcher(
    folder: Path, argv: Sequence[str], pid_file: Path, procs_files: Sequence[Path]
) -> Path:
    """An executable script: note its pid, join the cgroups, exec the jail with `"$@"`."""
    lines = ["#!/bin/sh", f"echo $$ > {shlex.quote(str(pid_file))} || exit 125"]
    lines += [f"echo $$ > {shlex.quote(str(p))} || exit 125" for p in procs_files]
    lines.append(f'exec {shlex.join(argv)} "$@"')
    path = folder / "chromium-jail.sh"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o700)
    return path
