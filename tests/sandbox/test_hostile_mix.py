"""200 hostile and honest programs at once through the code verifier, then a search
for anything they left behind.

The mix: fork bombs, memory bombs, infinite loops, writes outside the work dir,
network attempts, daemons that detach, early exits and floods of output, between
right and wrong solutions. All go in one batch through the real engine (two
workers, real bwrap sandboxes), so attacks run side by side with honest programs.
Every item must get a verdict (`ok`) with the reward its program earned; afterwards
no process of theirs may be alive, no per-run cgroup of the workers may remain,
nothing may have been written on the host (temp dir, /tmp, /var/tmp, the cwd), and
the listener they aimed at must have seen no connection.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.conftest import MARKER_PREFIX, host_pids_with

pytestmark = pytest.mark.slow

TESTS = {"asserts": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]}
GOOD = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"


def kinds(marker: str, port: int) -> dict[str, tuple[int, str, float | None]]:
    """name -> (how many, program, expected reward; None: any verdict, checked after)."""
    return {
        "right": (25, GOOD, 1.0),
        "wrong": (25, WRONG, 0.0),
        "infinite_loop": (15, "while True:\n    pass\n" + GOOD, 0.0),
        "sleep_forever": (10, "import time\ntime.sleep(10**6)\n" + GOOD, 0.0),
        "fork_bomb": (15, "import os\nwhile True:\n    os.fork()\n" + GOOD, 0.0),
        "memory_bomb": (
            20,
            "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 24))\n",
            0.0,
        ),
        "write_outside": (
            20,
            "for p in ['/tmp', '/var/tmp', '/etc', '/root', '/usr', '..', '/dev/shm']:\n"
            "    try:\n"
            f"        open(p + '/{marker}', 'w').write('x')\n"
            "    except OSError:\n"
            "        pass\n" + GOOD,
            None,
        ),
        "network": (
            20,
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n" + GOOD,
            0.0,
        ),
        "daemon": (
            20,
            "import os\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        os.execvp('python3', ['python3', '-c', 'import time; time.sleep(1000)', "
            f"'{marker}'])\n"
            "    os._exit(0)\n" + GOOD,
            None,
        ),
        "early_exit": (15, "import os\nos._exit(0)\n" + GOOD, 0.0),
        "output_flood": (15, "import sys\nsys.stdout.write('x' * (1 << 27))\n" + GOOD, None),
    }


def items(marker: str, port: int) -> tuple[list[dict[str, Any]], list[tuple[str, float | None]]]:
    batch: list[dict[str, Any]] = []
    expected: list[tuple[str, float | None]] = []
    for name, (count, program, reward) in kinds(marker, port).items():
        for k in range(count):
            # A distinct comment per item: each is judged, none answered from the cache.
            response = f"# {name} {k} {marker}\n{program}"
            options = {"time_limit_s": 1.0, "memory_mb": 128}
            batch.append(
                {
                    "verifier": "code",
                    "response": response,
                    "reference": TESTS,
                    "options": options,
                    "id": f"{name}-{k}",
                }
            )
            expected.append((name, reward))
    return batch, expected


def worker_groups(pids: set[int]) -> list[Path]:
    """Per-run cgroups that the given worker processes made, in every controller."""
    found: list[Path] = []
    for parent in Path("/sys/fs/cgroup").glob("**/rewardgate"):
        for group in parent.glob("run-*"):
            parts = group.name.split("-")
            if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) in pids:
                found.append(group)
    return found


def test_two_hundred_hostile_items_are_judged_and_leave_nothing_behind(
    make_client, listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # recomputed from TMPDIR
    marker = f"{MARKER_PREFIX}-{os.getpid()}-{os.urandom(4).hex()}"
    batch, expected = items(marker, listener.port)
    assert len(batch) == 200

    client = make_client(installed=True, workers=2, max_run_memory_mb=512)
    pids = {
        r["details"]["pid"]
        for r in client.post(
            "/v1/rewards",
            json={
                "items": [
                    {"verifier": "echo", "response": str(i), "reference": {"answer": "x"}}
                    for i in range(40)
                ]
            },
        ).json()["results"]
    }
    assert pids  # the workers whose cgroups are checked below
    response = client.post("/v1/rewards", json={"items": batch})
    assert response.status_code == 200, response.text[:500]
    results = response.json()["results"]

    wrong = [
        (r["id"], r["status"], r["reward"], r.get("error"))
        for r, (_, reward) in zip(results, expected, strict=True)
        if r["status"] != "ok" or (reward is not None and r["reward"] != reward)
    ]
    assert not wrong, wrong[:10]
    assert listener.connections == []
    assert host_pids_with(marker) == []
    for folder in ("/tmp", "/var/tmp", "/etc", "/root", "/usr", "/dev/shm", os.getcwd()):
        assert not (Path(folder) / marker).exists(), folder
    # The engine stops with the client; then nothing of the workers' runs may remain.
    client.__exit__(None, None, None)
    assert host_pids_with(marker) == []
    assert worker_groups(pids) == []
    leftovers = [p.name for p in private_tmp.iterdir() if p.name != "rewardgate-compile-cache"]
    assert leftovers == []
