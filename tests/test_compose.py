"""The compose deployment end to end: `docker-compose up`, scored requests, `down`.

`make test` builds the images first (scripts/docker-images.sh); the gateway runs in its
container with the docker sandbox backend, through the host's Docker socket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from rewardgate.sandbox.docker import LABEL

ROOT = Path(__file__).resolve().parent.parent
PROJECT = f"rgtest{os.getpid()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compose(*args: str, port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REWARDGATE_PUBLISH_PORT": str(port), "REWARDGATE_WORKERS": "2"}
    return subprocess.run(
        ["docker-compose", "-p", PROJECT, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    # `make test` installs docker-compose and builds the images: missing ones fail here.
    assert shutil.which("docker-compose"), "docker-compose missing: run `make test`"
    port = free_port()
    up = compose("up", "-d", "--no-build", port=port)
    assert up.returncode == 0, up.stderr
    url = f"http://127.0.0.1:{port}"
    client = docker.from_env()
    try:
        deadline = time.monotonic() + 180
        health = ""
        while time.monotonic() < deadline:
            [box] = client.containers.list(
                filters={"label": f"com.docker.compose.project={PROJECT}"}, ignore_removed=True
            )
            health = box.attrs["State"].get("Health", {}).get("Status", "")
            if health == "healthy":
                break
            time.sleep(1)
        assert health == "healthy", compose("logs", port=port).stdout[-3000:]
        yield url
    finally:
        hostname = ""
        for box in client.containers.list(
            all=True,
            filters={"label": f"com.docker.compose.project={PROJECT}"},
            ignore_removed=True,
        ):
            hostname = box.attrs["Config"]["Hostname"]
        down = compose("down", "-v", port=port)
        assert down.returncode == 0, down.stderr
        # The gateway's sandbox pool ends itself after idling; the test does not wait. A
        # container may go by itself between the listing and its inspection or removal.
        for box in client.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True):
            if hostname and box.labels.get(LABEL, "").startswith(f"{hostname}:"):
                with contextlib.suppress(docker.errors.NotFound):
                    box.remove(force=True)


@pytest.mark.slow
def test_readyz_reports_the_docker_backend(gateway: str) -> None:
    checks = httpx.get(f"{gateway}/readyz", timeout=30).json()["checks"]
    assert checks["workers"] == "ok"
    assert [checks[k] for k in ("code.docker", "code.docker_image", "code.docker_run")] == [
        "ok", "ok", "ok",
    ]  # fmt: skip


@pytest.mark.slow
def test_math_and_code_are_scored(gateway: str) -> None:
    items = [
        {"verifier": "math", "response": "So \\boxed{\\frac{1}{2}}", "reference": "0.5"},
        {"verifier": "math", "response": "\\boxed{3}", "reference": "0.5"},
        {
            "verifier": "code",
            "response": "def twice(x):\n    return 2 * x\n",
            "reference": {"asserts": ["assert twice(2) == 4", "assert twice(0) == 0"]},
        },
        {
            "verifier": "code",
            "response": '#include <cstdio>\nint main(){int a,b; scanf("%d %d",&a,&b);'
            ' printf("%d\\n", a - b);}\n',
            "reference": {"language": "cpp", "tests": [{"stdin": "1 2", "expected_stdout": "3"}]},
        },
    ]
    response = httpx.post(f"{gateway}/v1/rewards", json={"items": items}, timeout=120)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["status"], r["reward"]) for r in results] == [
        ("ok", 1.0), ("ok", 0.0), ("ok", 1.0), ("ok", 0.0),
    ], results  # fmt: skip


@pytest.mark.slow
def test_run_code_answers_like_sandbox_fusion(gateway: str) -> None:
    body = {
        "compile_timeout": 10,
        "run_timeout": 10,
        "code": "print(input()[::-1])",
        "stdin": "abc",
        "memory_limit_MB": 512,
        "language": "python",
        "files": {},
        "fetch_files": [],
    }
    answer = httpx.post(f"{gateway}/run_code", json=body, timeout=60).json()
    assert answer["status"] == "Success", answer
    assert answer["run_result"]["stdout"] == "cba\n"


@pytest.mark.slow
def test_web_items_and_sessions_are_served(gateway: str) -> None:
    """The gateway's container cannot run bwrap: the browser and the sessions run in
    sandbox containers of their own, their descriptors relayed (sandbox/spawn_docker.py)."""
    ready = httpx.get(f"{gateway}/readyz", timeout=60).json()
    assert not [name for name in ready["degraded"] if name.startswith("web.")], ready
    page = "<html><body><h1>Title</h1><p>Hello <b>world</b></p></body></html>"
    items = [
        {"verifier": "web", "response": page, "reference": {"target_html": page}},
        {"verifier": "web", "response": "<p>other</p>", "reference": {"target_html": page}},
    ]
    response = httpx.post(f"{gateway}/v1/rewards", json={"items": items}, timeout=180)
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["status"] == "ok" and first["reward"] >= 0.999, first
    assert second["status"] == "ok" and second["reward"] < 0.9, second
    made = httpx.post(f"{gateway}/v1/sessions", json={"kernel": "python"}, timeout=60)
    assert made.status_code == 201, made.text
    run = f"{gateway}/v1/sessions/{made.json()['id']}/run"
    assert httpx.post(run, json={"code": "n = 21"}, timeout=60).json()["status"] == "ok"
    assert httpx.post(run, json={"code": "n * 2"}, timeout=60).json()["value"] == "42"
    ended = httpx.delete(f"{gateway}/v1/sessions/{made.json()['id']}", timeout=60)
    assert ended.status_code == 204
