"""Two replicas sharing session_peers: a session call reaching the wrong replica is
forwarded to its owner, VerlTool batches are split by trajectory owner, and an id
naming no listed peer is never forwarded anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from rewardgate.service.sessions_forward import trajectory_owner
from tests.conftest import free_port
from tests.service import inprocess_server
from tests.service.inprocess_server import serve_app

KEY = "k" * 32


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    ports = [free_port(), free_port()]
    peers = {name: f"http://127.0.0.1:{port}" for name, port in zip("ab", ports, strict=True)}
    patch = pytest.MonkeyPatch()
    chosen = iter(ports)  # serve_app binds the ports the peers table names
    patch.setattr(inprocess_server, "free_port", lambda: next(chosen))
    folder = tmp_path_factory.mktemp("replicas")
    common = {"api_keys": KEY, "workers": 1, "session_peers": peers}
    try:
        with (
            serve_app(folder / "a", session_replica="a", **common),
            serve_app(folder / "b", session_replica="b", **common),
        ):
            yield peers
    finally:
        patch.undo()


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)


def test_a_session_call_on_another_replica_reaches_its_owner(replicas: dict[str, str]) -> None:
    a, b = _client(replicas["a"]), _client(replicas["b"])
    sid = a.post("/v1/sessions", json={"kernel": "python"}).json()["id"]
    assert sid.startswith("a~")
    assert b.post(f"/v1/sessions/{sid}/run", json={"code": "x = 5"}).json()["status"] == "ok"
    assert a.post(f"/v1/sessions/{sid}/run", json={"code": "x"}).json()["value"] == "5"
    assert b.get(f"/v1/sessions/{sid}").json()["id"] == sid
    assert b.delete(f"/v1/sessions/{sid}").status_code == 204
    assert a.post(f"/v1/sessions/{sid}/run", json={"code": "x"}).status_code == 404
    unlisted = b.post("/v1/sessions/c~whatever/run", json={"code": "1"})
    assert unlisted.status_code == 404  # not forwarded: c names no peer
    bare = httpx.post(f"{replicas['b']}/v1/sessions/{sid}/run", json={"code": "1"})
    assert bare.status_code == 401


def test_verltool_batches_are_split_by_trajectory_owner(replicas: dict[str, str]) -> None:
    ids = [f"traj-{i}" for i in range(8)]
    settings = SimpleNamespace(session_peers=replicas, session_replica="a")
    assert {trajectory_owner(settings, t) for t in ids} == {"a", "b"}  # both own some
    a, b = _client(replicas["a"]), _client(replicas["b"])
    first = {
        "trajectory_ids": ids,
        "actions": [f"<python>x = {i}</python>" for i in range(8)],
    }
    assert all(a.post("/get_observation", json=first).json()["valids"])
    second = {"trajectory_ids": ids, "actions": ["<python>print(x)</python>"] * 8}
    answer = b.post("/get_observation", json=second).json()
    assert answer["observations"] == [f"\n<result>\n{i}\n</result>\n" for i in range(8)]
    done = {"trajectory_ids": ids, "actions": [""] * 8, "finish": [True] * 8}
    assert a.post("/get_observation", json=done).json()["dones"] == [True] * 8
