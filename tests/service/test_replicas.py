"""Two gateway replicas behind nginx with Redis and a shared asset store, for real.

Everything runs on 127.0.0.1 in the test's tmp dir: redis-server, two `rewardgate
serve` processes (with the probe verifiers) sharing one asset folder and one Redis,
and nginx running deploy/nginx/nginx.conf, the shipped file, with only its upstream
and port rewritten. The client is the public `RewardClient` pointed at nginx.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rewardgate.clients import Retry, RewardClient
from tests.conftest import ROOT, LiveServer, free_port
from tests.service.live import start_server, stop_server
from tests.service.test_engine import echo
from tests.service.test_redis_cache import RedisServer, start_redis

pytestmark = [
    pytest.mark.slow,
    # One worker runs the module, so its tests share one cluster.
    pytest.mark.xdist_group("replicas"),
]

NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"


def nginx_conf(folder: Path, port: int, upstreams: list[str]) -> Path:
    """The shipped nginx.conf pointed at `upstreams` and listening on `port`."""
    text = NGINX_CONF.read_text()
    servers = "".join(f"server {u} max_fails=1 fail_timeout=5s;\n        " for u in upstreams)
    text, n = re.subn(r"server gateway:8000[^;]*;\n\s*", servers, text)
    assert n == 1, "deploy/nginx/nginx.conf has no `server gateway:8000` upstream line"
    text, n = re.subn(r"listen 8080;", f"listen 127.0.0.1:{port};", text)
    assert n == 1
    text = text.replace("pid /tmp/nginx.pid;", f"pid {folder}/nginx.pid;")
    temps = "".join(
        f"    {name}_temp_path {folder}/{name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temps, 1)
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


REPLICA_SETTINGS = {"workers": 2, "redis_retry_s": 1}


@dataclass
class Cluster:
    url: str
    replicas: list[LiveServer]
    redis: RedisServer
    nginx: subprocess.Popen[bytes]
    folder: Path

    def replica_settings(self) -> dict[str, object]:
        return {
            **REPLICA_SETTINGS,
            "asset_dir": self.folder / "shared-assets",
            "redis_url": self.redis.url,
        }

    def heal(self) -> None:
        """Bring back what an earlier test stopped, on the same ports, and empty Redis."""
        if self.redis.process is None or self.redis.process.poll() is not None:
            self.redis.start()
            time.sleep(REPLICA_SETTINGS["redis_retry_s"] + 0.2)  # the replicas' back-off
        for n, replica in enumerate(self.replicas):
            if replica.process.poll() is not None:
                port = int(replica.url.rsplit(":", 1)[1])
                folder = self.folder / f"replica{n}"
                self.replicas[n] = start_server(folder, port, **self.replica_settings())
        self.redis.client().flushall()


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the module (starting replicas is most of the cost); each test
    gets it healed by `cluster`."""
    folder = tmp_path_factory.mktemp("replicas")
    redis = start_redis(folder / "redis")
    replicas: list[LiveServer] = []
    nginx: subprocess.Popen[bytes] | None = None
    cluster: Cluster | None = None
    try:
        settings = {
            **REPLICA_SETTINGS,
            "asset_dir": folder / "shared-assets",
            "redis_url": redis.url,
        }
        for n in range(2):
            replicas.append(start_server(folder / f"replica{n}", **settings))
        port = free_port()
        (folder / "nginx").mkdir()
        conf = nginx_conf(folder / "nginx", port, [r.url.removeprefix("http://") for r in replicas])
        nginx = subprocess.Popen(
            ["nginx", "-p", str(folder / "nginx"), "-c", str(conf), "-g", "daemon off;"],
            stdout=(folder / "nginx" / "nginx.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert nginx.poll() is None, (folder / "nginx" / "nginx.log").read_text()
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.1)
        cluster = Cluster(url, replicas, redis, nginx, folder)
        yield cluster
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        for replica in cluster.replicas if cluster is not None else replicas:
            stop_server(replica)
        redis.stop()


@pytest.fixture
def cluster(started: Cluster) -> Cluster:
    started.heal()
    return started


def sample(url: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples on one replica that carry `labels`."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def rewards(url: str) -> RewardClient:
    return RewardClient(url, batch_size=10, concurrency=4, retry=Retry(backoff_s=0.05))


def test_an_asset_uploaded_once_is_usable_through_every_replica(cluster: Cluster) -> None:
    content = b"a file the verifiers read\n" * 1000
    with rewards(cluster.url) as client:
        ref = client.upload_asset(content)
    sha = ref.removeprefix("asset:")
    for replica in cluster.replicas:
        answer = httpx.get(f"{replica.url}/v1/assets/{sha}", timeout=10)
        assert (answer.status_code, answer.content) == (200, content)


def test_a_second_pass_is_served_from_the_shared_cache(cluster: Cluster) -> None:
    def batch(tag: str) -> list[dict[str, object]]:
        return [echo(str(i % 7), answer="3", id=f"{tag}{i}") for i in range(7, 307)]

    with rewards(cluster.url) as client:
        first = client.score_batch(batch("a"))
        assert {r.status for r in first} == {"ok"}
        time.sleep(0.5)  # the replicas write Redis just after answering
        second = client.score_batch(batch("b"))
    assert [r.id for r in second] == [f"b{i}" for i in range(7, 307)]
    assert [r.reward for r in second] == [r.reward for r in first]
    # Only 7 distinct items, so most of the first pass hit too; the second pass must hit
    # for every item, whichever replica it landed on.
    assert all(r.cached for r in second)
    assert cluster.redis.client().dbsize() == 7
    for replica in cluster.replicas:
        assert sample(replica.url, "rewardgate_items_total", verifier="echo") > 0


def test_redis_stopped_mid_load_degrades_to_no_shared_cache(cluster: Cluster) -> None:
    items = [echo(str(i), answer="5", id=f"r{i}") for i in range(1000)]

    def echoed() -> float:
        return sum(
            sample(r.url, "rewardgate_items_total", verifier="echo") for r in cluster.replicas
        )

    before = echoed()

    def stop_when_busy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if echoed() - before >= 100:
                break
            time.sleep(0.02)
        cluster.redis.stop()

    stopper = threading.Thread(target=stop_when_busy)
    stopper.start()
    with rewards(cluster.url) as client:
        results = client.score_batch(items)
        stopper.join()
        # Items no replica has seen: whichever replica takes them must ask Redis (the
        # load above may have finished before Redis stopped, all of it cached locally).
        after = client.score_batch([echo(f"late {i}", answer="5", id=f"l{i}") for i in range(20)])
    assert [r.id for r in results] == [f"r{i}" for i in range(1000)]
    assert {r.status for r in results} == {"ok"}
    assert [r.reward for r in results] == [float(i == 5) for i in range(1000)]
    assert {r.status for r in after} == {"ok"}
    assert [r.reward for r in after] == [0.0] * 20
    errors = sum(sample(r.url, "rewardgate_shared_cache_errors_total") for r in cluster.replicas)
    assert errors >= 1


# Last in the module: the next test (if any) pays for restarting the victim.
def test_a_replica_killed_mid_load_loses_no_item_and_scores_none_twice(cluster: Cluster) -> None:
    items = [
        {"verifier": "sleepy", "response": str(i), "reference": {"seconds": 0.02}, "id": f"s{i}"}
        for i in range(400)
    ]
    victim = cluster.replicas[0]

    def kill_when_busy() -> None:
        # Once the victim has judged some items, SIGKILL it (its workers too).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if sample(victim.url, "rewardgate_items_total", verifier="sleepy") >= 20:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        stop_server(victim, signal.SIGKILL)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    with rewards(cluster.url) as client:
        results = client.score_batch(items)
    killer.join()
    assert victim.process.poll() is not None, "the victim was not killed mid-load"
    assert [r.id for r in results] == [f"s{i}" for i in range(400)]
    assert {r.status for r in results} == {"ok"}
    survivor = sample(cluster.replicas[1].url, "rewardgate_items_total", verifier="sleepy")
    assert survivor < 400, "the victim scored nothing before it died"
