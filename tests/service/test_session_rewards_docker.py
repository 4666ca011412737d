"""Reward items naming a live session whose kernel runs on the docker backend, judged on
docker too: the same verdicts as on bwrap for a right, a wrong and a planted file, and
the session usable after (the workers' first docker runs once replaced the process-wide
docker backend the sessions had started with other options, removing their containers).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.service.session_serving import authed, run, score, serve_scoring
from tests.service.test_session_rewards import REFERENCE, RIGHT, WRONG, write
from tests.service.test_session_rewards_patch import FIX, REPO
from tests.service.test_session_rewards_patch import item as patch_item


@pytest.fixture(scope="module")
def docker_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("docker")
    backends = {"session_backend": "docker", "sandbox_backend": "docker"}
    with serve_scoring(folder, workers=1, **backends) as url:
        yield authed(url)


def test_docker_session_code_items(docker_client: httpx.Client) -> None:
    client = docker_client
    sid = client.post("/v1/sessions", json={"kernel": "python"}).json()["id"]
    code = {"verifier": "code", "session": sid, "reference": REFERENCE}
    run(client, sid, write("solution.py", RIGHT))
    [right] = score(client, code)
    assert (right["status"], right["reward"]) == ("ok", 1.0), right
    assert right["details"]["session"]["id"] == sid
    run(client, sid, write("solution.py", WRONG) + "\n" + write("conftest.py", "import os"))
    [wrong] = score(client, code)
    assert (wrong["status"], wrong["reward"], wrong["cached"]) == ("ok", 0.0, False)
    assert run(client, sid, "6 * 7")["value"] == "42"


def test_docker_session_patch_items(docker_client: httpx.Client) -> None:
    client = docker_client
    made = client.post("/v1/sessions", json={"kernel": "bash", "files": REPO})
    sid = made.json()["id"]
    run(client, sid, FIX)
    [fixed] = score(client, patch_item(sid))
    assert (fixed["status"], fixed["reward"]) == ("ok", 1.0), fixed
    run(client, sid, "printf 'import os\\nos._exit(0)\\n' > conftest.py; sed -i 's/+/-/' calc.py")
    [planted] = score(client, patch_item(sid))
    assert planted["status"] == "ok" and planted["reward"] <= 0.0
