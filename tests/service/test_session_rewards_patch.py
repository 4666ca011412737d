"""Reward items naming a live session, `patch` verifier (execution), on real bwrap
sessions: the session's changes to the reference's repository are run by the patch
verifier's trusted runner in a fresh sandbox, so the agent's leftovers (a planted
conftest.py, edited tests, a shadowing unittest.py) never pass a wrong change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rewardgate.service.session_snapshot import Snapshot, session_diff
from rewardgate.verifiers.patch.diffs import apply_file_patches, parse_diff
from tests.service.session_serving import authed, run, score, serve_scoring

REPO = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "tests/__init__.py": "",
    "tests/test_calc.py": (
        "import unittest\nfrom calc import add\n\n\n"
        "class T(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n"
        "    def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n"
    ),
}
REFERENCE = {
    "files": REPO,
    "fail_to_pass": ["tests.test_calc.T.test_add"],
    "pass_to_pass": ["tests.test_calc.T.test_zero"],
}
FIX = "sed -i 's/a - b/a + b/' calc.py"


def item(sid: str, **options: Any) -> dict[str, Any]:
    options = {"mode": "execution", **options}
    return {"verifier": "patch", "session": sid, "reference": REFERENCE, "options": options}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with serve_scoring(tmp_path_factory.mktemp("patch"), workers=1) as url:
        yield authed(url)


def session(client: httpx.Client, *cells: str) -> str:
    sid: str = client.post("/v1/sessions", json={"kernel": "bash", "files": REPO}).json()["id"]
    for cell in cells:
        assert run(client, sid, cell)["exit_code"] == 0, cell
    return sid


def test_the_agents_fix_in_its_session_passes(client: httpx.Client) -> None:
    # Untouched: the tests run on the repository as it is (one of the two fails).
    untouched = session(client)
    [nothing] = score(client, item(untouched))
    assert nothing["reward"] == 0.0 and nothing["details"]["session"]["changed"] == []
    [fraction] = score(client, item(untouched, reward="fraction"))
    assert fraction["reward"] == 0.5 and fraction["details"]["passed"] == 1
    # The agent ran the tests in its session (bytecode caches) and then fixed the bug.
    sid = session(client, "python3 -m unittest 2>/dev/null; true", FIX)
    [fixed] = score(client, item(sid))
    assert (fixed["status"], fixed["reward"]) == ("ok", 1.0), fixed
    evidence = fixed["details"]["session"]
    assert evidence["id"] == sid and evidence["changed"] == ["calc.py"]
    assert evidence["snapshot"].startswith("sha256:")
    assert run(client, sid, "grep -c 'a + b' calc.py")["stdout"] == "1\n"  # still usable
    # The session changed again: judged again, not served from a cache.
    run(client, sid, "sed -i 's/a + b/a * b/' calc.py")
    [broken] = score(client, item(sid))
    assert (broken["reward"], broken["cached"]) == (0.0, False)


def test_new_and_deleted_files_and_a_last_line_without_newline(client: httpx.Client) -> None:
    cells = [
        "printf 'def plus(a, b):\\n    return a + b' > ops.py",  # no final newline
        "printf 'from ops import plus\\nadd = plus' > calc.py",
        "rm tests/__init__.py",
    ]
    [result] = score(client, item(session(client, *cells)))
    assert result["reward"] == 1.0, result
    changed = result["details"]["session"]["changed"]
    assert changed == ["calc.py", "ops.py", "tests/__init__.py"]


@pytest.mark.parametrize(
    ("cells", "command"),
    [
        (["printf 'import os\\nos._exit(0)\\n' > conftest.py"], "python -m pytest"),
        (["printf 'import pytest\\n' > tests/conftest.py"], "python -m pytest"),
        (["printf 'def test_add():\\n    pass\\n' > tests/test_calc.py"], None),
        (["printf 'raise SystemExit(0)\\n' > unittest.py"], None),
        (["printf 'import os\\nos._exit(0)\\n' > sitecustomize.py"], None),
        (["ln -sf /usr/lib/python3 lib"], None),  # a link out of the folder: not read
    ],
    ids=[
        "root-conftest",
        "tests-conftest",
        "rewritten-test",
        "unittest-py",
        "sitecustomize",
        "link",
    ],
)
def test_planted_files_never_pass_a_wrong_change(
    client: httpx.Client, cells: list[str], command: str | None
) -> None:
    reference = {**REFERENCE, **({"test_command": command} if command else {})}
    wrong = "sed -i 's/a - b/a - b + 1/' calc.py"
    sid = session(client, wrong, *cells)
    [result] = score(client, {**item(sid), "reference": reference})
    assert result["status"] == "ok" and result["reward"] <= 0.0, result


def test_a_daemon_and_a_huge_file_in_the_session(client: httpx.Client) -> None:
    daemon = (
        'nohup bash -c \'while true; do printf "def test_add():\\n    pass\\n" '
        "> tests/test_calc.py; sleep 0.01; done' >/dev/null 2>&1 &"
    )
    huge = "head -c 30000000 /dev/zero > junk.bin"
    [result] = score(client, item(session(client, "sed -i 's/a - b/0/' calc.py", daemon, huge)))
    assert result["status"] == "ok" and result["reward"] <= 0.0
    assert result["details"]["session"]["skipped"] == {"junk.bin": "over 8 MiB"}
    [fixed] = score(client, item(session(client, FIX, huge)))
    assert fixed["reward"] == 1.0


def test_only_execution_mode_scores_a_session(client: httpx.Client) -> None:
    sid = session(client, FIX)
    [similarity] = score(client, item(sid, mode="similarity"))
    assert similarity["status"] == "invalid" and "execution" in similarity["error"]
    [named] = score(client, {**item(sid), "session": {"id": sid, "file": "calc.py"}})
    assert named["status"] == "invalid" and "whole session" in named["error"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a\nb\n", "a\nc\n"),
        ("a\nb", "a\nb\n"),
        ("a\nb\n", "a\nb"),
        ("x", "y"),
        ("", "z\n"),
        ("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\nX\n4\n5\n6\n7\nY\n9\n"),
    ],
)
def test_session_diff_applies_back_to_the_session_text(old: str, new: str) -> None:
    snapshot = Snapshot({"f.txt": new.encode(), "new.txt": b"n\n"})
    diff, changed = session_diff({"f.txt": old, "gone.txt": "g\n"}, snapshot, set())
    assert changed == ["f.txt", "gone.txt", "new.txt"]
    texts, deleted, _ = apply_file_patches({"f.txt": old, "gone.txt": "g\n"}, parse_diff(diff))
    assert texts["f.txt"] == new and texts["new.txt"] == "n\n" and "gone.txt" in deleted
