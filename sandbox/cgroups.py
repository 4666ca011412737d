"""Per-run cgroup v1 groups: the process and memory limits, CPU accounting and kill-all.

Each run gets its own group in every controller that is mounted and writable (`pids`,
`memory`, `cpuacct`), named uniquely (pid + counter + random) so worker processes never
collide. The groups live under `<this process's group>/rewardgate`, so a service that
is itself confined keeps its sandboxes inside its own limits.

RLIMIT_NPROC cannot stop a fork bomb here: every run shares the same unprivileged uid
on the host, and the limit counts processes per uid host-wide. `pids.max` counts per
group, so it is the fork-bomb guard; setting it to 0 before killing also stops a bomb
from forking faster than it is killed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CONTROLLERS", "CgroupManager", "RunGroup"]

CONTROLLERS = ("pids", "memory", "cpuacct")
_counter = itertools.count()


def _own_path(controller: str) -> str:
    """This process's group in `controller`'s v1 hierarchy ('/' when unknown)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path or "/"
    return "/"


@dataclass
class RunGroup:
    """The groups of one run, one directory per usable controller."""

    dirs: dict[str, Path]
    _removed: bool = field(default=False, repr=False)

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs.values()]

    def set_limits(self, *, memory_bytes: int | None, pids: int | None) -> None:
        if pids is not None and "pids" in self.dirs:
            (self.dirs["pids"] / "pids.max").write_text(str(pids))
        if memory_bytes is not None and "memory" in self.dirs:
            mem = self.dirs["memory"]
            (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
            # No swapping around the limit: memsw exists only with swap accounting.
            swap = mem / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory_bytes))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                found.update(int(p) for p in procs.read_text().split())
            except (OSError, ValueError):
                continue
        return found

    def kill_all(self, timeout_s: float = 5.0, spare: int | None = None) -> bool:
        """SIGKILL every process in the groups until none is left; False if some stay.

        Forks are blocked first (pids.max = 0), so the set only shrinks. `spare` (the
        caller's own child) is left alone, to exit and be reaped by its caller.
        """
        if "pids" in self.dirs:
            with contextlib.suppress(OSError):
                (self.dirs["pids"] / "pids.max").write_text("0")
        deadline = time.monotonic() + timeout_s
        delay = 0.0005
        while True:
            pids = self.pids() - {spare}
            if not pids:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _read_int(self, controller: str, name: str) -> int | None:
        d = self.dirs.get(controller)
        if d is None:
            return None
        try:
            return int((d / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cpu_ns(self) -> int | None:
        return self._read_int("cpuacct", "cpuacct.usage")

    def max_memory_bytes(self) -> int | None:
        return self._read_int("memory", "memory.max_usage_in_bytes")

    def oom_kills(self) -> int | None:
        d = self.dirs.get("memory")
        if d is None:
            return None
        try:
            for line in (d / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            return None
        return None

    def memory_failures(self) -> int | None:
        return self._read_int("memory", "memory.failcnt")

    def remove(self) -> None:
        """Kill what is left and remove the groups (idempotent)."""
        if self._removed:
            return
        self.kill_all()
        for d in self.dirs.values():
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last task is still exiting
                    time.sleep(0.002)
        self._removed = True


def _remove_stale(parent: Path) -> None:
    """Remove empty groups left by processes that died mid-run (killed workers).

    Only rmdir, never kill: a group that still has tasks is not ours to judge (its pid
    may be from another pid namespace), and rmdir refuses a non-empty group anyway.
    """
    for d in parent.glob("run-*"):
        try:
            os.kill(int(d.name.split("-")[1]), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                d.rmdir()
        except (ValueError, IndexError, PermissionError):
            continue


class CgroupManager:
    """Creates per-run groups under each controller's `rewardgate` parent group."""

    def __init__(self, root: Path = Path("/sys/fs/cgroup"), owner_uid: int | None = None) -> None:
        self.root = root
        self.owner_uid = owner_uid
        self._parents: dict[str, Path] | None = None
        self.problems: dict[str, str] = {}

    def parents(self) -> dict[str, Path]:
        """The usable parent group per controller; problems land in `self.problems`."""
        if self._parents is not None:
            return self._parents
        parents: dict[str, Path] = {}
        for controller in CONTROLLERS:
            mount = self.root / controller
            if not (mount / "cgroup.procs").exists():
                self.problems[controller] = (
                    f"cgroup v1 controller {controller!r} not mounted at {mount}; "
                    "mount it (or run on a cgroup v1 host) to enforce this limit"
                )
                continue
            parent = mount / _own_path(controller).lstrip("/") / "rewardgate"
            try:
                parent.mkdir(exist_ok=True)
                probe = parent / f"probe-{os.getpid()}-{secrets.token_hex(4)}"
                probe.mkdir()
                probe.rmdir()
            except OSError as exc:
                self.problems[controller] = (
                    f"cannot create groups under {parent}: {exc.strerror}; "
                    "run as root with the cgroup hierarchy mounted read-write"
                )
                continue
            parents[controller] = parent
            _remove_stale(parent)
        self._parents = parents
        return parents

    def create(self) -> RunGroup:
        name = f"run-{os.getpid()}-{next(_counter)}-{secrets.token_hex(4)}"
        dirs: dict[str, Path] = {}
        group = RunGroup(dirs)
        try:
            for controller, parent in self.parents().items():
                d = parent / name
                d.mkdir()
                dirs[controller] = d
                if self.owner_uid is not None:
                    # The sandbox's launcher joins the group itself, already unprivileged.
                    os.chown(d / "cgroup.procs", self.owner_uid, -1)
        except OSError:
            group.remove()
            raise
        return group
