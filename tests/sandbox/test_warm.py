"""The warm Python path: runs forked from a preloaded zygote must be as clean as cold ones.

Every test runs real bwrap sandboxes on real cgroups. The attacks here target what a
reused interpreter could leak between runs: surviving processes, files, IPC objects,
capabilities, the zygote itself.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rewardgate.sandbox import BwrapBackend, Limits, Mount, PythonEntry
from rewardgate.verifiers.errors import SandboxError
from tests.sandbox.conftest import host_pids_with


def entry(body: str, preload: str = "") -> PythonEntry:
    """An entry script whose main() runs `body` (preload() runs `preload`, once)."""
    source = "import os, sys\n\ndef main():\n" + textwrap.indent(textwrap.dedent(body), "    ")
    if preload:
        source += "\n\ndef preload(files):\n" + textwrap.indent(textwrap.dedent(preload), "    ")
    source += "\n\nif __name__ == '__main__':\n    main()\n"
    return PythonEntry("entry.py", {"entry.py": source})


@pytest.fixture(scope="module")
def warm() -> BwrapBackend:
    backend = BwrapBackend()
    assert backend.health()["warm_python"] == "ok", backend.health()
    return backend


@pytest.fixture(scope="module")
def cold() -> BwrapBackend:
    backend = BwrapBackend(warm=False)
    assert backend.health()["warm_python"] == "off"
    return backend


def zygote_pid(backend: BwrapBackend) -> int:
    """The host pid of this process's zygote (bwrap's child: the sandbox's pid 1)."""
    assert backend._warm is not None
    launcher = backend._warm.launchers[()]
    with open(f"/proc/{launcher}/task/{launcher}/children") as f:
        return int(f.read().split()[0])


# --- a warm run behaves like a cold one ---------------------------------------------------


@pytest.mark.parametrize("mode", ["warm", "cold"])
@pytest.mark.parametrize(
    ("body", "exit_code", "stdout", "stderr_has"),
    [
        ("print(sys.stdin.read().upper())", 0, b"HELLO\n", b""),
        ("print('partial'); sys.exit(3)", 3, b"partial\n", b""),
        ("raise ValueError('boom')", 1, b"", b"ValueError: boom"),
        ("sys.exit('message')", 1, b"", b""),
        ("print(sorted(os.listdir('.')))", 0, b"['data.txt', 'entry.py']\n", b""),
        (
            "import subprocess\n"
            "kill = 'import os; os.kill(os.getpid(), 9)'\n"
            "print(subprocess.run([sys.executable, '-c', kill]).returncode)",
            0,
            b"-9\n",
            b"",
        ),
    ],
    ids=[
        "stdin-stdout",
        "exit-code",
        "uncaught-exception",
        "exit-message",
        "files",
        "child-signal",
    ],
)
def test_warm_run_matches_cold_run(
    request: pytest.FixtureRequest,
    mode: str,
    body: str,
    exit_code: int,
    stdout: bytes,
    stderr_has: bytes,
) -> None:
    backend: BwrapBackend = request.getfixturevalue(mode)
    result = backend.run_python(entry(body), {"data.txt": "x"}, "hello", Limits(wall_s=20))
    assert (result.exit_code, result.stdout) == (exit_code, stdout), result
    assert stderr_has in result.stderr


def test_channel_reaches_the_host_and_only_the_run_holds_it(warm: BwrapBackend) -> None:
    body = """
    os.write(3, b'verdict')
    print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))
    """
    result = warm.run_python(entry(body), {}, "", Limits(), channel=True)
    assert result.channel == b"verdict"
    # 0-3 and the listing's own fd: nothing of the zygote (control socket, memfds).
    assert json.loads(result.stdout) == [0, 1, 2, 3, 4]


def test_preload_runs_once_per_zygote(warm: BwrapBackend) -> None:
    script = entry("print(COUNT[0], sorted(FILES))", preload="COUNT[0] += 1; FILES.update(files)")
    source = "COUNT = [0]\nFILES = {}\n" + script.files["entry.py"]
    counted = PythonEntry("entry.py", {"entry.py": source})
    outputs = {warm.run_python(counted).stdout for _ in range(3)}
    assert outputs == {b"1 ['entry.py']\n"}


