"""The library inside the sandbox (`rewardgate.sandbox.inside`), on the host.

What every shipped script is allowed to import (the standard library and this package,
nothing else), that no helper is written twice across them, that `boot` makes the
package importable from memory in an interpreter without rewardgate, and what each
helper does, each in a child process (they change fds, limits and seccomp for good).
"""

from __future__ import annotations

import ast
import errno
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rewardgate.sandbox import seccomp
from rewardgate.sandbox.host_shipping import INSIDE, boot_source, entry_command, inside_sources
from rewardgate.sandbox.inside import channel, limits, loader, privileges, process, reaper

ROOT = Path(__file__).resolve().parents[2]
# Every script that runs trusted inside a sandbox: the library, the servers it holds,
# and the verifiers' entry scripts. Helper modules an entry execs (instrument.py,
# geometry.py, harness_formats.py) are the verifiers' own code and use their runtimes.
ENTRIES: tuple[str, ...] = ("code/harness.py", "code/harness_child.py", "code/runner.py")
ENTRIES += ("chart/runner.py", "cad/runner.py")
SHIPPED = [*sorted(INSIDE.glob("*.py")), *(ROOT / "verifiers" / name for name in ENTRIES)]
INSIDE_PREFIX = "rewardgate.sandbox.inside."
# The runtime a sandbox mounts for an entry, imported after the program is contained
# (geometry.py and views.py are shipped beside the CAD runner, in its work dir).
RUNTIME_IMPORTS = {"verifiers/cad/runner.py": {"cadquery", "numpy", "scipy", "geometry", "views"}}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_shipped_script_imports_the_standard_library_and_the_inside_package_only(
    path: Path,
) -> None:
    allowed = RUNTIME_IMPORTS.get(str(path.relative_to(ROOT)), set())
    outside = set()
    for name in _imports(path):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in allowed or top == "__future__":
            continue
        if name != "rewardgate.sandbox.inside" and not name.startswith(INSIDE_PREFIX):
            outside.add(name)
    assert not outside, f"{path.name} imports {sorted(outside)} (not shipped into sandboxes)"


def _windows(path: Path, size: int = 6) -> dict[tuple[str, ...], int]:
    """Each run of `size` meaningful lines (stripped; blanks, comments, docstring-free
    imports kept out) -> the line it starts on."""
    lines = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        text = raw.strip()
        if text and not text.startswith(("#", "import ", "from ")) and text not in ")]}":
            lines.append((number, text))
    return {
        tuple(text for _, text in lines[i : i + size]): lines[i][0]
        for i in range(len(lines) - size + 1)
    }


def test_no_helper_is_written_twice_across_the_shipped_scripts() -> None:
    """Six identical lines in two shipped files are a helper that belongs in `inside`."""
    seen: dict[tuple[str, ...], str] = {}
    shared = []
    for path in SHIPPED:
        for window, line in _windows(path).items():
            where = f"{path.relative_to(ROOT)}:{line}"
            other = seen.setdefault(window, where)
            if other.partition(":")[0] != where.partition(":")[0]:
                shared.append((other, where))
    assert not shared, shared[:5]


def test_boot_serves_the_package_from_memory_to_a_python_without_rewardgate(
    tmp_path: Path,
) -> None:
    """The system python3 has no rewardgate; the boot command brings the library along."""
    script = tmp_path / "entry.py"
    script.write_text(
        "import sys\n"
        "from rewardgate.sandbox.inside import loader\n"
        "def main():\n"
        "    print(__name__, sys.argv, loader.__file__)\n"
        "    raise SystemExit(7)\n"
    )
    bare = subprocess.run(
        ["/usr/bin/python3", "-I", "-c", "import rewardgate"], capture_output=True, text=True
    )
    assert "ModuleNotFoundError" in bare.stderr
    argv = entry_command("entry.py")
    argv[0] = "/usr/bin/python3"
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7, done.stderr
    assert done.stdout.split() == [
        "rewardgate_entry",
        "['entry.py']",
        "<shipped>/rewardgate/sandbox/inside/loader.py",
    ]


