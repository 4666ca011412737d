"""A serving process freezes its warmed heap and spaces out young collections
(service/heap.py); an app built without `freeze_heap` leaves the collector alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import gc, json, sys
from fastapi.testclient import TestClient
from rewardgate.service.app import create_app
from rewardgate.service.settings import Settings
from rewardgate.verifiers.registry import Registry
from tests.service.probes import PROBES

before = gc.get_threshold()
app = create_app(Settings(workers=1), Registry(PROBES), freeze_heap=sys.argv[1] == "yes")
with TestClient(app) as client:
    reward = client.post("/v1/rewards", json={"items": [
        {"verifier": "echo", "response": "a", "reference": {"answer": "a"}}]}).json()
    print(json.dumps({"before": before, "after": gc.get_threshold(),
                      "frozen": gc.get_freeze_count(),
                      "reward": reward["results"][0]["reward"]}))
"""


def run(freeze: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, freeze],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_serving_app_freezes_its_heap_and_an_embedded_one_does_not() -> None:
    from rewardgate.service.heap import GATEWAY_GC_THRESHOLD

    served, embedded = run("yes"), run("no")
    assert served["reward"] == embedded["reward"] == 1.0
    assert served["frozen"] > 10_000  # the warmed imports, not a handful of objects
    assert served["after"] == [GATEWAY_GC_THRESHOLD, *served["before"][1:]]
    assert embedded["frozen"] == 0 and embedded["after"] == embedded["before"]
