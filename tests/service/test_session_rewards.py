"""Reward items naming a live session, `code` verifier, on real bwrap sessions: the
program file is scored as it is now (never cached), only by the session's owner; an
unknown, ended or expired session is `invalid`; hostile files cannot pass or hang it;
the Python clients' `Session.score`."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rewardgate.clients.aio import AsyncRewardClient
from rewardgate.clients.sync import RewardClient
from rewardgate.service.engine import Engine
from rewardgate.verifiers.registry import Registry
from tests.service.probes import PROBES
from tests.service.session_serving import authed, run, score, serve_scoring

KEY_A, KEY_B = "a" * 32, "b" * 32
REFERENCE = {"test_code": "def check(f):\n    assert f(2) == 4\n    assert f(5) == 10\n"}
REFERENCE["entry_point"] = "double"
RIGHT = "def double(x):\n    return 2 * x\n"
WRONG = "def double(x):\n    return x + 2  # wrong\n"


def write(name: str, text: str) -> str:
    """A python cell that writes `text` to `name` in the session."""
    return f"open({name!r}, 'w').write({text!r})"


def item(sid: str, **extra: Any) -> dict[str, Any]:
    return {"verifier": "code", "session": sid, "reference": REFERENCE, **extra}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = f"{KEY_A},{KEY_B}"
    # 512 MB a session: room for a kernel reading 4 files of 7 MiB back (see the last test).
    folder = tmp_path_factory.mktemp("scoring")
    with serve_scoring(folder, api_keys=keys, workers=1, session_memory_mb=512) as served:
        yield served


def test_the_file_is_scored_as_it_is_now_and_never_cached(url: str) -> None:
    a = authed(url, KEY_A)
    sid = a.post("/v1/sessions", json={"kernel": "python"}).json()["id"]
    run(a, sid, "state = 41\n" + write("solution.py", RIGHT))
    first, twin = score(a, item(sid, id="x"), item(sid, id="y"))
    assert (first["status"], first["reward"], first["id"]) == ("ok", 1.0, "x")
    assert (twin["status"], twin["reward"], twin["cached"]) == ("ok", 1.0, False)
    evidence = first["details"]["session"]
    assert evidence["id"] == sid and evidence["file"] == "solution.py"
    assert evidence["bytes"] == len(RIGHT) and evidence["snapshot"].startswith("sha256:")
    [again] = score(a, item(sid))
    assert (again["reward"], again["cached"]) == (1.0, False)  # judged again, not a hit

    run(a, sid, write("solution.py", WRONG))
    [wrong] = score(a, item(sid))
    assert (wrong["status"], wrong["reward"], wrong["cached"]) == ("ok", 0.0, False)
    assert wrong["details"]["session"]["snapshot"] != evidence["snapshot"]
    # The session is untouched by scoring: its state and files are still there.
    assert run(a, sid, "state + 1")["value"] == "42"

    run(a, sid, "import os\nos.makedirs('pkg', exist_ok=True)\n" + write("pkg/main.py", RIGHT))
    [named] = score(a, item(sid, session={"id": sid, "file": "pkg/main.py"}))
    assert (named["reward"], named["details"]["session"]["file"]) == (1.0, "pkg/main.py")
    # NDJSON streams carry the same evidence.
    lines = a.post(
        "/v1/rewards",
        json={"items": [{"verifier": "echo", "response": "1"}, item(sid)]},
        headers={"accept": "application/x-ndjson"},
    ).text.splitlines()
    assert len(lines) == 2 and '"session"' in next(line for line in lines if '"index":1' in line)


def test_only_the_owner_names_a_live_session(url: str) -> None:
    a, b = authed(url, KEY_A), authed(url, KEY_B)
    sid = a.post("/v1/sessions", json={}).json()["id"]
    run(a, sid, write("solution.py", RIGHT))
    [stranger] = score(b, item(sid))
    assert stranger["status"] == "invalid" and "no live session" in stranger["error"]
    refused = score(
        a,
        item("no-such-session"),
        {"verifier": "echo", "session": sid},
        item(sid, response=RIGHT),
        item(sid, session={"id": sid, "snapshot": "sha256:forged"}),
        item(sid, session={"id": sid, "file": "../../etc/passwd"}),
        item(sid, session={"id": sid, "file": "absent.py"}),
        item(sid, fallback_reward=-3),
        item(sid, session={"id": sid, "file": 5}),
    )
    statuses = [(r["status"], r["error"]) for r in refused]
    assert statuses[0][0] == "invalid" and "no live session no-such-session" in statuses[0][1]
    assert statuses[1][0] == "invalid" and "cannot score a session" in statuses[1][1]
    assert statuses[2][0] == "invalid" and "response is read from the session" in statuses[2][1]
    assert statuses[3][0] == "invalid" and "set by the server" in statuses[3][1]
    assert statuses[4][0] == "invalid" and "relative path" in statuses[4][1]
    assert statuses[5][0] == "invalid" and "no file 'absent.py'" in statuses[5][1]
    assert (refused[6]["status"], refused[6]["reward"]) == ("ok", 1.0)
    assert statuses[7][0] == "invalid" and "session.file" in statuses[7][1]
    assert a.delete(f"/v1/sessions/{sid}").status_code == 204
    [ended] = score(a, item(sid))
    assert ended["status"] == "invalid" and "no live session" in ended["error"]


def test_an_expired_session_is_invalid(url: str) -> None:
    a = authed(url, KEY_A)
    files = {"solution.py": RIGHT}
    # Past its lifetime (polling keeps it from going idle, not from ageing).
    sid = a.post("/v1/sessions", json={"files": files, "limits": {"lifetime_s": 1}}).json()["id"]
    deadline = time.monotonic() + 60
    while a.get(f"/v1/sessions/{sid}").status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.5)
    [expired] = score(a, item(sid, fallback_reward=-3))
    assert (expired["status"], expired["reward"]) == ("invalid", -3)
    assert "no live session" in expired["error"]


DAEMON = f"""
import os, time
while True:
    for text in ({WRONG!r}, {RIGHT!r}):
        with open("next.py", "w") as f:
            f.write(text)
        os.replace("next.py", "solution.py")
        time.sleep(0.001)
