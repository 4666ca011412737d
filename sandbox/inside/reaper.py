"""Killing what a program left running, before a trusted script goes on or reports.

Two views of "what the program left", by where the script runs:

- `kill_the_rest`: the processes of this sandbox the script did not start for itself.
  In a sandbox's own pid namespace (the script is pid 1 when warm, 2 when cold, under
  the sandbox's shell) that is every process but pid 1 and this one, and `kill(-1)`
  reaches them all at once. Elsewhere (a docker container, whose launcher and warm
  zygotes run as the same uid) it is this process's descendants, which are all the
  program ever started once the script is their subreaper (`privileges.child_subreaper`):
  an orphan (a daemon that forked away) is reparented to it and never leaves its tree.
  `kill(-1)` is never used there: it would reach every process this user may signal.
- `kill_uid`: every process of this uid but `spare`: docker's launcher, which owns the
  container's sandbox uid, between runs.

Both are bounded: a process the kernel has not finished killing by then (stuck in
uninterruptible I/O) can no longer run a line of the program, and the caller says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def processes(uid: int | None = None) -> dict[int, tuple[int, bool]]:
    """pid -> (parent pid, alive) of every process this one sees (of `uid` if given);
    zombies are there, not alive."""
    table: dict[int, tuple[int, bool]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            if uid is not None and os.stat("/proc/" + entry).st_uid != uid:
                continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[-1].split()
            table[int(entry)] = (int(fields[1]), fields[0] not in (b"Z", b"X"))
    return table


def descendants(root: int, table: dict[int, tuple[int, bool]]) -> list[int]:
    """The live processes below `root` in `table`."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            todo.append(child)
            if table[child][1]:
                found.append(child)
    return found


def victims() -> list[int]:
    """The live processes `kill_the_rest` must end (see the module docstring)."""
    me = os.getpid()
    table = processes()
    if me <= 2:
        return sorted(pid for pid, (_, alive) in table.items() if alive and pid not in (1, me))
    return descendants(me, table)


def reap() -> None:
    """Collect this process's exited children without waiting for live ones."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def kill_until_gone(
    find: Callable[[], Iterable[int]],
    timeout_s: float,
    whole_namespace: bool = False,
    reap_children: bool = True,
) -> bool:
    """SIGKILL what `find` lists (with `whole_namespace`, by `kill(-1)`) and reap this
    process's children (unless a caller still waits for one itself), until `find` lists
    nothing or `timeout_s` passes: whether none is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = list(find())
        if not alive:
            return True
        if time.monotonic() > deadline:
            return False
        for pid in [-1] if whole_namespace else alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if reap_children:
            reap()
        time.sleep(0.001)


def kill_the_rest(timeout_s: float = 1.0) -> bool:
    """SIGKILL every process the program left (`victims`) and reap ours; whether none
    is left."""
    return kill_until_gone(victims, timeout_s, whole_namespace=os.getpid() <= 2)


def others_of_uid(spare: Iterable[int] = ()) -> list[int]:
    """The live processes of this uid but this one and `spare`."""
    keep = {os.getpid(), *spare}
    return [p for p, (_, alive) in processes(os.getuid()).items() if alive and p not in keep]


def kill_uid(spare: Iterable[int] = (), timeout_s: float = 1.0) -> bool:
    """SIGKILL every live process of this uid but this one and `spare` (its children
    are left for the caller to wait for)."""
    spared = list(spare)
    return kill_until_gone(lambda: others_of_uid(spared), timeout_s, reap_children=False)
