"""Where the browser runs: a sandbox of the sandbox package, with no network.

Request routing cannot contain a page: prefetch, preconnect, `sendBeacon` and WebSockets
go around it. So Chromium runs where no network exists: a long-lived process of the
bwrap backend (`Backend.spawn`), in the namespaces, under the seccomp filter and the
cgroup limits every sandboxed run gets. Sockets reach nothing, not even the host's
loopback (the sandbox's own loopback is down and nothing listens on it).

Playwright wants to start the browser itself, as a child of its driver, with its pipe
transport (`--remote-debugging-pipe`) on fds 3 and 4. It is given a stand-in, the shim
(`write_shim`): a few lines of Python that connect to the browser's manager over a unix
socket in the manager's private folder and hand over their arguments and fds 0-4
(SCM_RIGHTS). The manager spawns the jailed Chromium with those fds as its own
(`spawn_jailed`), and answers the shim with Chromium's exit status when it ends, so to
Playwright the shim is the browser: its pipes, its lifetime. A shim that dies (the
driver killed it) has its browser closed.

Inside: the sandbox's read-only system (/usr and the /bin, /lib links, the dynamic
linker's /etc files), plus fontconfig and the font cache so text draws the same on
every run, a fresh /proc and /dev, and the work dir (also HOME, and /tmp: the profile)
on a tmpfs. No /home, /root, /var, /sys, /run, no environment: a page that reached
`file://` would find fonts and libraries, no secrets. It runs as uid 65534 when the
service is root, holds no capability, and needs `--no-sandbox` (Chromium's own sandbox
would need the user namespaces the sandbox forbids): the sandbox is its isolation.

Where the service cannot run bwrap (its own container, in the compose deployments) the
browser runs on the docker backend instead (`using_backend`, from the server's
`sandbox_backend`, `using_backend`): a container of its own with the same containment (no network,
read-only root, uid 65534, no capability, seccomp, the same cgroup limits), Chromium
and fonts from the sandbox image (the same Debian packages and versions as the host's,
`sandbox/Dockerfile`), and fds 0-4 relayed over the launcher's stream
(`sandbox/spawn_docker.py`), so to Playwright nothing differs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from rewardgate.sandbox import Limits, Mount, get_backend
from rewardgate.sandbox.api import Process

__all__ = [
    "BROWSER_LIMITS",
    "CHROMIUM_CANDIDATES",
    "browser_backend",
    "find_chromium",
    "font_mounts",
    "spawn_jailed",
    "using_backend",
    "write_shim",
]

# Debian's browser binary first: /usr/bin/chromium is a shell script around it.
CHROMIUM_CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "/usr/lib/chromium-browser/chromium-browser",
    "chromium",
    "chromium-browser",
)
# The sandbox image's browser, where the docker backend runs it (sandbox/Dockerfile).
IMAGE_CHROMIUM = "/usr/lib/chromium/chromium"
# The backend the browsers of this thread's judging run on (`using_backend`).
_chosen = threading.local()
# Read-only extras Chromium needs to draw text the same way on every run.
FONT_PATHS = ("/etc/fonts", "/var/cache/fontconfig")
# The whole browser (all its processes and threads): 2 GiB, 2048 tasks. `wall_s` does
# not apply to a spawned process; the CPU limit is per process over the browser's life,
# so it is out of reach (a hung page is the manager's deadline's business).
BROWSER_LIMITS = Limits(
    memory_mb=2048, processes=2048, open_files=8192, cpu_s=10**7, file_size_mb=1024
)
SHIM = '''#!{python} -IS
"""Chromium's stand-in for Playwright: hands its arguments and fds 0-4 to the browser
manager listening on {socket!r}, then lives as long as the jailed browser does."""
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect({socket!r})
socket.send_fds(s, [json.dumps(sys.argv[1:]).encode()], [0, 1, 2, 3, 4])
os.close(3)
os.close(4)
status = s.recv(16).strip()
code = int(status) if status.lstrip(b"-").isdigit() else 1
sys.exit(code if code >= 0 else 128 - code)
'''


@contextlib.contextmanager
def using_backend(name: str | None) -> Iterator[str]:
    """Within it, this thread's pages render in browsers on backend `name` (the server's
    `sandbox_backend`; None: bwrap). Per thread, so nothing leaks between verifiers."""
    before = browser_backend()
    _chosen.name = name or "bwrap"
    try:
        yield _chosen.name
    finally:
        _chosen.name = before


def browser_backend() -> str:
    """The backend this thread's browsers run on now (bwrap unless `using_backend`)."""
    return str(getattr(_chosen, "name", "bwrap"))


def find_chromium(configured: str | None = None, backend: str | None = None) -> str | None:
    """The Chromium binary to run: the configured one, else the first one installed
    (on docker: the configured one or the image's, which the host cannot check)."""
    if (backend or browser_backend()) == "docker":
        return configured or IMAGE_CHROMIUM
    for candidate in (configured,) if configured else CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return os.path.realpath(found)
    return None


def font_mounts() -> tuple[Mount, ...]:
    """The font configuration and cache of this host, read-only, where they exist."""
    return tuple(Mount(Path(p), p) for p in FONT_PATHS if os.path.exists(p))


def spawn_jailed(
    argv: Sequence[str],
    pass_fds: Sequence[int] = (),
    stdio: tuple[int | None, int | None, int | None] = (None, None, None),
    limits: Limits = BROWSER_LIMITS,
    backend: str | None = None,
) -> Process:
    """`argv` (Chromium, or in a test a shell in its place) in the browser's sandbox on
    `backend` (None: `use_backend`'s); docker's has the image's fonts, not the host's."""
    name = backend or browser_backend()
    mounts = font_mounts() if name == "bwrap" else ()
    return get_backend(name).spawn(
        argv, limits=limits, mounts=mounts, pass_fds=pass_fds, stdio=stdio
    )


def write_shim(folder: Path, socket_path: Path) -> Path:
    """The executable Playwright starts as "the browser" (see the module docstring)."""
    path = folder / "chromium-shim"
    path.write_text(SHIM.format(python=sys.executable, socket=str(socket_path)))
    path.chmod(0o700)
    return path
