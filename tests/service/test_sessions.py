"""Tool sessions on real sandboxes: state across calls, per-call and per-session limits,
expiry leaving nothing behind, hostile cells contained, capacity, many at once. The core
cases run on both backends (`any_manager`), the rest on bwrap."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rewardgate.contract.errors import InvalidRequest, NotFound, Overloaded
from rewardgate.service.sessions import Session, SessionLimits, SessionManager, limits_from
from tests.sandbox.conftest import MARKER_PREFIX, host_pids_with

LIMITS = SessionLimits(call_timeout_s=3.0, memory_mb=128, lifetime_s=120, idle_s=60)
MANY = int(os.environ.get("REWARDGATE_TEST_SESSIONS", "200"))


@pytest.fixture
def manager() -> Iterator[SessionManager]:
    m = SessionManager("bwrap", max_live=MANY + 5, limits=LIMITS)
    yield m
    m.close()


@pytest.fixture(params=["bwrap", "docker"])
def any_manager(request: pytest.FixtureRequest) -> Iterator[SessionManager]:
    """A manager on each backend in turn (docker: a container per session)."""
    m = SessionManager(request.param, max_live=10, limits=LIMITS)
    yield m
    m.close()


@pytest.fixture
def marker() -> str:
    return f"{MARKER_PREFIX}-{os.getpid()}-{os.urandom(4).hex()}"


def _leftovers(session: Session) -> list[object]:
    """What of `session` is still on the host: its processes and cgroup folders."""
    group = getattr(session.process, "_group", None)
    dirs = [d for d in (group.dirs.values() if group is not None else ()) if Path(d).exists()]
    container = getattr(session.process, "container_id", None)
    return [*session.process.pids(), *dirs, *([container] if _exists(container) else [])]


def _exists(container: str | None) -> bool:
    """Whether docker still has `container` (a docker session's own, running or not)."""
    if container is None:
        return False
    import docker

    try:
        docker.from_env().api.inspect_container(container)
    except docker.errors.NotFound:
        return False
    return True


def _gone(session: Session, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while _leftovers(session) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _leftovers(session)


def test_python_keeps_state_and_returns_the_last_value(any_manager: SessionManager) -> None:
    manager = any_manager
    s = manager.create("python", {"data.txt": "41"})
    assert manager.run(s.id, "x = int(open('data.txt').read())")["status"] == "ok"
    answer = manager.run(s.id, "import sys\nprint('out'); print('err', file=sys.stderr)\nx + 1")
    assert (answer["status"], answer["value"]) == ("ok", "42")
    assert (answer["stdout"], answer["stderr"]) == ("out\n", "err\n")
    failed = manager.run(s.id, "1 / 0")
    assert failed["status"] == "error" and "ZeroDivisionError" in failed["stderr"]
    manager.run(s.id, "open('made.txt', 'w').write('abc')")
    assert {"path": "made.txt", "bytes": 3} in manager.files(s.id)
    assert manager.run(s.id, "x")["value"] == "41"  # still there after an error


def test_bash_keeps_variables_and_the_working_directory(any_manager: SessionManager) -> None:
    manager = any_manager
    s = manager.create("bash")
    assert manager.run(s.id, "X=7; mkdir -p d; cd d")["status"] == "ok"
    answer = manager.run(s.id, "echo $X; pwd; exit_me() { return 3; }; exit_me")
    assert answer["stdout"] == "7\n/tmp/d\n" or answer["stdout"] == "7\n/sandbox/d\n"
    assert (answer["status"], answer["exit_code"]) == ("error", 3)


def test_a_runaway_cell_is_interrupted_and_the_session_stays_usable(
    any_manager: SessionManager,
) -> None:
    manager = any_manager
    s = manager.create("python")
    manager.run(s.id, "kept = 5")
    answer = manager.run(s.id, "while True: pass", timeout_s=1.0)
    assert answer["status"] == "timeout"
    assert manager.run(s.id, "kept")["value"] == "5"
    shell = manager.create("bash")
    assert manager.run(shell.id, "sleep 600", timeout_s=1.0)["status"] == "timeout"
    assert manager.run(shell.id, "echo alive")["stdout"] == "alive\n"


def test_a_cell_that_defeats_the_alarm_ends_its_session_clearly(
    any_manager: SessionManager,
) -> None:
    manager = any_manager
    s = manager.create("python")
    cell = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True: pass"
    answer = manager.run(s.id, cell, timeout_s=1.0)
    assert answer["status"] == "ended" and "timeout" in answer["ended"]
    assert _gone(s)
    with pytest.raises(NotFound):
        manager.run(s.id, "1")


def test_a_memory_bomb_stays_under_the_session_cap(any_manager: SessionManager) -> None:
    manager = any_manager
    s = manager.create("python")
    answer = manager.run(s.id, "b = bytearray(600 << 20)\nlen(b)")
    # Refused inside (MemoryError: the session lives on) or the kernel killed by the
    # cgroup (the session ends, saying so): never 600 MB held.
    if answer["status"] == "ended":
        assert _gone(s)
    else:
        assert answer["status"] == "error" and "MemoryError" in answer["stderr"]
        assert manager.run(s.id, "2 + 2")["value"] == "4"


def test_a_fork_bomb_is_contained_and_cleaned_up(any_manager: SessionManager, marker: str) -> None:
    manager = any_manager
    s = manager.create("bash")
    bomb = f"b() {{ b | b & }}; : {marker}; b"
    answer = manager.run(s.id, bomb, timeout_s=2.0)
    assert answer["status"] in ("ok", "error", "timeout", "ended")
    assert len(s.process.pids()) <= LIMITS.processes + 4
    manager.delete(s.id)
    assert _gone(s)


def test_a_daemon_does_not_outlive_its_session(any_manager: SessionManager, marker: str) -> None:
    manager = any_manager
    s = manager.create("bash")
    manager.run(s.id, f"(setsid sh -c 'sleep 600; : {marker}' &) ; nohup sleep 601 &")
    deadline = time.monotonic() + 15
    while not host_pids_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_pids_with(marker)
    manager.delete(s.id)
    assert host_pids_with(marker) == []
    assert _gone(s)


def test_a_session_cannot_see_another_sessions_files_or_processes(
    any_manager: SessionManager,
) -> None:
    manager = any_manager
    a = manager.create("python")
    b = manager.create("python")
    manager.run(a.id, "open('secret.txt', 'w').write('mine')\nimport time")
    probe = (
        "import os, glob\n"
        "roots = ['/sandbox', '/tmp', '/run', '/var', '/home', '/dev', '/root']\n"
        "found = [f for r in roots for f in glob.glob(r + '/**/secret.txt', recursive=True)]\n"
        "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "(found, len(pids) < 10)"
    )
    answer = manager.run(b.id, probe)
    assert answer["value"] == "([], True)", answer


def test_idle_and_lifetime_expiry_leave_nothing_behind(any_manager: SessionManager) -> None:
    manager = any_manager
    idle = manager.create("python", limits=SessionLimits(idle_s=0.5))
    old = manager.create("bash", limits=SessionLimits(lifetime_s=1.0))
    busy = manager.create("python")
    manager.run(old.id, "sleep 600 &")
    time.sleep(1.2)
    ended = manager.reap()
    assert set(ended) == {idle.id, old.id}
    assert _gone(idle) and _gone(old)
    assert idle.ended == "expired (idle)" and old.ended == "expired (lifetime)"
    with pytest.raises(NotFound):
        manager.run(idle.id, "1")
    assert manager.run(busy.id, "1")["value"] == "1"


def test_capacity_is_bounded_and_owners_are_kept_apart() -> None:
    m = SessionManager("bwrap", max_live=2, limits=LIMITS)
    try:
        mine = m.create("python", owner="key-a")
        m.create("python", owner="key-b")
        with pytest.raises(Overloaded):
            m.create("python")
        with pytest.raises(NotFound):
            m.run(mine.id, "1", owner="key-b")
        assert m.run(mine.id, "1", owner="key-a")["value"] == "1"
        m.delete(mine.id, owner="key-a")
        m.create("bash")  # room again
    finally:
        m.close()


@pytest.fixture(params=["bwrap", "docker"])
def many_manager(request: pytest.FixtureRequest) -> Iterator[SessionManager]:
    """Room for MANY sessions on each backend (docker: MANY containers at once)."""
    m = SessionManager(request.param, max_live=MANY + 5, limits=LIMITS)
    yield m
    m.close()


def test_many_sessions_at_once_with_bounded_memory(many_manager: SessionManager) -> None:
    manager = many_manager
    with ThreadPoolExecutor(8) as pool:
        sessions = list(pool.map(lambda _: manager.create("python"), range(MANY)))
        answers = list(pool.map(lambda s: manager.run(s.id, f"n = {len(s.id)}\nn * 2"), sessions))
    assert len(manager) == MANY
    assert all(a["status"] == "ok" for a in answers)
    # Proportional set size: a page shared by N processes counts 1/N to each (RSS
    # counted every python's shared interpreter pages once per process).
    pss_kb = 0
    for s in sessions:
        for pid in s.process.pids():
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            pss_kb += next(
                (int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")),
                0,
            )
    print(f"{MANY} sessions on {manager.backend}: {pss_kb / 1024:.0f} MiB proportional set size")
    assert pss_kb < MANY * 30 * 1024
    manager.close()
    assert all(_gone(s) for s in sessions)


def test_the_memory_budget_bounds_all_sessions_together() -> None:
    m = SessionManager("bwrap", max_live=5, limits=LIMITS, memory_budget_mb=300)
    try:
        m.create("python")
        m.create("python")  # 256 of 300 MB capped
        with pytest.raises(Overloaded, match="memory"):
            m.create("python")
        small = m.create("python", limits=SessionLimits(memory_mb=40))
        assert small.limits.memory_mb == 40
    finally:
        m.close()


def test_request_limits_only_lower_the_servers() -> None:
    assert limits_from({"memory_mb": 4096, "idle_s": 5}, LIMITS).capped(LIMITS) == SessionLimits(
        call_timeout_s=3.0, memory_mb=128, lifetime_s=120, idle_s=5
    )
    for bad in ({"idle_s": -1}, {"memory_mb": "lots"}, {"disk": 1}):
        with pytest.raises(InvalidRequest):
            limits_from(bad, LIMITS)


def test_memory_is_capped_for_the_whole_session_not_per_process(
    manager: SessionManager,
) -> None:
    """Three processes of 60 MB each in a 128 MB session: they cannot all hold it."""
    s = manager.create("bash")
    hog = (
        'python3 -c \'import time; b = bytearray(60 << 20); b[::4096] = b"x" * (len(b) // 4096)'
        '; time.sleep(1); print("held")\''
    )
    answer = manager.run(s.id, f"for i in 1 2 3; do {hog} & done; wait")
    group = getattr(s.process, "_group", None)
    assert group is not None and group.max_memory_bytes() is not None
    assert group.max_memory_bytes() <= (LIMITS.memory_mb + 1) << 20
    assert answer["status"] == "ok" and answer["stdout"].count("held") < 3, answer