def test_limits_hold_in_a_warm_run(warm: BwrapBackend) -> None:
    loop = warm.run_python(entry("while True: pass"), limits=Limits(wall_s=0.5, cpu_s=10))
    assert loop.timed_out and loop.details["timeout"] == "wall"
    bomb = "x = []\nwhile True: x.append(bytearray(1 << 24))"
    memory = warm.run_python(entry(bomb), limits=Limits(memory_mb=128, wall_s=20))
    assert memory.oom_killed or b"MemoryError" in memory.stderr, memory
    fork = """
    import time
    pids = []
    try:
        for _ in range(200):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            pids.append(pid)
    except OSError as exc:
        print('stopped after', len(pids), exc.errno)
    """
    forks = warm.run_python(entry(fork), limits=Limits(processes=16, wall_s=20))
    assert forks.stdout.startswith(b"stopped after 1"), forks
    assert warm.run_python(entry("print(42)")).stdout == b"42\n"


# --- nothing survives a run, nothing leaks into the next ---------------------------------


def test_daemon_dies_with_its_run_and_cannot_forge_the_next(
    warm: BwrapBackend, marker: str
) -> None:
    """A planted daemon hunts for the next run's channel; it must be dead before that run."""
    plant = f"""
    import subprocess
    hunter = '''
import os, sys, time
end = time.time() + 20
while time.time() < end:
    for pid in os.listdir('/proc'):
        for fd in ('3', '1'):
            try:
                with open(f'/proc/{{pid}}/fd/{{fd}}', 'w') as f:
                    f.write('FORGED')
            except OSError:
                pass
    for path in ('/sandbox/FORGED', '/dev/shm/FORGED', '/dev/FORGED'):
        try:
            open(path, 'w').write('FORGED')
        except OSError:
            pass
    time.sleep(0.01)
'''
    subprocess.Popen([sys.executable, '-c', hunter, '{marker}'], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, close_fds=True)
    print('planted')
    """
    planted = warm.run_python(entry(plant), limits=Limits(wall_s=20), channel=True)
    assert planted.stdout == b"planted\n", planted
    assert host_pids_with(marker) == []  # dead before run() returned
    victim = """
    import time
    time.sleep(0.3)
    found = [p for p in ('/sandbox/FORGED', '/dev/shm/FORGED', '/dev/FORGED') if os.path.exists(p)]
    os.write(3, b'honest')
    print('found', found)
    """
    result = warm.run_python(entry(victim), limits=Limits(wall_s=20), channel=True)
    assert (result.channel, result.stdout) == (b"honest", b"found []\n"), result


def test_files_and_ipc_objects_do_not_carry_over(warm: BwrapBackend) -> None:
    shm = """
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    IPC_CREAT = 0o1000
    created = libc.shmget(0x5EED, 4096, IPC_CREAT | 0o666) >= 0
    for path in ('/sandbox/left.txt', '/dev/shm/left', '/dev/left', '/tmp/left', '/left'):
        try:
            open(path, 'w').write('x')
            print('wrote', path)
        except OSError:
            pass
    print('shm', created)
    """
    first = warm.run_python(entry(shm))
    assert first.stdout.splitlines() == [
        b"wrote /sandbox/left.txt",
        b"wrote /dev/shm/left",
        b"shm True",
    ]
    look = """
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    print(libc.shmget(0x5EED, 4096, 0) >= 0, sorted(os.listdir('.')), os.listdir('/dev/shm'))
    """
    second = warm.run_python(entry(look))
    assert second.stdout == b"False ['entry.py'] []\n", second


