"""Helpers of the fault table and the load test: known verdicts, retrying clients, workers.

Every item has a known verdict (the `echo` probe rewards 1 when the response equals
the answer), a unique id and a unique response (so no item is a cache hit of another),
so a test can check that each one came back exactly once with the right reward.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import LiveServer, serving

RETRIABLE = {429, 503}


def known_items(prefix: str, n: int, sleep_every: int = 0) -> list[dict[str, Any]]:
    """`n` echo items, a third of them wrong; every `sleep_every`-th a short sleepy one."""
    items: list[dict[str, Any]] = []
    for i in range(n):
        item_id = f"{prefix}-{i}"
        if sleep_every and i % sleep_every == sleep_every - 1:
            items.append(
                {
                    "verifier": "sleepy",
                    "response": item_id,
                    "reference": {"seconds": 0.05},
                    "id": item_id,
                }
            )
        else:
            answer = item_id if i % 3 else "wrong"
            items.append(
                {
                    "verifier": "echo",
                    "response": item_id,
                    "reference": {"answer": answer},
                    "id": item_id,
                }
            )
    return items


def expected_reward(item: dict[str, Any]) -> float:
    if item["verifier"] == "sleepy":
        return 1.0
    return float(item["response"] == item["reference"]["answer"])


def check_results(items: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
    """Each item once, in order, `ok`, with its known reward."""
    assert [r["id"] for r in results] == [i["id"] for i in items]
    wrong = [
        (item["id"], result["status"], result["reward"], result.get("error"))
        for item, result in zip(items, results, strict=True)
        if result["status"] != "ok" or result["reward"] != expected_reward(item)
    ]
    assert not wrong, wrong[:5]


def score(
    url: str,
    items: list[dict[str, Any]],
    *,
    stream: bool = False,
    retry_for: float = 60.0,
    retry_transport: bool = False,
    client: httpx.Client | None = None,
) -> list[dict[str, Any]]:
    """Score through HTTP as a well-behaved client does: 429/503 are retried after
    `Retry-After` (and dropped connections when `retry_transport`); any other answer
    but 200 fails the test."""
    deadline = time.monotonic() + retry_for
    http = client or httpx.Client(timeout=120)
    try:
        while True:
            try:
                if stream:
                    with http.stream(
                        "POST",
                        f"{url}/v1/rewards",
                        json={"items": items},
                        headers={"accept": "application/x-ndjson"},
                    ) as response:
                        if response.status_code not in RETRIABLE:
                            assert response.status_code == 200, response.read()
                            lines = [json.loads(line) for line in response.iter_lines() if line]
                            by_index = {line.pop("index"): line for line in lines}
                            assert len(by_index) == len(lines) == len(items), "stream cut short"
                            return [by_index[i] for i in range(len(items))]
                        wait = float(response.headers.get("retry-after", "0.5"))
                else:
                    response = http.post(f"{url}/v1/rewards", json={"items": items})
                    if response.status_code not in RETRIABLE:
                        assert response.status_code == 200, response.text
                        results: list[dict[str, Any]] = response.json()["results"]
                        return results
                    wait = float(response.headers.get("retry-after", "0.5"))
            except httpx.TransportError:
                if not retry_transport:
                    raise
                wait = 0.2
            if time.monotonic() + wait > deadline:
                raise AssertionError(f"not scored within {retry_for} s")
            time.sleep(wait)
    finally:
        if client is None:
            http.close()


def workers_of(server: LiveServer) -> list[int]:
    """Pids of the server's live worker processes (its direct children, zombies left out)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == server.process.pid and fields[0] != "Z":
            pids.append(int(entry.name))
    return sorted(pids)


def kill(pid: int, sig: int = signal.SIGKILL) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def metric(server: LiveServer, name: str) -> float:
    """Sum of a Prometheus series over its labels."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", line)
        if match:
            total += float(match.group(1))
    return total


def healthz(server: LiveServer) -> int:
    return httpx.get(f"{server.url}/healthz", timeout=10).status_code


class Load:
    """`clients` threads scoring known batches until stopped; every result is checked."""

    def __init__(
        self,
        url: str,
        clients: int,
        batch: int,
        *,
        sleep_every: int = 0,
        retry_transport: bool = False,
    ) -> None:
        self.url = url
        self.batch = batch
        self.sleep_every = sleep_every
        self.retry_transport = retry_transport
        self.stop = threading.Event()
        self.items = 0
        self.failures: list[BaseException] = []
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(c,), daemon=True) for c in range(clients)
        ]

    def _run(self, client: int) -> None:
        with httpx.Client(timeout=120) as http:
            round_ = 0
            while not self.stop.is_set():
                items = known_items(f"c{client}-r{round_}", self.batch, self.sleep_every)
                try:
                    results = score(
                        self.url,
                        items,
                        stream=round_ % 2 == 1,
                        retry_transport=self.retry_transport,
                        client=http,
                    )
                    check_results(items, results)
                except BaseException as exc:
                    with self._lock:
                        self.failures.append(exc)
                    return
                with self._lock:
                    self.items += len(items)
                round_ += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def check(self) -> None:
        assert not any(t.is_alive() for t in self.threads), "a client is hung"
        assert not self.failures, self.failures[:3]
        assert self.items > 0


@contextmanager
def serve(folder: Path, **overrides: Any) -> Iterator[LiveServer]:
    """A real server process (the probe verifiers added; two workers unless told),
    stopped on exit: `tests.conftest.serving` with the fault tests' default."""
    overrides.setdefault("workers", 2)
    with serving(folder, **overrides) as server:
        yield server