def test_boot_of_a_server_without_main_fails_loudly() -> None:
    source = boot_source("module:rewardgate.sandbox.inside.channel")  # no main()
    done = subprocess.run(["/usr/bin/python3", "-I", "-c", source], capture_output=True, text=True)
    assert done.returncode == 1
    assert "AttributeError" in done.stderr and "main" in done.stderr


def test_the_start_command_fits_in_one_argument() -> None:
    """Linux refuses an exec with one argument over 128 KiB (MAX_ARG_STRLEN): the whole
    package travels in one, so it must stay well under."""
    assert len(boot_source("entry").encode()) < 100_000


def test_the_sources_are_the_package() -> None:
    sources = inside_sources()
    assert sources["rewardgate.sandbox.inside.reaper"] == Path(reaper.__file__).read_text()
    assert "rewardgate.sandbox.inside.boot" not in sources
    assert sources["rewardgate"] == "" and sources["rewardgate.sandbox"] == ""


CHILD_RESULT_FD = 9


def _in_child(body: Callable[[int], object]) -> object:
    """Run `body(write_fd)` in a forked child; what it returns, as JSON through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            # A long-lived test process (an xdist worker) may hold many descriptors, some
            # above a run's 64-file limit: the child starts from the few a sandboxed
            # process has, its result pipe on 9.
            # 3-8 hold /dev/null, so the pipes a body makes land above the numbers it
            # moves descriptors to.
            os.dup2(w, CHILD_RESULT_FD)
            w = CHILD_RESULT_FD
            null = os.open(os.devnull, os.O_RDONLY)
            for fd in range(3, CHILD_RESULT_FD):
                if fd != null:
                    os.dup2(null, fd)
            os.closerange(CHILD_RESULT_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
            out = body(w)
            os.write(w, json.dumps(out).encode())
        except BaseException as exc:
            os.write(w, json.dumps({"error": repr(exc)}).encode())
            code = 1
        os._exit(code)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


def test_channel_lines_reach_fd_3() -> None:
    def body(w: int) -> object:
        r, cw = os.pipe()
        os.dup2(cw, channel.CHANNEL)
        channel.emit({"a": 1})
        channel.emit_after_cut({"b": "x" * 10_000})
        os.close(channel.CHANNEL)
        os.close(cw)
        data = b""
        while chunk := os.read(r, 1 << 16):
            data += chunk
        return data.decode().split("\n")[:3]

    lines = _in_child(body)
    assert lines == ['{"a": 1}', "", json.dumps({"b": "x" * 10_000})]


def test_move_fds_swaps_descriptors_and_close_from_keeps_what_it_is_told() -> None:
    def body(w: int) -> object:
        a_r, a_w = os.pipe()
        b_r, b_w = os.pipe()
        os.write(a_w, b"A")
        os.write(b_w, b"B")
        os.dup2(a_r, 5)
        os.dup2(b_r, 6)
        keep = os.dup(w)
        # A run's default open-files limit: the copies must fit under it.
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        )
        process.move_fds([6, 5, 6])  # B on 0 and 2, A on 1
        process.close_from(3, keep=[keep])
        left = sorted(int(n) for n in os.listdir("/proc/self/fd"))
        got = [os.read(0, 1).decode(), os.read(1, 1).decode()]
        os.dup2(keep, w)
        return {"left": left, "got": got, "keep": keep}

    out = _in_child(body)
    assert isinstance(out, dict)
    assert out["got"] == ["B", "A"]
    # 0-2, `keep`, and the listing's own descriptor.
    assert out["left"][:3] == [0, 1, 2] and out["keep"] in out["left"]
    assert len(out["left"]) == 5


def test_set_limits_sets_what_it_is_given_and_always_no_core() -> None:
    def body(w: int) -> object:
        limits.set_limits(cpu_s=7, open_files=1 << 30, file_bytes=1 << 20)
        return {
            name: list(resource.getrlimit(getattr(resource, name)))
            for name in ("RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE")
        }

    hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert _in_child(body) == {
        "RLIMIT_CPU": [7, 8],
        "RLIMIT_NOFILE": [hard_nofile, hard_nofile],  # never above the hard limit
        "RLIMIT_FSIZE": [1 << 20, 1 << 20],
        "RLIMIT_CORE": [0, 0],
    }
    assert limits.address_space_in_use() > 1 << 20


def test_the_seccomp_filter_installed_refuses_its_calls() -> None:
    program = seccomp.program()
    assert program is not None

    def body(w: int) -> object:
        import ctypes

        privileges.prctl(privileges.PR_SET_NO_NEW_PRIVS, 1)
        privileges.install_filter(program)
        libc = privileges.libc()
        ctypes.set_errno(0)
        unshare = libc.unshare(0)
        refused = ctypes.get_errno()
        return [unshare, refused, os.getpid() > 0]

    assert _in_child(body) == [-1, errno.EPERM, True]


def test_not_dumpable_and_subreaper_are_set() -> None:
    def body(w: int) -> object:
        privileges.not_dumpable()
        privileges.child_subreaper()
        libc = privileges.libc()
        return [libc.prctl(3, 0, 0, 0, 0)]  # PR_GET_DUMPABLE

    assert _in_child(body) == [0]


def test_kill_the_rest_kills_an_orphaned_daemon_of_a_subreaper() -> None:
    """Outside a pid namespace of its own the reaper takes this process's descendants
    only, orphans included (the caller is their subreaper)."""

    def body(w: int) -> object:
        privileges.child_subreaper()
        script = "import os, time\nif os.fork(): os._exit(0)\ntime.sleep(600)\n"
        subprocess.run([sys.executable, "-c", script], check=True)  # leaves a daemon
        time.sleep(0.2)
        before = reaper.victims()
        killed = reaper.kill_the_rest()
        return {"before": len(before), "killed": killed, "after": reaper.victims()}

    assert _in_child(body) == {"before": 1, "killed": True, "after": []}


def test_processes_lists_parents_and_tells_zombies() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 5
        while reaper.processes().get(pid, (0, True))[1] and time.monotonic() < deadline:
            time.sleep(0.01)
        table = reaper.processes(os.getuid())
        assert table[pid] == (os.getpid(), False)
        assert pid in {p for p in table if table[p][0] == os.getpid()}
        assert pid not in reaper.descendants(os.getpid(), table)  # a zombie is not alive
    finally:
        os.waitpid(pid, 0)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("pass", 0),
        ("raise SystemExit(3)", 3),
        ("raise SystemExit('bye')", 1),
        ("raise ValueError('x')", 1),
    ],
    ids=["returns", "exit-3", "exit-message", "exception"],
)
def test_run_main_ends_as_python_would(body: str, code: int) -> None:
    source = f"def main():\n    {body}\n"
    namespace = loader.load_entry("entry.py", source)
    assert namespace["__name__"] == loader.ENTRY_MODULE
    assert namespace["__file__"] == "/sandbox/entry.py"
    assert loader.run_main(namespace) == code


def test_load_entry_calls_preload_with_the_files() -> None:
    source = textwrap.dedent(
        """
        seen = []
        def preload(files):
            seen.append(sorted(files))
        def main():
            pass
        """
    )
    namespace = loader.load_entry("entry.py", source, {"entry.py": source, "b.py": ""})
    assert namespace["seen"] == [["b.py", "entry.py"]]


def test_exec_files_and_read_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = x + 1\n")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    loader.exec_files(namespace, loader.read_files(["a.py", "b.py"]), ["a.py", "b.py"])
    assert (namespace["x"], namespace["y"]) == (1, 2)


def test_a_killed_child_is_reaped_by_reap() -> None:
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        reaper.reap()
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)
