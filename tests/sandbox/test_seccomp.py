"""The seccomp filter: the numbers are the kernel's, the calls it refuses fail in cold and
warm runs alike, and everything a program normally does still works."""

from __future__ import annotations

import platform
import re
import struct
import textwrap
from pathlib import Path

import pytest

from rewardgate.sandbox import Backend, Limits, PythonEntry
from rewardgate.sandbox.seccomp import DENIED, NOT_IMPLEMENTED, TABLES, program

HEADERS = {
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    "aarch64": Path("/usr/include/asm-generic/unistd.h"),
}


@pytest.mark.parametrize("machine", list(TABLES))
def test_numbers_are_the_kernel_headers(machine: str) -> None:
    """Checked against the headers linux-libc-dev installs (a dependency of gcc)."""
    header = HEADERS[machine]
    assert header.exists(), f"{header}: apt-get install linux-libc-dev"
    defined = {
        name: int(nr)
        for name, nr in re.findall(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", header.read_text())
    }
    _, numbers = TABLES[machine]
    assert set(numbers) == set(DENIED)
    for name, nr in numbers.items():
        assert defined.get(name, nr) == nr, name
    assert sum(name in defined for name in numbers) >= len(numbers) - 2


def test_the_program_ends_in_allow_and_refuses_each_call() -> None:
    code = program("x86_64")
    assert code is not None and len(code) % 8 == 0
    insns = [struct.unpack("=HBBI", code[i : i + 8]) for i in range(0, len(code), 8)]
    assert insns[-1] == (0x06, 0, 0, 0x7FFF0000)
    compared = {k for op, _, _, k in insns if op == 0x15}
    assert set(TABLES["x86_64"][1].values()) <= compared
    assert program("sparc") is None


# Each refused call made directly (libc may lack wrappers); the errno it fails with.
PROBE = textwrap.dedent(
    """
    import ctypes, errno, json
    libc = ctypes.CDLL(None, use_errno=True)
    NR = json.loads(open("nr.json").read())
    out = {}
    for name, args in (
        ("keyctl", (0, -3, 0)),
        ("add_key", (b"user", b"k", b"v", 1, -3)),
        ("bpf", (0, 0, 0)),
        ("perf_event_open", (0, 0, -1, -1, 0)),
        ("userfaultfd", (0,)),
        ("io_uring_setup", (1, 0)),
        ("unshare", (0,)),
        ("setns", (0, 0)),
        ("mount", (b"none", b"/tmp", b"tmpfs", 0, 0)),
        ("open_by_handle_at", (0, 0, 0)),
        ("swapoff", (b"/x",)),
    ):
        ctypes.set_errno(0)
        r = libc.syscall(NR[name], *args)
        out[name] = "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    import os, threading, subprocess
    t = threading.Thread(target=lambda: None); t.start(); t.join()
    out["fork"] = subprocess.run(["true"]).returncode
    print(json.dumps(out, sort_keys=True))
    """
)
EXPECTED = {name: "ENOSYS" if name in NOT_IMPLEMENTED else "EPERM" for name in DENIED}


def _expected() -> dict[str, object]:
    probe_names = re.findall(r'\("(\w+)", \(', PROBE)
    return {**{n: EXPECTED[n] for n in probe_names}, "fork": 0}


@pytest.mark.parametrize("path", ["cold", "warm"])
@pytest.mark.parametrize("kind", ["bwrap", "docker"])
def test_refused_calls_fail_and_the_rest_works(
    request: pytest.FixtureRequest, kind: str, path: str
) -> None:
    """On docker, on top of Docker's own profile (which lets io_uring through before
    Docker 25)."""
    import json

    assert platform.machine() in TABLES, f"no seccomp table for {platform.machine()}"
    sandbox: Backend = request.getfixturevalue("backend" if kind == "bwrap" else "docker_backend")
    numbers = json.dumps(TABLES[platform.machine()][1])
    files = {"probe.py": PROBE, "nr.json": numbers}
    if path == "cold":
        result = sandbox.run(["python3", "probe.py"], files)
    else:
        entry = PythonEntry(
            "entry.py",
            {
                "entry.py": "def main():\n    exec(open('probe.py').read(), {})\n\n\n"
                "if __name__ == '__main__':\n    main()\n"
            },
        )
        result = sandbox.run_python(entry, files, b"", Limits())
    assert result.exit_code == 0, result.stderr.decode()
    assert json.loads(result.stdout) == _expected()
