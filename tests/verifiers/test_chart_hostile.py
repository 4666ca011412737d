"""Hostile chart scripts are contained, and each one is a verdict, never a failure.

A listener on 127.0.0.1 counts every connection a script could make; files are
written at host paths a script might reach. Each script must get an `ok` verdict,
the listener must see nothing, no file may appear, and the service must stay
healthy: directly, through the engine, and through the HTTP app.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.chart import ChartVerifier
from rewardgate.verifiers.models import RewardRequest, RewardResult
from tests.listener import Listener

DATA = Path(__file__).resolve().parent.parent / "data" / "chart"
TARGET = (DATA / "bar.py").read_text()
FAST = {"time_limit_s": 3, "memory_mb": 256}
DRAW = "\nimport matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [1, 2])\n"


def network_scripts(port: int) -> dict[str, str]:
    return {
        "socket": (
            "import socket\ntry:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'x')\n"
            "except OSError:\n    pass\n" + DRAW
        ),
        "urllib": (
            "import urllib.request\ntry:\n"
            f"    urllib.request.urlopen('http://127.0.0.1:{port}/x', timeout=2)\n"
            "except OSError:\n    pass\n" + DRAW
        ),
        "imread-url": (
            "import matplotlib.pyplot as plt\n"
            f"plt.imshow(plt.imread('http://127.0.0.1:{port}/x.png'))\n"
        ),
        "unhandled": f"import socket\nsocket.create_connection(('127.0.0.1', {port}))\n",
    }


def score(response: str, options: dict[str, Any] | None = None) -> RewardResult:
    request = RewardRequest(
        verifier="chart",
        response=response,
        reference={"target_code": TARGET},
        options={**FAST, **(options or {})},
    )
    return ChartVerifier().verify(request)


@pytest.mark.parametrize("case", ["socket", "urllib", "imread-url", "unhandled"])
def test_the_network_is_unreachable(listener: Listener, case: str) -> None:
    result = score(network_scripts(listener.port)[case])
    assert result.status == "ok"
    assert listener.connections == []


def escape_paths(tmp_path: Path) -> list[Path]:
    tag = uuid.uuid4().hex
    return [
        tmp_path / f"escape-{tag}.txt",
        Path(f"/tmp/chart-escape-{tag}.txt"),
        Path(f"/work/chart-escape-{tag}.txt"),
    ]


def test_writes_outside_the_work_dir_leave_no_file(tmp_path: Path) -> None:
    paths = escape_paths(tmp_path)
    attempts = "".join(
        f"try:\n    open({str(p)!r}, 'w').write('x')\nexcept OSError:\n    pass\n" for p in paths
    )
    saves = "".join(
        f"try:\n    plt.gcf().canvas.print_figure({str(p.with_suffix('.png'))!r})\n"
        "except OSError:\n    pass\n"
        for p in paths
    )
    result = score(DRAW + attempts + saves)
    assert result.status == "ok"
    assert result.details["reason"] == "scored"
    for path in paths:
        assert not path.exists()
        assert not path.with_suffix(".png").exists()


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("while True:\n    pass\n", "time_limit"),
        ("import time\ntime.sleep(1000)\n", "time_limit"),
        (DRAW + "while True:\n    pass\n", "time_limit"),
        ("x = bytearray(64 << 30)\n", "memory_limit"),
        ("chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n", "memory_limit"),
        ("import os\nos._exit(0)\n", "runtime_error"),
        ('import os\nos.write(3, b\'{"result": {"error": "no_figure"}}\\n\')\n', "runtime_error"),
    ],
    ids=[
        "busy-loop",
        "sleeps",
        "loops-after-drawing",
        "huge-allocation",
        "grows-until-killed",
        "exits-hard",
        "writes-the-channel",
    ],
)
def test_a_runaway_script_is_a_verdict(response: str, reason: str) -> None:
    result = score(response)
    assert result.status == "ok"
    assert result.reward == 0.0
    assert result.details["reason"] == reason, result.details


def test_killing_the_runner_is_a_verdict() -> None:
    """A warm runner is its pid namespace's init, which ignores the kill (the script
    goes on and is scored); a cold one dies, and the run is a runtime error."""
    killer = "import os, signal\nfor pid in (os.getppid(), 1):\n"
    killer += "    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
    result = score(killer + DRAW)
    assert result.status == "ok"
    assert result.details["reason"] in ("scored", "runtime_error"), result.details


def test_a_fork_bomb_is_a_verdict_and_leaves_nothing_running() -> None:
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = score(bomb, {"time_limit_s": 2})
    assert result.status == "ok"
    assert result.details["reason"] == "time_limit", result.details
    after = score(TARGET)  # the sandbox is whole again: the next run draws normally
    assert after.reward >= 0.999


def test_a_process_left_running_does_not_hold_the_run() -> None:
    lingering = "import os, time\nif os.fork() == 0:\n    time.sleep(1000)\n" + DRAW
    result = score(lingering, {"time_limit_s": 20})
    assert result.details["reason"] == "scored"
    assert result.details["run_ms"] < 15_000  # the run did not wait for the sleeper


def test_the_engine_stays_healthy(verifier_engine: Callable[..., Any], listener: Listener) -> None:
    engine = verifier_engine(ChartVerifier, workers=1)
    hostile = [
        "while True:\n    pass\n",
        "x = bytearray(64 << 30)\n",
        network_scripts(listener.port)["socket"],
    ]
    items = [
        {"verifier": "chart", "response": r, "reference": {"target_code": TARGET}, "options": FAST}
        for r in [*hostile, TARGET]
    ]
    *bad, good = engine.score(items)
    assert [r.status for r in bad] == ["ok"] * len(hostile)
    assert good.status == "ok" and good.reward >= 0.999
    assert listener.connections == []


def test_the_http_service_stays_healthy(
    make_client: Callable[..., Any], listener: Listener, tmp_path: Path
) -> None:
    client = make_client(installed=True, workers=1)
    paths = escape_paths(tmp_path)
    hostile = [
        "while True:\n    pass\n",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n",
        network_scripts(listener.port)["unhandled"],
        "".join(f"open({str(p)!r}, 'w').write('x')\n" for p in paths),
    ]
    items = [
        {"verifier": "chart", "response": r, "reference": {"target_code": TARGET}, "options": FAST}
        for r in [*hostile, TARGET]
    ]
    response = client.post("/v1/rewards", json={"items": items})
    assert response.status_code == 200
    *bad, good = response.json()["results"]
    assert [r["status"] for r in bad] == ["ok"] * len(hostile)
    assert [r["reward"] for r in bad] == [0.0] * len(hostile)
    assert good["status"] == "ok" and good["reward"] >= 0.999
    assert client.get("/healthz").status_code == 200
    assert listener.connections == []
    assert not any(p.exists() for p in paths)