def test_a_run_has_no_capability_and_cannot_reach_the_zygote(warm: BwrapBackend) -> None:
    body = """
    import ctypes
    status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())
    caps = {k: int(status[k], 16) for k in ('CapEff', 'CapPrm', 'CapInh', 'CapBnd', 'CapAmb')}
    libc = ctypes.CDLL(None, use_errno=True)
    unshare = libc.unshare(0x20000)  # CLONE_NEWNS
    mount = libc.mount(b'tmpfs', b'/sandbox', b'tmpfs', 0, None)
    pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
    print(json.dumps({'caps': caps, 'nnp': status['NoNewPrivs'].strip(), 'unshare': unshare,
                      'mount': mount, 'pids': pids, 'uid': os.getuid()}))
    """
    result = warm.run_python(entry("import json\n" + textwrap.dedent(body)))
    seen = json.loads(result.stdout)
    assert seen["caps"] == dict.fromkeys(("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"), 0)
    assert (seen["nnp"], seen["unshare"], seen["mount"]) == ("1", -1, -1)
    # Only the run's own processes: its pid 1 (the entry) and the listing's.
    assert seen["pids"] == [1], seen
    assert seen["uid"] == 65534


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_host_environment_invisible(
    request: pytest.FixtureRequest, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend: BwrapBackend = request.getfixturevalue(mode)
    monkeypatch.setenv("REWARDGATE_TEST_SECRET", "hunter2")
    result = backend.run_python(entry("print(sorted(os.environ.items()))"))
    # The sandbox's own variables only: its paths, and BLAS pools of one thread.
    assert ast.literal_eval(result.stdout.decode()) == [
        ("HOME", "/sandbox"),
        ("LANG", "C.UTF-8"),
        ("MKL_NUM_THREADS", "1"),
        ("NUMEXPR_NUM_THREADS", "1"),
        ("OMP_NUM_THREADS", "1"),
        ("OPENBLAS_NUM_THREADS", "1"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("PWD", "/sandbox"),
        ("TMPDIR", "/sandbox"),
    ]


# --- the zygote's own failures are errors, never verdicts --------------------------------


def test_a_dead_zygote_is_replaced_between_runs() -> None:
    backend = BwrapBackend()
    assert backend.run_python(entry("print(1)")).stdout == b"1\n"
    os.kill(zygote_pid(backend), signal.SIGKILL)
    time.sleep(0.2)
    assert backend.run_python(entry("print(2)")).stdout == b"2\n"


def test_zygote_dying_during_a_run_is_a_sandbox_error() -> None:
    backend = BwrapBackend()
    assert backend.run_python(entry("print(1)")).stdout == b"1\n"
    pid = zygote_pid(backend)
    threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(SandboxError, match="died during the run"):
        backend.run_python(entry("import time; time.sleep(10)"), limits=Limits(wall_s=20))


def test_a_forked_process_starts_its_own_zygote(warm: BwrapBackend) -> None:
    warm.run_python(entry("print(1)"))
    parent_zygote = zygote_pid(warm)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            out = warm.run_python(entry("print(7)")).stdout
            mine = zygote_pid(warm)
            os.write(write, json.dumps([out.decode(), mine != parent_zygote]).encode())
        finally:
            os._exit(0)
    os.close(write)
    reply = os.read(read, 1000)
    os.close(read)
    os.waitpid(pid, 0)
    assert json.loads(reply) == ["7\n", True]
    assert warm.run_python(entry("print(8)")).stdout == b"8\n"


def test_mounts_get_a_zygote_of_their_own(warm: BwrapBackend, shared_dir: Path) -> None:
    (shared_dir / "lib.txt").write_text("from the host")
    os.chmod(shared_dir / "lib.txt", 0o644)
    mount = Mount(shared_dir, "/opt/runtime")
    show = entry("print(open('/opt/runtime/lib.txt').read() if os.path.exists('/opt') else '-')")
    assert warm.run_python(show, mounts=[mount]).stdout == b"from the host\n"
    assert warm.run_python(show).stdout == b"-\n"  # the mount-less zygote never saw it
    write = entry("open('/opt/runtime/x', 'w')")
    assert b"Read-only file system" in warm.run_python(write, mounts=[mount]).stderr
    with pytest.raises(SandboxError, match="does not exist"):
        warm.run_python(show, mounts=[Mount(shared_dir / "nope", "/opt/x")])
