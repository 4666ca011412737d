"""/v1/sessions over HTTP on the real app (bwrap): the verbs, 404 for another key's
session, 429 past the bound, 400 for a bad kernel or limit."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.service.inprocess_server import serve_app

KEY_A, KEY_B = "a" * 32, "b" * 32


def test_session_verbs_owners_and_capacity(tmp_path: Path) -> None:
    with serve_app(tmp_path, api_keys=f"{KEY_A},{KEY_B}", session_max_live=1, workers=1) as url:
        a = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60)
        b = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY_B}"}, timeout=60)
        assert a.post("/v1/sessions", json={"kernel": "cobol"}).status_code == 400
        bad = a.post("/v1/sessions", json={"limits": {"wall_clock": 3}})
        assert bad.status_code == 400
        made = a.post("/v1/sessions", json={"kernel": "python", "files": {"in.txt": "21"}})
        assert made.status_code == 201, made.text
        sid = made.json()["id"]
        assert b.post("/v1/sessions", json={}).status_code == 429
        run = f"/v1/sessions/{sid}/run"
        assert a.post(run, json={"code": "n = int(open('in.txt').read())"}).json()["status"] == "ok"
        answer = a.post(run, json={"code": "print('hi')\nn * 2"}).json()
        assert (answer["status"], answer["value"], answer["stdout"]) == ("ok", "42", "hi\n")
        assert b.post(run, json={"code": "n"}).status_code == 404
        assert b.get(f"/v1/sessions/{sid}").status_code == 404
        files = a.get(f"/v1/sessions/{sid}").json()["files"]
        assert files == [{"path": "in.txt", "bytes": 2}]
        assert a.get(f"/v1/sessions/{sid}/files").json() == {"files": files}
        assert b.get(f"/v1/sessions/{sid}/files").status_code == 404  # not b's session
        assert a.delete(f"/v1/sessions/{sid}").status_code == 204
        assert a.post(run, json={"code": "n"}).status_code == 404
        again = b.post("/v1/sessions", json={"kernel": "bash"})
        assert again.status_code == 201  # the slot is free again
        assert b.delete(f"/v1/sessions/{again.json()['id']}").status_code == 204


def test_bad_inputs_are_400_never_500(tmp_path: Path) -> None:
    with serve_app(tmp_path, workers=1) as url:
        bad_bodies = [
            ("/v1/sessions", {"files": {"../escape": "x"}}),
            ("/v1/sessions", {"files": {"/etc/passwd": "x"}}),
            ("/v1/sessions", {"limits": {"memory_mb": -5}}),
            ("/v1/sessions", {"limits": {"idle_s": 0}}),
            ("/run_jupyter", {"cells": ["1"], "files": {"a": "not base64!"}}),
            ("/get_observation", {"trajectory_ids": ["t"], "actions": ["a"], "extra_fields": []}),
        ]
        for path, body in bad_bodies:
            answer = httpx.post(url + path, json=body, timeout=60)
            assert answer.status_code == 400, (path, body, answer.text)
        # A lone surrogate, which JSON may carry and nothing can encode (schemathesis
        # found the first two as 500s; the third ended its session as a timeout).
        raw_bodies = [
            ("/run_jupyter", '{"cells": ["1"], "files": {"a": "\\u00f7"}}'),
            ("/run_jupyter", '{"cells": ["1"], "files": {"LONEx": "eA=="}}'),
            ("/run_jupyter", '{"cells": ["1"], "fetch_files": ["LONE"]}'),
            ("/run_jupyter", '{"cells": ["LONE"]}'),
            ("/v1/sessions", '{"files": {"LONE": "x"}}'),
            ("/v1/sessions", '{"files": {"a": "LONE"}}'),
            ("/get_observation", '{"trajectory_ids": ["t"], "actions": ["LONE"]}'),
        ]
        for path, raw in raw_bodies:
            headers = {"content-type": "application/json"}
            raw = raw.replace("LONE", "\\ud800")
            answer = httpx.post(url + path, content=raw, headers=headers, timeout=60)
            assert answer.status_code == 400, (path, raw, answer.text)


def test_the_server_ends_idle_sessions_by_itself(tmp_path: Path) -> None:
    with serve_app(tmp_path, workers=1, session_idle_s=1.0, session_max_live=1) as url:
        sid = httpx.post(f"{url}/v1/sessions", json={}, timeout=60).json()["id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = httpx.get(f"{url}/v1/sessions/{sid}", timeout=60)
            if answer.status_code == 404:
                break
            time.sleep(1.5)  # longer than idle_s: each GET is a call that renews it
        assert answer.status_code == 404
        assert httpx.post(f"{url}/v1/sessions", json={}, timeout=60).status_code == 201


def _sleepers(tag: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", tag.encode()]:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_sessions_end_with_the_server(tmp_path: Path) -> None:
    """Stopping the server (its lifespan) ends the live sessions and what they started,
    not the interpreter's exit, which a managed server may never reach."""
    tag = str(900_000 + time.monotonic_ns() % 99_999)
    with serve_app(tmp_path, workers=1) as url:
        sid = httpx.post(f"{url}/v1/sessions", json={"kernel": "bash"}, timeout=60).json()["id"]
        code = {"code": f"sleep {tag} &"}
        ran = httpx.post(f"{url}/v1/sessions/{sid}/run", json=code, timeout=60)
        assert ran.json()["status"] == "ok", ran.text
        deadline = time.monotonic() + 10
        while not _sleepers(tag) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _sleepers(tag), "the session's background process never started"
    deadline = time.monotonic() + 15
    while _sleepers(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _sleepers(tag)
