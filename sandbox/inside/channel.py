"""The channel: fd 3 of a sandbox's first process, where a trusted script reports.

The host reads it back as `ExecResult.channel`; the program under test never holds it
(each script closes it in every process it starts for the program: `process`)."""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

CHANNEL = 3


def write_all(fd: int, data: bytes) -> None:
    """All of `data` on `fd` (a pipe takes a large write in pieces)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def emit(obj: dict[str, Any]) -> None:
    """One JSON line on the channel."""
    write_all(CHANNEL, (json.dumps(obj) + "\n").encode())


def emit_after_cut(obj: dict[str, Any]) -> None:
    """A line after a child that may have been killed mid-line: end its line first."""
    os.write(CHANNEL, b"\n")
    emit(obj)


def keep_private() -> None:
    """The channel stays in this process: no program it execs inherits it."""
    os.set_inheritable(CHANNEL, False)
