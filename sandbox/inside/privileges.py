"""What a trusted script gives up before a program runs: prctl flags, capabilities and
the seccomp filter the host built (`rewardgate.sandbox.seccomp`, sent as bytes).

`not_dumpable` keeps a same-uid program out of /proc/<this>/ (memory, fds) and ptrace;
`install_filter` needs no_new_privs (or CAP_SYS_ADMIN) first and binds this process and
everything it starts, so it comes after what the script must still do (mounts)."""

from __future__ import annotations

import ctypes
import os

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_CAPBSET_DROP = 1, 4, 22, 24
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 36, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL, SECCOMP_MODE_FILTER = 4, 2
_LIBC: list[ctypes.CDLL] = []
_LAST_CAP: list[int] = []


def libc() -> ctypes.CDLL:
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def check(result: int, what: str) -> None:
    """Raise OSError with errno when a libc call returned non-zero."""
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def prctl(option: int, arg: int = 0, what: str = "prctl") -> None:
    check(libc().prctl(option, arg, 0, 0, 0), what)


def not_dumpable() -> None:
    prctl(PR_SET_DUMPABLE, 0, "dumpable")


def die_with_parent() -> None:
    prctl(PR_SET_PDEATHSIG, 9, "pdeathsig")


def child_subreaper() -> None:
    """Orphans of this process's descendants are reparented to it, not to pid 1."""
    prctl(PR_SET_CHILD_SUBREAPER, 1, "subreaper")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    check(
        libc().mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def last_cap() -> int:
    """The kernel's highest capability number (read once: a server reads it at start,
    before its runs remount /proc)."""
    if not _LAST_CAP:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            _LAST_CAP.append(int(f.read()))
    return _LAST_CAP[0]


def drop_capabilities() -> None:
    """Leave no capability in any set; no_new_privs so no exec can bring one back."""
    prctl(PR_SET_NO_NEW_PRIVS, 1, "no_new_privs")
    for cap in range(last_cap() + 1):
        prctl(PR_CAPBSET_DROP, cap, "drop bounding cap")
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, "clear ambient caps")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2 words: all 0
    check(libc().capset(header, data), "capset")


class SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install_filter(program: bytes) -> None:
    """The seccomp filter `program` (classic BPF, 8-byte instructions) on this process
    and all it starts from now on."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.addressof(buf))
    check(libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")
