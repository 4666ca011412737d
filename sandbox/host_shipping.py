"""Host side of shipping trusted code into sandboxes: the commands that start it.

Every trusted script that runs in a sandbox (bwrap's zygote, docker's launcher and
zygote, each `PythonEntry` started cold) is started by `python3 -I -c SOURCE`, SOURCE
being `inside/boot.py` and one call that holds the text of every module of
`rewardgate.sandbox.inside` (see boot.py). So the library ships with every entry
whatever the backend (a bind mount, a copied file, an image layer: none is needed),
and an image or a sandbox never runs a stale copy of it. About 60 kB of sources per
command: under Linux's 128 kB bound on one argument.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["INSIDE_PACKAGE", "entry_command", "inside_sources", "server_command"]

INSIDE = Path(__file__).with_name("inside")
INSIDE_PACKAGE = "rewardgate.sandbox.inside"
_STUBS = ("rewardgate", "rewardgate.sandbox")  # empty parents, so the name resolves


@functools.cache
def inside_sources() -> dict[str, str]:
    """Module name -> source of every module of the inside package (not boot.py, which
    is the command's own text)."""
    sources = dict.fromkeys(_STUBS, "")
    for path in sorted(INSIDE.glob("*.py")):
        if path.name != "boot.py":
            name = INSIDE_PACKAGE if path.stem == "__init__" else f"{INSIDE_PACKAGE}.{path.stem}"
            sources[name] = path.read_text(encoding="utf-8")
    return sources


@functools.cache
def boot_source(target: str) -> str:
    """`python3 -c` source that runs `target` ("module:NAME" or "entry") in a sandbox."""
    boot = (INSIDE / "boot.py").read_text(encoding="utf-8")
    return f"{boot}\nstart({inside_sources()!r}, {target!r})\n"


def server_command(module: str, *flags: str) -> list[str]:
    """argv starting `rewardgate.sandbox.inside.<module>`'s `main()` (extra interpreter
    `flags`, e.g. -S); a server's own arguments follow."""
    return ["python3", "-I", *flags, "-c", boot_source(f"module:{INSIDE_PACKAGE}.{module}")]


def entry_command(script: str) -> list[str]:
    """argv of a cold start of the entry `script` in the work dir."""
    return ["python3", "-I", "-c", boot_source("entry"), script]
