"""The gateway's event loop keeps answering while a verifier's gateway-side hook works.

`prepare`, `fingerprints` and `budget_s` run in the gateway for every item (the first
fingerprint of a database hashes the whole file; a code item's budget parses its test
file). Here a real verifier's hook is held mid-work on an event the test controls, and
the test asks `/healthz` meanwhile: it must answer before the hook finishes. Were the
hook on the loop, `/healthz` would wait for it, and the recorded order would show it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from rewardgate.service.app import create_app
from rewardgate.service.settings import Settings
from rewardgate.verifiers import Prepared, Registry, Verdict, Verifier, VerifierOptions

GATEWAY_PID = os.getpid()  # the test process serves the app in a thread
EVENTS: list[str] = []
STARTED = threading.Event()
GATE = threading.Event()
# How long a held hook waits for the test before it gives up (only when the test fails).
HOLD_S = 30.0


class GatedReference(BaseModel):
    hook: str


class Gated(Verifier[GatedReference, VerifierOptions]):
    """A verifier whose named hook is slow until the test opens the gate."""

    name = "gated"
    version = "1"
    Reference = GatedReference

    def _hold(self, hook: str, reference: Any) -> None:
        # Workers re-run `prepare` on their side; only the gateway's hooks are held.
        if reference.hook == hook and os.getpid() == GATEWAY_PID:
            EVENTS.append(f"{hook} started")
            STARTED.set()
            GATE.wait(HOLD_S)
            EVENTS.append(f"{hook} done")

    def prepare(self, reference: Any, options: dict[str, Any] | None) -> Prepared[Any, Any]:
        prepared = super().prepare(reference, options)
        self._hold("prepare", prepared.reference)
        return prepared

    def fingerprints(self, reference: GatedReference) -> list[str]:
        self._hold("fingerprints", reference)
        return ["database:feedbeef"]

    def budget_s(
        self, reference: GatedReference, options: VerifierOptions, default_s: float
    ) -> float:
        self._hold("budget_s", reference)
        return default_s

    def judge(self, response: str, reference: GatedReference, options: VerifierOptions) -> Verdict:
        return Verdict(reward=1.0)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    EVENTS.clear()
    STARTED.clear()
    GATE.clear()
    settings = Settings(workers=1, asset_dir=tmp_path / "assets", cache_size=100)
    with TestClient(create_app(settings, Registry([Gated])), raise_server_exceptions=False) as c:
        yield c
    GATE.set()


@pytest.mark.parametrize("hook", ["prepare", "fingerprints", "budget_s"])
def test_healthz_answers_while_a_hook_works(client: TestClient, hook: str) -> None:
    scored: dict[str, httpx.Response] = {}
    item = {"verifier": "gated", "response": "x", "reference": {"hook": hook}}

    def post() -> None:
        scored["response"] = client.post("/v1/rewards", json={"items": [item]})

    poster = threading.Thread(target=post)
    poster.start()
    assert STARTED.wait(HOLD_S), f"the {hook} hook never ran"
    assert client.get("/healthz").status_code == 200
    EVENTS.append("healthz answered")
    GATE.set()
    poster.join(HOLD_S)
    assert [f"{hook} started", "healthz answered", f"{hook} done"] == EVENTS
    result = scored["response"].json()["results"][0]
    assert (result["status"], result["reward"]) == ("ok", 1.0)
