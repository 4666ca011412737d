"""Resource limits a trusted script puts on itself or on the program it starts.

CPU time is a soft limit (SIGXCPU) with the hard one a second later (SIGKILL); core
dumps are always off (a dump of a trusted process would leak what it holds)."""

from __future__ import annotations

import os
import resource


def set_limits(
    *,
    cpu_s: int | None = None,
    open_files: int | None = None,
    file_bytes: int | None = None,
    address_space_bytes: int | None = None,
    processes: int | None = None,
) -> None:
    """Set each limit given (None leaves it as it is); open files never above the hard
    limit this process already has."""
    if cpu_s is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    if open_files is not None:
        nofile = min(open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    if file_bytes is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if address_space_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (address_space_bytes, address_space_bytes))
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def address_space_in_use() -> int:
    """This process's virtual size in bytes: what a fork of it starts with (preloaded
    libraries count against RLIMIT_AS, so a child's cap is this plus its budget)."""
    with open("/proc/self/statm", encoding="ascii") as f:
        pages = int(f.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")
