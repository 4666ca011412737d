"""The fault table (issue 17) against a real server process, under load.

Each fault: nothing lost, nothing scored twice, every result right, the server serving
afterwards without a restart, and `/healthz` failing only while it truly cannot serve.
The kill faults share one server (module scope), which is the point: it keeps serving
through all of them. SIGTERM and the full cache disk get servers of their own.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.service.faults import (
    Load,
    check_results,
    healthz,
    kill,
    known_items,
    metric,
    score,
    serve,
    workers_of,
)

WORKERS = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve(tmp_path_factory.mktemp("faults"), workers=WORKERS) as live:
        yield live


def wait_for_workers(server: LiveServer, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(workers := workers_of(server)) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.05)
    return workers


def assert_serving(server: LiveServer) -> None:
    items = known_items(f"after-{time.monotonic_ns()}", 24)
    check_results(items, score(server.url, items, retry_for=30))
    check_results(items[:5], score(server.url, items[:5], stream=True, retry_for=30))
    assert healthz(server) == 200
    assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200


def test_idle_workers_killed_then_every_request_scores(server: LiveServer) -> None:
    """Defect 1: after an idle worker died every JSON request got 500 until a restart."""
    assert_serving(server)
    idle = wait_for_workers(server)
    assert len(idle) == WORKERS
    for pid in idle:
        assert kill(pid)
    time.sleep(0.5)  # the kill has landed; nothing has noticed yet
    items = known_items("idle", 30)
    check_results(items, score(server.url, items, retry_for=0))
    streamed = known_items("idle-stream", 10)
    check_results(streamed, score(server.url, streamed, stream=True, retry_for=0))
    assert not set(workers_of(server)) & set(idle)
    assert_serving(server)


def test_busy_workers_killed_mid_load(server: LiveServer) -> None:
    retried = metric(server, "rewardgate_item_retries_total")
    kills = 0
    with Load(server.url, clients=6, batch=20, sleep_every=5) as load:
        time.sleep(1.0)
        for _ in range(6):
            if kill(random.choice(wait_for_workers(server))):
                kills += 1
            time.sleep(0.4)
        time.sleep(1.0)
    load.check()
    assert kills == 6
    assert metric(server, "rewardgate_item_retries_total") > retried
    assert_serving(server)


@pytest.mark.slow
def test_kill_storm_30_kills_in_20_s(server: LiveServer) -> None:
    """Defect 2: one kill at the wrong instant wedged pebble's pool for good."""
    rng = random.Random(30)
    kills = 0
    with Load(server.url, clients=6, batch=16, sleep_every=4) as load:
        end = time.monotonic() + 20
        while kills < 30 and time.monotonic() < end:
            workers = workers_of(server)
            if workers and kill(rng.choice(workers)):
                kills += 1
            time.sleep(rng.uniform(0.3, 0.9))
    load.check()
    assert kills >= 25
    assert_serving(server)


@pytest.mark.slow
def test_a_worker_stopped_for_10_s(server: LiveServer) -> None:
    stopped = wait_for_workers(server)[0]
    health: list[int] = []
    with Load(server.url, clients=4, batch=12) as load:
        time.sleep(0.5)
        kill(stopped, signal.SIGSTOP)
        try:
            end = time.monotonic() + 10
            while time.monotonic() < end:
                health.append(healthz(server))
                time.sleep(0.5)
        finally:
            kill(stopped, signal.SIGCONT)
        time.sleep(1.0)
    load.check()
    # The other worker served all along, so the process was never beyond healing.
    assert set(health) == {200}
    assert_serving(server)


def test_sigterm_mid_load_finishes_in_flight_requests(tmp_path: Path) -> None:
    outcomes: list[tuple[str, object]] = []

    def client(n: int) -> None:
        items = known_items(f"term-{n}", 16, sleep_every=2)
        try:
            response = httpx.post(f"{live.url}/v1/rewards", json={"items": items}, timeout=60)
        except httpx.TransportError as exc:  # refused once the listener closed: retriable
            outcomes.append(("transport", exc))
            return
        if response.status_code == 200:
            check_results(items, response.json()["results"])
            outcomes.append(("ok", None))
        else:
            outcomes.append((str(response.status_code), response.headers.get("retry-after")))

    with serve(tmp_path, workers=WORKERS) as live:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
        for thread in threads[:8]:
            thread.start()
        deadline = time.monotonic() + 30
        while metric(live, "rewardgate_queue_depth") < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        live.process.send_signal(signal.SIGTERM)
        for thread in threads[8:]:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        assert live.process.wait(timeout=60) in (0, -signal.SIGTERM)
    kinds = [kind for kind, _ in outcomes]
    assert len(outcomes) == 12
    assert "ok" in kinds, outcomes
    # Nothing else: no 500, no wrong or missing result; a 503 says when to retry.
    assert set(kinds) <= {"ok", "transport", "503"}, outcomes
    assert all(after for kind, after in outcomes if kind == "503")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root); unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.fail("mount(8) is missing")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (run as root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_cache_disk_fails_no_item(tmp_path: Path, small_disk: Path) -> None:
    """Defect 3: `database or disk is full` failed whole batches, cache hits included."""
    with serve(tmp_path, workers=WORKERS, cache_path=small_disk / "cache.sqlite") as server:
        warm = known_items("warm", 20)
        check_results(warm, score(server.url, warm))
        # Fill the disk to the last byte.
        filler = small_disk / "filler"
        with filler.open("wb", buffering=0) as out:
            try:
                while True:
                    out.write(b"\0" * 512)
            except OSError:
                pass
        big = [
            {**item, "response": item["response"] + "x" * 4000} for item in known_items("big", 60)
        ]
        for item in big:
            item["reference"]["answer"] = (
                item["response"] if item["reference"]["answer"] != "wrong" else "wrong"
            )
        check_results(big, score(server.url, big, retry_for=0))
        # Hits need no write: the warm verdicts still come from the cache.
        hits = score(server.url, warm, retry_for=0)
        check_results(warm, hits)
        assert all(r["cached"] for r in hits)
        assert metric(server, "rewardgate_cache_errors_total") > 0
        assert healthz(server) == 200
        filler.unlink()
        again = known_items("freed", 10)
        check_results(again, score(server.url, again, retry_for=0))


def test_healthz_fails_only_while_the_engine_cannot_heal(make_client) -> None:
    """A pool that cannot start a worker for `heal_timeout_s` is beyond healing: 503, so
    an orchestrator restarts the process; once it can again, 200 without a restart."""
    from tests.service.test_engine import _NoFork

    client = make_client(workers=1)
    engine = client.app.state.engine
    engine._watchdog.interval_s = 0.1
    engine._watchdog.heal_timeout_s = 0.5
    assert client.get("/healthz").status_code == 200
    pool = engine._pool
    real = pool.context
    pool.context = _NoFork(real)
    try:
        kill(pool.slots[0].pid)
        deadline = time.monotonic() + 15
        while client.get("/healthz").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        unhealthy = client.get("/healthz")
        assert unhealthy.status_code == 503
        assert unhealthy.json()["error"]["code"] == "unhealthy"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["pool"]["state"] == "failing"
    finally:
        pool.context = real
    deadline = time.monotonic() + 15
    while client.get("/healthz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz").json()
    assert ready["ready"] and ready["pool"]["alive"] == 1 and ready["pool"]["workers_lost"] >= 1
    response = client.post(
        "/v1/rewards",
        json={"items": [{"verifier": "echo", "response": "1", "reference": {"answer": "1"}}]},
    )
    assert response.json()["results"][0]["reward"] == 1.0
