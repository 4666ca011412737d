"""Hostile programs through a real `rewardgate serve`: contained, scored 0, service healthy.

The sandbox's own escape suite (tests/sandbox) checks containment run by run; this one
checks what a trainer sees: each attack is an `ok` verdict with reward 0 (never an
`error` that would hide it, never a crash of the service), and honest work still
scores right after.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import httpx
import pytest

# Each program prints the right answer (3) only if its attack succeeded.
ATTACKS = {
    "fork-bomb": "import os\nwhile True:\n    os.fork()",
    "memory-bomb": "x = []\nwhile True:\n    x.append(bytearray(1 << 24))",
    "infinite-loop": "while True:\n    pass",
    "gigabyte-of-output": (
        "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)"
    ),
    "kill-the-parent": (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)"
    ),
    "daemon": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)",
    "read-shadow": "print(3 if open('/etc/shadow').read() else 0)",
    "read-host-env": "import os\nprint(3 if os.environ.get('REWARDGATE_TEST_SECRET') else 0)",
    "read-host-dirs": (
        "import os\nprint(3 if os.path.exists('/work') or os.listdir('/root') else 0)"
    ),
    "write-outside": "open('/usr/pwned', 'w').write('x')\nprint(3)",
}


def stdio_item(program: str, expected: str = "3\n") -> dict[str, object]:
    return {
        "verifier": "code",
        "response": f"```python\n{program}\n```",
        "reference": {"tests": [{"stdin": "1 2\n", "expected_stdout": expected}]},
        "options": {"time_limit_s": 2, "memory_mb": 128},
    }


HONEST = stdio_item("a, b = map(int, input().split())\nprint(a + b)")


@pytest.fixture
def listener():
    """A TCP listener on the host; a sandboxed program must never reach it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(server.accept())

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_attacks_are_zero_verdicts_and_the_service_stays_healthy(
    live_server, listener, monkeypatch
) -> None:
    port, accepted = listener
    monkeypatch.setenv("REWARDGATE_TEST_SECRET", "hunter2")
    server = live_server(workers=2)
    attacks = {
        **ATTACKS,
        "network": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 1)\nprint(3)",
    }
    items = [stdio_item(program) for program in attacks.values()]
    response = httpx.post(f"{server.url}/v1/rewards", json={"items": items}, timeout=120)
    assert response.status_code == 200
    results = dict(zip(attacks, response.json()["results"], strict=True))
    for name, result in results.items():
        assert result["status"] == "ok", (name, result)
        assert result["reward"] == 0.0, (name, result)
    assert "hunter2" not in response.text
    assert accepted == [], "a sandboxed program reached a host listener"
    after = httpx.post(f"{server.url}/v1/rewards", json={"items": [HONEST] * 3}, timeout=60)
    assert [r["reward"] for r in after.json()["results"]] == [1.0, 1.0, 1.0]
    assert httpx.get(f"{server.url}/readyz", timeout=5).json()["ready"] is True
