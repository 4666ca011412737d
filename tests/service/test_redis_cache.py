"""The shared (Redis) result cache against a real redis-server on 127.0.0.1.

Two engines with their own in-memory caches stand in for two replicas: what one
judged the other serves from Redis, the look-ups of a request go out as one MGET,
and a Redis that is gone, refuses the password or holds garbage costs no item.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from rewardgate.service.cache import MemoryCache, make_cache
from rewardgate.service.engine import Engine
from rewardgate.service.metrics import Metrics
from rewardgate.service.redis_cache import RedisOptions, SharedCache, redis_options
from rewardgate.service.settings import Settings
from rewardgate.testing import EngineHarness, start_engine
from tests.conftest import free_port
from tests.service.probes import PROBES
from tests.service.test_engine import echo


@dataclass
class RedisServer:
    port: int
    folder: Path
    password: str | None
    process: subprocess.Popen[bytes] | None = None
    tls: Path | None = None  # a folder with ca.pem, server.pem/key, client.pem/key

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.tls is None:
            args = ["redis-server", "--port", str(self.port)]
        else:
            args = ["redis-server", "--port", "0", "--tls-port", str(self.port)]
            args += ["--tls-cert-file", str(self.tls / "server.pem")]
            args += ["--tls-key-file", str(self.tls / "server.key")]
            args += ["--tls-ca-cert-file", str(self.tls / "ca.pem")]
            args += ["--tls-auth-clients", "yes"]
        args += ["--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        if self.password:
            args += ["--requirepass", self.password]
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        if self.tls is None:
            return redis.Redis(
                "127.0.0.1", port=self.port, password=self.password, socket_timeout=2
            )
        return redis.Redis(
            "127.0.0.1",
            port=self.port,
            password=self.password,
            socket_timeout=2,
            ssl=True,
            ssl_ca_certs=str(self.tls / "ca.pem"),
            ssl_certfile=str(self.tls / "client.pem"),
            ssl_keyfile=str(self.tls / "client.key"),
        )

    def calls(self, command: str) -> int:
        stats = self.client().info("commandstats")
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def start_redis(folder: Path, password: str | None = None, tls: Path | None = None) -> RedisServer:
    folder.mkdir(parents=True, exist_ok=True)
    server = RedisServer(free_port(), folder, password, tls=tls)
    server.start()
    return server


def make_certificates(folder: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (openssl)."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=rewardgate test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    for name, extra in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "")):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
        )
        (folder / f"{name}.ext").write_text(extra + "\n")
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.pem",
        )
    return folder


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


def replica(server: RedisServer, **options: object) -> tuple[EngineHarness, SharedCache]:
    """An engine whose first level is its own memory and whose second is `server`."""
    metrics = Metrics()
    settings = {"url": server.url, "timeout_s": 0.5, "retry_s": 0.3, **options}
    cache = SharedCache(
        MemoryCache(10_000),
        RedisOptions(**settings),
        lambda operation: metrics.shared_cache_errors.labels(operation).inc(),
    )
    return start_engine(*PROBES, cache=cache, metrics=metrics), cache


def drained(harness: EngineHarness, cache: SharedCache) -> None:
    harness._loop.run_until_complete(cache.drain())


def errors(harness: EngineHarness, operation: str) -> float:
    return harness.engine.metrics.shared_cache_errors.labels(operation)._value.get()


def items(n: int, prefix: str = "r") -> list[dict[str, object]]:
    return [echo(str(i), answer=str(i % 3), id=f"{prefix}{i}") for i in range(n)]


def test_what_one_replica_judged_another_serves_in_one_mget(redis_server: RedisServer) -> None:
    a, cache_a = replica(redis_server)
    b, cache_b = replica(redis_server)
    try:
        first = a.score(items(50))
        assert [r.cached for r in first] == [False] * 50
        drained(a, cache_a)
        assert redis_server.calls("set") == 50
        before = redis_server.calls("mget")
        second = b.score(items(50, prefix="s"))
        assert redis_server.calls("mget") == before + 1  # one round trip for the request
        assert [r.cached for r in second] == [True] * 50
        assert [(r.id, r.reward) for r in second] == [
            (f"s{i}", float(str(i) == str(i % 3))) for i in range(50)
        ]
        assert cache_b.hits == 50
        # Now in b's first level: a third pass does not ask Redis at all.
        b.score(items(50))
        assert redis_server.calls("mget") == before + 1
    finally:
        a.close()
        b.close()


def test_entries_carry_the_ttl_and_the_prefix(redis_server: RedisServer) -> None:
    a, cache = replica(redis_server, ttl_s=120, prefix="rg-test:")
    try:
        a.score([echo("42")])
        drained(a, cache)
        [key] = redis_server.client().keys("*")
        assert key.startswith(b"rg-test:")
        assert 0 < redis_server.client().ttl(key) <= 120
    finally:
        a.close()


def test_redis_gone_mid_run_fails_no_item_and_comes_back(redis_server: RedisServer) -> None:
    a, cache = replica(redis_server)
    try:
        a.score(items(10))
        drained(a, cache)
        redis_server.stop()
        results = a.score(items(20, prefix="x"))  # 10 first-level hits, 10 to judge
        assert [r.status for r in results] == ["ok"] * 20
        assert [r.cached for r in results] == [True] * 10 + [False] * 10
        assert errors(a, "get") >= 1
        failures = errors(a, "get") + errors(a, "put")
        # Backed off: a second request during the outage does not wait on Redis again.
        assert [r.status for r in a.score(items(30, prefix="y"))] == ["ok"] * 30
        assert errors(a, "get") + errors(a, "put") == failures
        assert b"rewardgate_shared_cache_errors_total" in a.engine.metrics.render()

        redis_server.start()  # same port: the replica finds it again after retry_s
        time.sleep(0.4)
        a.score([echo("fresh", id="f")])
        drained(a, cache)
        assert redis_server.client().dbsize() == 1
    finally:
        a.close()


def test_a_wrong_password_is_counted_and_scores_without_it(tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis", password="s3cret-redis-password")
    wrong, _ = replica(server, password="not-it")
    right, right_cache = replica(server, password="s3cret-redis-password")
    try:
        assert [r.status for r in wrong.score(items(5))] == ["ok"] * 5
        assert errors(wrong, "get") == 1
        right.score(items(5))
        drained(right, right_cache)
        assert server.client().dbsize() == 5
    finally:
        wrong.close()
        right.close()
        server.stop()


def test_tls_with_a_client_certificate(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    server = start_redis(tmp_path / "redis", tls=certs)
    tls = {"tls_ca_file": certs / "ca.pem"}
    mutual = {**tls, "tls_cert_file": certs / "client.pem", "tls_key_file": certs / "client.key"}
    anonymous, _ = replica(server, **tls)  # the server asks for a client certificate
    a, cache_a = replica(server, **mutual)
    b, _ = replica(server, **mutual)
    try:
        assert server.url.startswith("rediss://")
        assert [r.status for r in anonymous.score(items(5))] == ["ok"] * 5
        assert errors(anonymous, "get") == 1
        a.score(items(5))
        drained(a, cache_a)
        assert [r.cached for r in b.score(items(5))] == [True] * 5
        assert errors(a, "get") + errors(b, "get") == 0
    finally:
        anonymous.close()
        a.close()
        b.close()
        server.stop()


def test_an_unreadable_entry_is_a_counted_miss(redis_server: RedisServer) -> None:
    a, cache = replica(redis_server)
    b, cache_b = replica(redis_server)
    try:
        a.score([echo("42")])
        drained(a, cache)
        [key] = redis_server.client().keys("*")
        redis_server.client().set(key, b"{not a verdict")
        [result] = b.score([echo("42")])
        drained(b, cache_b)  # b's verdict overwrites the garbage
        assert redis_server.client().get(key) != b"{not a verdict"
        assert (result.status, result.reward, result.cached) == ("ok", 1.0, False)
        assert errors(b, "decode") == 1
    finally:
        a.close()
        b.close()


def test_the_settings_build_a_shared_cache(redis_server: RedisServer) -> None:
    settings = Settings(redis_url=redis_server.url, redis_password="pw", redis_ttl_s=60)
    options = redis_options(settings)
    assert options is not None and (options.url, options.ttl_s) == (redis_server.url, 60)
    assert options.password == "pw"
    assert redis_options(Settings()) is None
    assert isinstance(make_cache(10, None, 0, options), SharedCache)
    assert isinstance(make_cache(10, None, 0, None), MemoryCache)
    engine = Engine.from_settings(Settings(redis_url=redis_server.url), _registry())
    assert isinstance(engine.cache, SharedCache)
    engine.close()


def _registry():  # type: ignore[no-untyped-def]
    from rewardgate.verifiers.registry import Registry

    return Registry(PROBES)


def test_per_verifier_load_is_exposed_for_autoscaling(redis_server: RedisServer) -> None:
    a, _ = replica(redis_server)
    try:
        sleepers = [
            {"verifier": "sleepy", "response": "", "reference": {"seconds": 0.3}} for _ in range(3)
        ]

        async def scrape_while_busy() -> bytes:
            task = asyncio.ensure_future(a.engine.score(sleepers))
            await asyncio.sleep(0.15)
            text = a.engine.metrics.render()
            await task
            return text

        text = a._loop.run_until_complete(scrape_while_busy())
        assert b'rewardgate_verifier_inflight{verifier="sleepy"} 3.0' in text
        assert b'rewardgate_verifier_queued{verifier="sleepy"} 2.0' in text  # one worker
        after = a.engine.metrics.render()
        assert b'rewardgate_verifier_inflight{verifier="sleepy"} 0.0' in after
    finally:
        a.close()
