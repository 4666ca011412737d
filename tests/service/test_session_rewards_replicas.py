"""Two replicas sharing session_peers: a reward item naming a session of the other
replica is scored by its owner (JSON and NDJSON), with the caller's key; a peer that
does not answer makes those items `error`, never a silent reward."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from tests.service import inprocess_server
from tests.service.session_serving import authed, run, score, serve_scoring

KEY, OTHER = "k" * 32, "o" * 32
REFERENCE = {"test_code": "def check(f):\n    assert f(3) == 9\n", "entry_point": "square"}


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    ports = [free_port(), free_port()]
    peers = {name: f"http://127.0.0.1:{port}" for name, port in zip("ab", ports, strict=True)}
    peers["gone"] = f"http://127.0.0.1:{free_port()}"  # listed, never started
    patch = pytest.MonkeyPatch()
    chosen = iter(ports)  # serve_app binds the ports the peers table names
    patch.setattr(inprocess_server, "free_port", lambda: next(chosen))
    folder = tmp_path_factory.mktemp("replicas")
    common = {"api_keys": f"{KEY},{OTHER}", "workers": 1, "session_peers": peers}
    try:
        with (
            serve_scoring(folder / "a", session_replica="a", **common),
            serve_scoring(folder / "b", session_replica="b", **common),
        ):
            yield peers
    finally:
        patch.undo()


def test_an_item_naming_another_replicas_session_is_scored_by_its_owner(
    replicas: dict[str, str],
) -> None:
    a, b = authed(replicas["a"], KEY), authed(replicas["b"], KEY)
    sid = a.post("/v1/sessions", json={"kernel": "python"}).json()["id"]
    assert sid.startswith("a~")
    run(a, sid, "open('solution.py', 'w').write('def square(x):\\n    return x * x\\n')")
    item = {"verifier": "code", "session": sid, "reference": REFERENCE, "id": "s"}
    local = {"verifier": "echo", "response": "1", "reference": {"answer": "1"}}
    gone = {"verifier": "code", "session": "gone~x", "reference": REFERENCE}
    remote, echoed, unreachable = score(b, item, local, gone)
    assert (remote["status"], remote["reward"], remote["id"]) == ("ok", 1.0, "s")
    assert remote["details"]["session"]["id"] == sid
    assert echoed["reward"] == 1.0
    assert unreachable["status"] == "error" and "did not score it" in unreachable["error"]
    lines = b.post(
        "/v1/rewards", json={"items": [local, item]}, headers={"accept": "application/x-ndjson"}
    ).text
    assert lines.count('"status":"ok"') == 2 and sid in lines
    # The owner checks the key the caller sent, forwarded or not.
    [stranger] = score(authed(replicas["b"], OTHER), item)
    assert stranger["status"] == "invalid" and "no live session" in stranger["error"]
