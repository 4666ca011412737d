"""`/readyz` probes every verifier's tools off the event loop, bounded and refreshed.

A verifier here reports whatever the test sets: healthy, broken, raising or hanging.
The real app and engine serve it; the probes run in their real threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rewardgate.service.app import create_app
from rewardgate.service.settings import Settings
from rewardgate.verifiers import Registry, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.base import NoReference

# What the next health probe does; reset by the `client` fixture.
STATE: dict[str, Any] = {}
RELEASE = threading.Event()


class Switchable(Verifier[NoReference, VerifierOptions]):
    """Its one tool is as healthy as STATE["mode"] says."""

    name = "switch"
    version = "1"

    def health(self) -> dict[str, str]:
        STATE["calls"] += 1
        mode = STATE["mode"]
        if mode == "hang":
            RELEASE.wait(60)
            mode = STATE["mode"]
        if mode == "raise":
            raise OSError("the daemon's socket is gone")
        return {"tool": "ok" if mode == "ok" else "broken: the daemon went away"}

    def judge(self, response: str, reference: NoReference, options: VerifierOptions) -> Verdict:
        return Verdict(reward=1.0)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    STATE.clear()
    STATE.update(mode="ok", calls=0)
    RELEASE.clear()
    settings = Settings(workers=1, asset_dir=tmp_path / "assets")
    app = create_app(settings, Registry([Switchable]))
    # Generous: a healthy probe must never be mistaken for a hung one on a loaded machine.
    app.state.engine.health.timeout_s = 60.0
    app.state.engine.health.refresh_s = 0.0
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    RELEASE.set()


def readyz(client: TestClient) -> dict[str, Any]:
    response = client.get("/readyz")
    assert response.status_code == 200, "a broken tool degrades its verifier, not the replica"
    body: dict[str, Any] = response.json()
    return body


def test_a_backend_that_breaks_after_start_is_reported_and_comes_back(client: TestClient) -> None:
    assert readyz(client)["checks"]["switch.tool"] == "ok"
    STATE["mode"] = "broken"
    broken = readyz(client)
    assert broken["checks"]["switch.tool"] == "broken: the daemon went away"
    assert broken["degraded"] == ["switch.tool"] and broken["ready"] is True
    STATE["mode"] = "ok"
    healed = readyz(client)
    assert healed["checks"]["switch.tool"] == "ok" and healed["degraded"] == []


def test_answers_are_reused_until_older_than_refresh_s(client: TestClient) -> None:
    client.app.state.engine.health.refresh_s = 3600.0  # type: ignore[attr-defined]
    assert readyz(client)["checks"]["switch.tool"] == "ok"
    STATE["mode"] = "broken"
    assert readyz(client)["checks"]["switch.tool"] == "ok"
    assert STATE["calls"] == 1
    client.app.state.engine.health.refresh_s = 0.0  # type: ignore[attr-defined]
    assert readyz(client)["checks"]["switch.tool"].startswith("broken")
    assert STATE["calls"] == 2


def test_a_probe_that_raises_is_a_broken_tool_not_a_failed_endpoint(client: TestClient) -> None:
    STATE["mode"] = "raise"
    body = readyz(client)
    assert body["degraded"] == ["switch.health"]
    assert "OSError: the daemon's socket is gone" in body["checks"]["switch.health"]


def test_a_hung_probe_does_not_hang_readyz(client: TestClient) -> None:
    client.app.state.engine.health.timeout_s = 0.5  # type: ignore[attr-defined]
    STATE["mode"] = "hang"
    hung = readyz(client)
    assert "did not answer in 0.5 s" in hung["checks"]["switch.health"]
    assert hung["degraded"] == ["switch.health"] and hung["checks"]["workers"] == "ok"
    # Scoring and liveness go on; the hung probe is kept, not joined by a second one.
    assert client.get("/healthz").status_code == 200
    scored = client.post("/v1/rewards", json={"items": [{"verifier": "switch", "response": "x"}]})
    assert scored.json()["results"][0]["status"] == "ok"
    assert "did not answer" in readyz(client)["checks"]["switch.health"]
    assert STATE["calls"] == 1
    # The backend answers again: the probe in flight returns, and /readyz shows it.
    STATE["mode"] = "ok"
    RELEASE.set()
    for _ in range(600):
        checks = readyz(client)["checks"]
        if "switch.tool" in checks:
            break
        threading.Event().wait(0.05)
    assert checks == {"workers": "ok", "switch.tool": "ok"}
