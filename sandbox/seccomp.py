"""The seccomp filter of bwrap runs: kernel interfaces no test program needs, refused.

Namespaces, no capability and no_new_privs already keep a run from using most of these;
the filter takes the rest of the kernel's attack surface behind them away, as Docker's
default profile does for the docker backend: the keyring, eBPF, perf events,
userfaultfd and io_uring (the usual ways into kernel bugs), module and kexec loading,
mounting and new namespaces, clock, swap, reboot, quota and file-handle calls. A
denied call fails with EPERM (io_uring with ENOSYS, as if the kernel lacked it, so
runtimes that probe for it fall back); nothing is killed. Calls of another ABI (i386's
`int 0x80` and x32 on x86-64) are refused whole, since their numbers differ.

A deny list, not an allow list: the toolchains (JVM, Go, V8, rustc) and whatever a
program legitimately calls keep working without a per-runtime table.

`program()` is the classic-BPF program, as bwrap's `--seccomp FD` reads it and
`prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)` installs it (the warm path's runs); None on
an architecture without a table here (runs then go without, and `health()` says so).
"""

from __future__ import annotations

import base64
import errno
import functools
import platform
import struct

__all__ = ["DENIED", "NOT_IMPLEMENTED", "program", "program_b64"]

DENIED: tuple[str, ...] = (
    "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "mount", "umount2", "pivot_root", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "swapon", "swapoff", "reboot", "sethostname", "setdomainname", "acct",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "quotactl", "quotactl_fd", "lookup_dcookie", "open_by_handle_at", "name_to_handle_at",
    "syslog", "vhangup", "process_vm_writev", "kcmp", "fanotify_init",
)  # fmt: skip
NOT_IMPLEMENTED = frozenset({"io_uring_setup", "io_uring_enter", "io_uring_register"})

# System call numbers (asm/unistd_64.h; asm-generic/unistd.h for arm64), and the
# AUDIT_ARCH_* value seccomp_data.arch holds for each.
_X86_64 = {
    "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "mount": 165, "umount2": 166, "pivot_root": 155, "unshare": 272,
    "setns": 308, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442, "swapon": 167, "swapoff": 168,
    "reboot": 169, "sethostname": 170, "setdomainname": 171, "acct": 163, "settimeofday": 164,
    "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159, "quotactl": 179,
    "quotactl_fd": 443, "lookup_dcookie": 212, "open_by_handle_at": 304,
    "name_to_handle_at": 303, "syslog": 103, "vhangup": 153, "process_vm_writev": 311,
    "kcmp": 312, "fanotify_init": 300,
}  # fmt: skip
_AARCH64 = {
    "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241,
    "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
    "delete_module": 106, "mount": 40, "umount2": 39, "pivot_root": 41, "unshare": 97,
    "setns": 268, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442, "swapon": 224, "swapoff": 225,
    "reboot": 142, "sethostname": 161, "setdomainname": 162, "acct": 89, "settimeofday": 170,
    "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171, "quotactl": 60,
    "quotactl_fd": 443, "lookup_dcookie": 18, "open_by_handle_at": 265,
    "name_to_handle_at": 264, "syslog": 116, "vhangup": 58, "process_vm_writev": 271,
    "kcmp": 272, "fanotify_init": 262,
}  # fmt: skip
TABLES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, _X86_64),
    "aarch64": (0xC00000B7, _AARCH64),
}
X32_BIT = 0x40000000

# Classic BPF: opcodes, and seccomp's return values.
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_NR, _ARCH = 0, 4  # offsets in struct seccomp_data


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


@functools.cache
def program(machine: str | None = None) -> bytes | None:
    """The filter for `machine` (this one's by default), 8-byte instructions."""
    arch = machine or platform.machine()
    if arch not in TABLES:
        return None
    audit_arch, numbers = TABLES[arch]
    refuse = _insn(_RET_K, _ERRNO | errno.EPERM)
    out = [
        _insn(_LD_W_ABS, _ARCH),
        _insn(_JEQ_K, audit_arch, jt=1),
        refuse,  # another ABI
        _insn(_LD_W_ABS, _NR),
    ]
    if arch == "x86_64":
        out += [_insn(_JGE_K, X32_BIT, jf=1), refuse]
    for name in DENIED:
        code = errno.ENOSYS if name in NOT_IMPLEMENTED else errno.EPERM
        out += [_insn(_JEQ_K, numbers[name], jf=1), _insn(_RET_K, _ERRNO | code)]
    out.append(_insn(_RET_K, _ALLOW))
    return b"".join(out)


@functools.cache
def program_b64() -> str:
    """`program()` as the JSON headers of warm and docker runs carry it ("" for none):
    installed in the sandbox by its own trusted set-up, after what it must still do."""
    return base64.b64encode(program() or b"").decode()