"""


def test_hostile_files_cannot_pass_or_hang(url: str) -> None:
    a = authed(url, KEY_A)
    sid = a.post("/v1/sessions", json={"limits": {"call_timeout_s": 3}}).json()["id"]
    planted = {
        "solution.py": "import helper\ndouble = helper.double\n",
        "helper.py": RIGHT,  # not the program: never in the test's sandbox
        "sitecustomize.py": "import builtins\nbuiltins.AssertionError = type('N', (), {})\n",
        "unittest.py": "raise SystemExit(0)\n",
        "conftest.py": "import os\nos._exit(0)\n",
    }
    run(a, sid, "\n".join(write(name, text) for name, text in planted.items()))
    [result] = score(a, item(sid))
    assert (result["status"], result["reward"]) == ("ok", 0.0)
    # A daemon rewriting the file while it is scored: each verdict is of one snapshot.
    run(a, sid, write("daemon.py", DAEMON))
    run(a, sid, "import subprocess\nd = subprocess.Popen(['python3', 'daemon.py'])")
    for result in score(a, *[item(sid) for _ in range(3)]):
        assert result["status"] == "ok"
        judged_right = result["details"]["session"]["bytes"] == len(RIGHT)
        assert result["reward"] == (1.0 if judged_right else 0.0)
    run(a, sid, "d.kill(); d.wait()\nimport os\nos.remove('solution.py')")
    run(a, sid, "os.symlink('/etc/passwd', 'solution.py')")
    [linked] = score(a, item(sid))
    assert linked["reward"] == 0.0  # read inside the sandbox: a system file, not a solution
    run(a, sid, "os.remove('solution.py')\n" + write("solution.py", "#" * 20_000_000))
    [huge] = score(a, item(sid))
    assert huge["status"] == "invalid" and "over 8 MiB" in huge["error"]
    assert run(a, sid, "6 * 7")["value"] == "42"  # still usable
    run(a, sid, "os.remove('solution.py')\nos.mkfifo('solution.py')")
    [fifo] = score(a, item(sid))  # the read blocks: the session's call limit ends it
    assert fifo["status"] == "timeout" and "reading its files" in fifo["error"]
    assert a.get(f"/v1/sessions/{sid}").status_code == 404
    other = a.post("/v1/sessions", json={"files": {"solution.py": RIGHT}}).json()["id"]
    assert score(a, item(other))[0]["reward"] == 1.0  # the service still scores


def test_clients_score_their_session(url: str) -> None:
    with RewardClient(url, api_key=KEY_A) as client, client.session("bash") as s:
        s.run("printf 'def double(x):\\n    return x * 2\\n' > prog.py")
        result = s.score("code", REFERENCE, file="prog.py", id="r1")
        assert (result.status, result.reward, result.id) == ("ok", 1.0, "r1")
        assert result.details["session"]["id"] == s.id
        assert s.run("echo $((20 + 22))")["stdout"] == "42\n"

    async def rollout() -> float:
        async with AsyncRewardClient(url, api_key=KEY_A) as client, client.session() as s:
            await s.run(write("solution.py", WRONG))
            wrong = await s.score("code", REFERENCE)
            await s.run(write("solution.py", RIGHT))
            right = await s.score("code", REFERENCE, mode="all_or_nothing")
            return wrong.reward * 10 + right.reward

    assert asyncio.run(rollout()) == 1.0


def test_an_engine_with_no_sessions_refuses_an_unread_session() -> None:
    """The CLI's or in-process engine never judges a session item on an empty response."""
    engine = Engine(Registry(PROBES), workers=1)
    engine.start()
    try:
        items: list[Any] = [{"verifier": "echo", "session": "abc"}]
        items.append({"verifier": "echo", "response": "1", "reference": {"answer": "1"}})
        refused, scored = asyncio.run(engine.score(items))
    finally:
        engine.close()
    assert refused.status == "invalid" and "names a live session" in (refused.error or "")
    assert scored.status == "ok"


