"""A real `rewardgate serve` process: draining on SIGTERM, disconnects, logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import httpx

from tests.service.test_engine import _alive, echo


def sleepy(seconds: float, pidfile: Path | None = None) -> dict[str, object]:
    reference: dict[str, object] = {"seconds": seconds}
    if pidfile is not None:
        reference["pidfile"] = str(pidfile)
    return {"verifier": "sleepy", "response": "", "reference": reference}


def test_sigterm_drains_in_flight_requests(live_server) -> None:
    server = live_server(workers=1)
    outcome: dict[str, object] = {}

    def long_request() -> None:
        response = httpx.post(f"{server.url}/v1/rewards", json={"items": [sleepy(2)]}, timeout=30)
        outcome["status"] = response.status_code
        outcome["body"] = response.json()

    thread = threading.Thread(target=long_request)
    thread.start()
    time.sleep(0.7)
    server.process.send_signal(signal.SIGTERM)
    thread.join(timeout=30)
    assert outcome.get("status") == 200, server.logs()
    assert outcome["body"]["results"][0]["status"] == "ok"
    # uvicorn re-raises the SIGTERM it caught once shutdown is complete.
    assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Finished server process" in server.logs()
    # Drained means closed to new work too.
    try:
        httpx.get(f"{server.url}/healthz", timeout=2)
        raise AssertionError("server still accepts connections after SIGTERM")
    except httpx.TransportError:
        pass


def test_disconnected_client_cancels_its_items(live_server, tmp_path: Path) -> None:
    server = live_server(workers=1)
    pidfile = tmp_path / "pid"
    body = json.dumps({"items": [sleepy(60, pidfile)]}).encode()
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /v1/rewards HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
    worker = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the abandoned item's worker is still running"
    # With its only worker freed, the server answers at once.
    response = httpx.post(f"{server.url}/v1/rewards", json={"items": [echo("42")]}, timeout=10)
    assert response.json()["results"][0]["reward"] == 1.0


def test_logs_are_json_with_request_and_item_ids(live_server) -> None:
    server = live_server()
    httpx.post(
        f"{server.url}/v1/rewards",
        json={"items": [echo("42"), {"verifier": "nope", "response": "", "id": "item-7"}]},
        headers={"x-request-id": "req-abc"},
        timeout=10,
    )
    time.sleep(0.2)
    entries = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    mine = [e for e in entries if e.get("request_id") == "req-abc"]
    assert any(e.get("item_id") == "item-7" and e["level"] == "warning" for e in mine), mine
    assert any(e.get("status") == 200 and "ms" in e for e in mine), mine


def test_worker_killed_twice_mid_item_fails_only_that_item(live_server, tmp_path: Path) -> None:
    """A worker death costs one more try of the item; a second death makes it `error`."""
    server = live_server(workers=2)
    pidfile = tmp_path / "pid"
    outcome: dict[str, object] = {}

    def batch() -> None:
        items = [sleepy(30, pidfile), echo("42"), echo("0")]
        outcome["body"] = httpx.post(
            f"{server.url}/v1/rewards", json={"items": items}, timeout=60
        ).json()

    thread = threading.Thread(target=batch)
    thread.start()
    killed: list[int] = []
    deadline = time.monotonic() + 20
    while len(killed) < 2 and time.monotonic() < deadline:
        text = pidfile.read_text() if pidfile.exists() else ""
        if text and int(text) not in killed:
            killed.append(int(text))
            os.kill(killed[-1], signal.SIGKILL)
        time.sleep(0.02)
    thread.join(timeout=30)
    results = outcome["body"]["results"]  # type: ignore[index]
    assert results[0]["status"] == "error" and "died twice" in results[0]["error"]
    assert [r["reward"] for r in results[1:]] == [1.0, 0.0]
    again = httpx.post(f"{server.url}/v1/rewards", json={"items": [echo("42")] * 4}, timeout=10)
    assert [r["status"] for r in again.json()["results"]] == ["ok"] * 4
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
