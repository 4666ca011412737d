"""Descriptors and standard streams of a process a trusted script sets up.

Every process started for a program holds only the descriptors it is given: above all
never the channel (fd 3) nor a server's control socket. `move_fds` puts the given ones
on 0, 1, 2, ... and `close_from` closes every other; `null_stdio` and
`reopen_std_streams` give a fork the streams a fresh interpreter would have."""

from __future__ import annotations

import fcntl
import os
import resource
import sys

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


def fd_bound() -> int:
    """One past the highest descriptor this process may hold."""
    return max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1 << 16)


def move_fds(fds: Sequence[int]) -> None:
    """`fds[i]` becomes fd i, whatever the numbers (copied above them first, so moving
    one never clobbers another still to move; under a low RLIMIT_NOFILE too); the
    originals are closed."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, len(fds)) for fd in fds]
    for fd in set(fds):
        if fd >= len(fds):
            os.close(fd)
    for target, fd in enumerate(high):
        os.dup2(fd, target)
        os.close(fd)


def close_from(low: int, keep: Iterable[int] = ()) -> None:
    """Close every descriptor from `low` up, but those in `keep`."""
    start = low
    for fd in sorted(k for k in set(keep) if k >= low):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, fd_bound())


def null_stdio() -> None:
    """/dev/null on fd 0-2 (fd 0 may be the job's pipe: gone before a program runs)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def reopen_std_streams() -> None:
    """Fresh `sys.stdin/stdout/stderr` on fd 0-2, as a new interpreter opens them (the
    ones inherited over a fork are other descriptors' objects)."""
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(  # noqa: SIM115
        2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1
    )
