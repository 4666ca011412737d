"""The engine: validation, deadlines, dead workers, cancellation, admission, cache."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from rewardgate.service.cache import SqliteCache
from rewardgate.service.engine import Engine
from rewardgate.testing import start_engine
from rewardgate.verifiers import Overloaded, Registry
from tests.service.probes import PROBES, Echo, Faulty, Sleepy


def echo(response: str, answer: str = "42", **extra: object) -> dict[str, object]:
    return {"verifier": "echo", "response": response, "reference": {"answer": answer}, **extra}


def test_batch_keeps_order_and_scores_each_item(verifier_engine) -> None:
    engine = verifier_engine(*PROBES, workers=2)
    results = engine.score([echo("42", id="a"), echo("41", id="b"), echo("42", id="c")])
    assert [(r.id, r.reward, r.status) for r in results] == [
        ("a", 1.0, "ok"),
        ("b", 0.0, "ok"),
        ("c", 1.0, "ok"),
    ]
    assert all(r.version == "1" and r.elapsed_ms > 0 for r in results)


@pytest.mark.parametrize(
    ("item", "error_part"),
    [
        ({"verifier": "nope", "response": "x"}, "available: echo, faulty, sleepy"),
        ({"verifier": "echo", "response": "x"}, "reference.answer: Field required"),
        ({"verifier": "echo", "response": "x", "reference": {"answr": "1"}}, "reference.answer"),
        (echo("x", options={"colour": "red"}), "options.colour"),
        (echo("x", options={"timeout_s": -1}), "options.timeout_s"),
        ({"verifier": "echo"}, "item.response: Field required"),
        ({"verifier": "echo", "response": 5}, "item.response"),
        ("not an object", "item"),
    ],
    ids=[
        "unknown-verifier",
        "missing-reference",
        "misspelt-reference-field",
        "unknown-option",
        "negative-timeout",
        "missing-response",
        "response-not-string",
        "item-not-object",
    ],
)
def test_malformed_items_are_invalid_and_name_the_problem(
    verifier_engine, item, error_part
) -> None:
    engine = verifier_engine(*PROBES)
    good, bad = engine.score([echo("42"), item])
    assert good.status == "ok" and good.reward == 1.0
    assert bad.status == "invalid"
    assert error_part in bad.error
    assert bad.reward == 0.0


def test_deadline_kills_the_worker_and_reports_timeout(verifier_engine, tmp_path: Path) -> None:
    engine = verifier_engine(*PROBES)
    pidfile = tmp_path / "pid"
    item = {
        "verifier": "sleepy",
        "response": "",
        "reference": {"seconds": 60, "pidfile": str(pidfile)},
        "options": {"timeout_s": 0.5},
    }
    start = time.monotonic()
    [result] = engine.score([item])
    assert time.monotonic() - start < 10
    assert result.status == "timeout" and "0.5 s budget" in result.error
    assert not _alive(int(pidfile.read_text()))
    [after] = engine.score([echo("42")])
    assert after.status == "ok"


def test_server_cap_bounds_the_budget_a_request_asks_for(verifier_engine) -> None:
    engine = verifier_engine(*PROBES, max_timeout_s=0.5)
    item = {
        "verifier": "sleepy",
        "response": "",
        "reference": {"seconds": 30},
        "options": {"timeout_s": 1000},
    }
    [result] = engine.score([item])
    assert result.status == "timeout"


def _kill_each_start(pidfile: Path, times: int) -> Callable[[], Coroutine[Any, Any, list[int]]]:
    """Kills the worker that wrote `pidfile`, `times` times (each new writer once)."""

    async def killer() -> list[int]:
        killed: list[int] = []
        while len(killed) < times:
            text = pidfile.read_text() if pidfile.exists() else ""
            if text and int(text) not in killed:
                killed.append(int(text))
                os.kill(killed[-1], signal.SIGKILL)
            await asyncio.sleep(0.01)
        return killed

    return killer


def test_an_item_whose_worker_is_killed_is_judged_once_more(
    verifier_engine, tmp_path: Path
) -> None:
    harness = verifier_engine(*PROBES, workers=2)
    pidfile = tmp_path / "pid"
    slow = {
        "verifier": "sleepy",
        "response": "",
        "reference": {"seconds": 1, "pidfile": str(pidfile)},
    }

    async def scenario():
        return await asyncio.gather(
            harness.engine.score([slow, echo("42"), echo("1")]), _kill_each_start(pidfile, 1)()
        )

    results, [killed] = harness._loop.run_until_complete(scenario())
    assert [(r.status, r.reward) for r in results] == [("ok", 1.0), ("ok", 1.0), ("ok", 0.0)]
    assert results[0].details["pid"] != killed
    assert harness.engine.metrics.item_retries._value.get() == 1
    assert harness.score([echo("42")])[0].status == "ok"


def test_an_item_whose_worker_dies_twice_is_an_error(verifier_engine, tmp_path: Path) -> None:
    harness = verifier_engine(*PROBES, workers=2)
    pidfile = tmp_path / "pid"
    slow = {
        "verifier": "sleepy",
        "response": "",
        "reference": {"seconds": 30, "pidfile": str(pidfile)},
    }

    async def scenario():
        return await asyncio.gather(
            harness.engine.score([slow, echo("42"), echo("1")]), _kill_each_start(pidfile, 2)()
        )

    results, _ = harness._loop.run_until_complete(scenario())
    assert results[0].status == "error" and "died twice" in results[0].error
    assert results[0].reward == Sleepy.lowest_reward
    assert [r.reward for r in results[1:]] == [1.0, 0.0]
    assert harness.score([echo("42")])[0].status == "ok"


def _worker_pids(harness) -> list[int]:
    return [slot.pid for slot in harness.engine._pool.slots]


def test_workers_killed_while_idle_do_not_break_scoring(verifier_engine) -> None:
    """Defect 1 of issue 17: pebble declared the pool broken when an idle worker died."""
    harness = verifier_engine(*PROBES, workers=2)
    assert harness.score([echo("42")])[0].status == "ok"
    for pid in _worker_pids(harness):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    results = harness.score([echo("42", id=str(i)) for i in range(8)])
    assert [(r.status, r.reward) for r in results] == [("ok", 1.0)] + [("ok", 1.0)] * 7
    assert harness.engine.healthy
    assert harness.engine.metrics.item_retries._value.get() == 0


def test_kills_at_random_instants_under_load_lose_nothing(verifier_engine) -> None:
    """Workers killed at every phase of a job (taking it, judging, answering)."""
    harness = verifier_engine(*PROBES, workers=2, cache=None)
    items = [echo(str(i % 7), answer="3", id=str(i)) for i in range(400)]
    rng = random.Random(17)

    async def killer(stop: asyncio.Event) -> int:
        kills = 0
        while not stop.is_set() and kills < 25:
            await asyncio.sleep(rng.uniform(0.02, 0.08))
            pid = rng.choice(_worker_pids(harness))
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
        return kills

    async def scenario():
        stop = asyncio.Event()
        kill_task = asyncio.ensure_future(killer(stop))
        results = []
        for start in range(0, len(items), 50):
            results += await harness.engine.score(items[start : start + 50])
        stop.set()
        return results, await kill_task

    results, kills = harness._loop.run_until_complete(scenario())
    assert kills > 0
    assert [r.id for r in results] == [str(i) for i in range(400)]
    # Right verdicts only; an item unlucky enough to lose two workers in a row is
    # `error` (the contract: one more try, then error), never a wrong reward.
    wrong = [
        (i, r.status, r.reward, r.error)
        for i, r in enumerate(results)
        if (r.status, r.reward) != ("ok", float(i % 7 == 3))
        and not (r.status == "error" and "died twice" in (r.error or ""))
    ]
    assert not wrong, wrong
    assert sum(r.status == "ok" for r in results) >= 390
    assert harness.score([echo("42")])[0].status == "ok"


def test_watchdog_replaces_a_stopped_idle_worker(verifier_engine) -> None:
    harness = verifier_engine(*PROBES, workers=1, watchdog_interval_s=0.1, probe_timeout_s=0.5)
    [stopped] = _worker_pids(harness)
    os.kill(stopped, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 10
        while _worker_pids(harness) == [stopped] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _worker_pids(harness) != [stopped], "the stopped worker was not replaced"
        [result] = harness.score([echo("42")])
        assert (result.status, result.reward) == ("ok", 1.0)
        assert result.details["pid"] != stopped
        assert harness.engine.healthy
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stopped, signal.SIGCONT)


def test_a_worker_stopped_while_a_large_job_is_written_to_it_is_killed(
    verifier_engine, tmp_path: Path
) -> None:
    """The slot is blocked writing a job bigger than the pipe's buffer to a stopped
    worker; the watchdog kills the worker past the job's deadline and the slot recovers."""
    harness = verifier_engine(*PROBES, workers=1, watchdog_interval_s=0.1)
    [stopped] = _worker_pids(harness)
    os.kill(stopped, signal.SIGSTOP)
    big = {
        "verifier": "sleepy",
        "response": "x" * (8 * 2**20),
        "reference": {"seconds": 0},
        "options": {"timeout_s": 0.5},
    }
    try:
        [result] = harness.score([big])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stopped, signal.SIGCONT)
    assert result.status == "timeout"
    assert not _alive(stopped)
    [after] = harness.score([echo("42")])
    assert (after.status, after.reward) == ("ok", 1.0)


