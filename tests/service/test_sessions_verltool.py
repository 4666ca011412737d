"""A multi-turn VerlTool rollout against rewardgate's `/get_observation`, driven by
VerlTool's own request code (vendored in tests/clients/vendor/verltool): python state
kept across turns, bash, an action no tool parses, finish ending the sessions, and two
trajectories apart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.clients.vendor.verltool.agent_loop_requests import ToolServerClient
from tests.service.inprocess_server import serve_app


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("verltool"), workers=1, session_max_live=3) as served:
        yield served


async def _rollout(url: str) -> list[dict[str, Any]]:
    client = ToolServerClient(f"{url}/get_observation")
    turns = [
        ("t1", "Let me compute.\n```python\nx = 6 * 7\nprint(x)\n```", True),
        ("t2", "<python>print('other', 'x' in globals())</python>", True),
        ("t1", "Again.\n```python\nprint(x + 1)\n```", True),
        ("t1", "```bash\ncd /tmp && echo hi > f.txt && cat f.txt\n```", True),
        ("t1", "I think the answer is 42.", True),
        ("t1", "", False),  # finish
        ("t3", "<python>x = 1</python>", True),
    ]
    try:
        return [
            await client.interact_with_tool_server(traj, action, do_action)
            for traj, action, do_action in turns
        ]
    finally:
        await ToolServerClient.aclose_session()


def test_a_verltool_rollout_keeps_state_per_trajectory_and_finish_ends_it(url: str) -> None:
    infos = asyncio.run(_rollout(url))
    assert [i["valid_action"] for i in infos] == [1, 1, 1, 1, 0, 1, 1]
    assert [i["done"] for i in infos] == [0, 0, 0, 0, 0, 1, 0]
    assert infos[0]["obs"] == "\n```result\n42\n```\n"
    assert infos[1]["obs"] == "\n<result>\nother False\n</result>\n"
    assert infos[2]["obs"] == "\n```result\n43\n```\n"
    assert infos[3]["obs"] == "\n```output\nhi\n```\n"
    assert infos[4]["obs"] == "" and infos[4]["success"]
    # t1 held two sessions (python, bash) and t2 one: finish freed t1's, or t3's first
    # turn would have found this server (3 sessions at most) full.
    assert infos[6]["obs"] == "\n<result>\n\n</result>\n"


def test_mismatched_lists_are_refused(url: str) -> None:
    body = {"trajectory_ids": ["a", "b"], "actions": ["x"]}
    assert httpx.post(f"{url}/get_observation", json=body, timeout=30).status_code == 400