def test_session_ref_shorthand_validates() -> None:
    from rewardgate.contract.models import RewardRequest

    request = RewardRequest.model_validate({"verifier": "code", "session": "s1"})
    assert (request.session and request.session.id, request.response) == ("s1", "")
    with pytest.raises(ValueError):
        RewardRequest.model_validate({"verifier": "code", "session": {"id": "s", "x": 1}})


def test_a_kernel_flooding_its_answer_pipe_ends_its_session(url: str) -> None:
    """A cell runs in the kernel and may write to its answer pipe (fd 4): the gateway
    buffers one answer up to ANSWER_BYTES, then ends the session (never a 500, never
    gigabytes held); a kernel patched to flood the snapshot's read is the same."""
    a = authed(url, KEY_A)
    flood = "import os\nfor _ in range(80):\n    os.write(4, b'x' * (1 << 20))"
    sid = a.post("/v1/sessions", json={}).json()["id"]
    ended = run(a, sid, flood)
    assert ended["status"] == "ended" and "not one JSON object" in ended["ended"]
    assert a.get(f"/v1/sessions/{sid}").status_code == 404
    sid = a.post("/v1/sessions", json={}).json()["id"]
    assert run(a, sid, "import os\nos.write(4, b'[1, 2]\\n')")["status"] == "ended"
    sid = a.post("/v1/sessions", json={"files": {"solution.py": RIGHT}}).json()["id"]
    patched = (
        "import sys\nfor m in list(sys.modules.values()):\n"
        "    if hasattr(m, 'read_files'):\n"
        f"        m.read_files = lambda paths, n: exec({flood!r})"
    )
    assert run(a, sid, patched)["status"] == "ok"
    [result] = score(a, item(sid))
    assert result["status"] == "invalid" and "not one JSON object" in result["error"]
    other = a.post("/v1/sessions", json={"files": {"solution.py": RIGHT}}).json()["id"]
    assert score(a, item(other))[0]["reward"] == 1.0


def test_many_files_are_read_back_a_few_a_call(url: str) -> None:
    """Reads go READ_PER_CALL files a call, each answer under ANSWER_BYTES: all nine of
    a run_jupyter's fetch_files come back, 7 MiB each (84 MiB of base64 together)."""
    cell = "for i in range(9):\n    open(f'f{i}.bin', 'wb').write(bytes([i]) * (7 << 20))"
    body = {"cells": [cell], "fetch_files": [f"f{i}.bin" for i in range(9)]}
    answer = authed(url, KEY_A).post("/run_jupyter", json=body).json()
    assert answer["status"] == "Success", answer.get("message")
    assert sorted(answer["files"]) == [f"f{i}.bin" for i in range(9)]
    assert base64.b64decode(answer["files"]["f8.bin"]) == b"\x08" * (7 << 20)