class _NoFork:
    """A multiprocessing context whose forks fail, as under a pid or memory limit."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def Pipe(self, duplex: bool = True) -> Any:  # multiprocessing's name
        return self.real.Pipe(duplex)

    def Process(self, **kwargs: Any) -> Any:
        process = self.real.Process(**kwargs)

        def start() -> None:
            raise OSError(11, "Resource temporarily unavailable")

        process.start = start
        return process


def test_engine_that_cannot_start_workers_reports_unhealthy_then_heals(verifier_engine) -> None:
    harness = verifier_engine(
        *PROBES, workers=1, watchdog_interval_s=0.1, probe_timeout_s=0.3, heal_timeout_s=0.5
    )
    pool = harness.engine._pool
    real = pool.context
    pool.context = _NoFork(real)
    os.kill(_worker_pids(harness)[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while harness.engine.healthy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not harness.engine.healthy
    assert "could be started" in harness.engine.problem or "probes" in harness.engine.problem
    pool.context = real
    deadline = time.monotonic() + 10
    while not harness.engine.healthy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert harness.engine.healthy
    assert harness.score([echo("42")])[0].reward == 1.0


@pytest.mark.parametrize(
    ("response", "status", "error_part"),
    [
        ("bug", "error", "ZeroDivisionError"),
        ("tool", "error", "tool is missing"),
        ("die", "error", "died"),
    ],
)
def test_checker_failures_are_errors_with_the_lowest_reward(
    verifier_engine, response, status, error_part
) -> None:
    engine = verifier_engine(*PROBES)
    [result, with_fallback] = engine.score(
        [
            {"verifier": "faulty", "response": response},
            {"verifier": "faulty", "response": response, "fallback_reward": 0.25},
        ]
    )
    assert result.status == status and error_part in result.error
    assert result.reward == Faulty.lowest_reward
    assert with_fallback.reward == 0.25
    assert "Traceback" not in result.error


def test_a_malformed_item_keeps_its_fallback_and_its_verifiers_lowest_reward(
    verifier_engine,
) -> None:
    engine = verifier_engine(*PROBES)
    results = engine.score(
        [
            {"verifier": "faulty", "response": "x", "options": "not an object"},
            {"verifier": "faulty", "response": 3, "fallback_reward": 0.25},
            {"verifier": "faulty", "response": 3, "fallback_reward": True},
            {"verifier": "nope", "response": 3},
        ]
    )
    assert [r.status for r in results] == ["invalid"] * 4
    assert [r.reward for r in results] == [Faulty.lowest_reward, 0.25, Faulty.lowest_reward, 0.0]


def test_a_verifier_missing_an_optional_dependency_does_not_stop_the_others(
    verifier_engine,
) -> None:
    class NeedsMissingExtra(Echo):
        name = "needs_extra"

        def warmup(self) -> None:
            import rewardgate_no_such_extra  # noqa: F401

    harness = verifier_engine(NeedsMissingExtra, Echo)
    [result] = harness.score([echo("42")])
    assert (result.status, result.reward) == ("ok", 1.0)


def test_cancelling_a_batch_kills_its_running_items(verifier_engine, tmp_path: Path) -> None:
    harness = verifier_engine(*PROBES)
    pidfile = tmp_path / "pid"
    slow = {
        "verifier": "sleepy",
        "response": "",
        "reference": {"seconds": 60, "pidfile": str(pidfile)},
    }

    async def scenario() -> None:
        task = asyncio.ensure_future(harness.engine.score([slow]))
        while not pidfile.exists() or not pidfile.read_text():
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    harness._loop.run_until_complete(scenario())
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert harness.engine.inflight == 0
    assert harness.score([echo("42")])[0].reward == 1.0


def test_admission_refuses_past_max_inflight(verifier_engine) -> None:
    harness = verifier_engine(*PROBES, max_inflight=3, retry_after_s=2)
    sleepers = [{"verifier": "sleepy", "response": "", "reference": {"seconds": 1}}] * 2

    async def scenario() -> None:
        first = asyncio.ensure_future(harness.engine.score(sleepers))
        await asyncio.sleep(0.1)
        with pytest.raises(Overloaded) as info:
            await harness.engine.score([echo("42"), echo("42")])
        assert info.value.retry_after == 2
        assert len(await first) == 2
        assert len(await harness.engine.score([echo("42")] * 3)) == 3

    harness._loop.run_until_complete(scenario())


def test_ok_results_are_cached_and_failures_are_not(verifier_engine) -> None:
    engine = verifier_engine(*PROBES)
    first = engine.score([echo("42", id="x"), {"verifier": "faulty", "response": "tool"}])
    again = engine.score([echo("42", id="y"), {"verifier": "faulty", "response": "tool"}])
    assert [r.cached for r in first] == [False, False]
    assert [r.cached for r in again] == [True, False]
    assert again[0].id == "y" and again[0].reward == 1.0
    # Equivalent spellings share a key: validated models, not raw JSON, are hashed.
    [spelled] = engine.score([echo("42", options={"timeout_s": 3})])
    assert spelled.cached


def test_uncacheable_verifiers_always_run(verifier_engine) -> None:
    engine = verifier_engine(*PROBES)
    item = {"verifier": "sleepy", "response": "", "reference": {"seconds": 0}}
    assert [r.cached for r in engine.score([item]) + engine.score([item])] == [False, False]


def test_sqlite_cache_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    for expected_cached in (False, True):
        harness = start_engine(*PROBES, cache=SqliteCache(path, 100))
        try:
            [result] = harness.score([echo("42")])
            assert result.cached is expected_cached and result.reward == 1.0
        finally:
            harness.close()


def test_sqlite_cache_evicts_least_recently_used(tmp_path: Path) -> None:
    from rewardgate.verifiers import RewardResult

    cache = SqliteCache(tmp_path / "c.sqlite", max_entries=10)
    result = RewardResult(verifier="echo", reward=1.0, status="ok")
    for i in range(30):
        cache.put(f"k{i}", result)
    assert cache.get("k29") is not None
    assert cache.get("k0") is None
    count = cache._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert count <= 11


def test_stream_yields_every_index_once(verifier_engine) -> None:
    harness = verifier_engine(*PROBES, workers=2)
    items = [echo(str(i), answer="3") for i in range(6)]

    async def collect():
        return [pair async for pair in harness.engine.stream(items)]

    pairs = harness._loop.run_until_complete(collect())
    assert sorted(i for i, _ in pairs) == list(range(6))
    assert {i: r.reward for i, r in pairs}[3] == 1.0


def test_registry_rejects_duplicate_names() -> None:
    from rewardgate.verifiers import ConfigurationError

    class Twin(Echo):
        pass

    with pytest.raises(ConfigurationError, match="claimed by both"):
        Registry([Echo, Twin])


def test_engine_start_is_idempotent_and_close_stops_workers() -> None:
    engine = Engine(Registry([Sleepy]), workers=1)
    engine.start()
    engine.start()
    assert engine.running
    engine.close()
    assert not engine.running


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child not yet reaped is a zombie: dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
