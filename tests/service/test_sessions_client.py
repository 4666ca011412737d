"""`client.session(...)` of the Python clients, sync and async, against the real app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from rewardgate.clients.aio import AsyncRewardClient
from rewardgate.clients.errors import NotFound
from rewardgate.clients.sync import RewardClient
from tests.service.inprocess_server import serve_app


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("sessions"), workers=1, session_max_live=1) as served:
        yield served


def test_sync_session_keeps_state_and_ends_on_exit(url: str) -> None:
    with RewardClient(url) as client:
        with client.session("python", files={"a.txt": "5"}) as s:
            s.run("n = int(open('a.txt').read())")
            assert s.run("n * 3")["value"] == "15"
            assert {"path": "a.txt", "bytes": 1} in s.files()
        with pytest.raises(NotFound):
            s.run("n")
        with client.session("bash", limits={"call_timeout_s": 1}) as shell:  # room again
            assert shell.run("sleep 30")["status"] == "timeout"
            assert shell.run("echo ok")["stdout"] == "ok\n"


def test_async_session_keeps_state_and_ends_on_exit(url: str) -> None:
    async def rollout() -> list[str | None]:
        async with AsyncRewardClient(url) as client, client.session() as s:
            await s.run("x = [1, 2]")
            await s.run("x.append(3)")
            return [(await s.run("sum(x)"))["value"], s.id]

    value, sid = asyncio.run(rollout())
    assert value == "6"
    with RewardClient(url) as client, client.session("python") as s:  # the async one ended
        assert s.id != sid
