"""TRL's async trainer's conditions, reproduced exactly (TRL needs torch, not installed here).

The async GRPO trainer checks at start that each reward function pickles
(`pickle.dumps(func)`), ships them to its rollout worker, which it starts from a
`spawn` context with `daemon=True`, and awaits coroutine functions there
(`inspect.iscoroutinefunction`). A daemonic process may not start children, so the
in-process engine (a pool of worker processes) cannot run there: the function must
refuse at once with the way out (a service URL), while with a URL it scores. At exit,
closing the shared client must print no traceback.
"""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rewardgate.clients.trl import async_reward_func
from tests.service.inprocess_server import serve_app

USES_RESOURCES = ()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("trl_async"), workers=1) as base:
        yield base


def rollout_worker(func: Any, queue: Any) -> None:
    """What TRL's rollout worker does with an async reward function: await it."""
    try:
        rewards = asyncio.run(
            func(prompts=["p", "p"], completions=["42", "41"], solution=[{"answer": "42"}] * 2)
        )
        queue.put(("ok", rewards))
    except Exception as exc:
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_in_daemon(func: Any) -> tuple[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=rollout_worker, args=(func, queue), daemon=True)
    worker.start()
    try:
        return queue.get(timeout=120)  # type: ignore[no-any-return]
    finally:
        worker.join(timeout=30)


def test_async_reward_func_pickles_as_trl_checks() -> None:
    func = async_reward_func("echo", url="http://127.0.0.1:1")
    again = pickle.loads(pickle.dumps(func))
    assert inspect.iscoroutinefunction(func) and inspect.iscoroutinefunction(again)
    assert again.__name__ == func.__name__ == "echo_reward"


@pytest.mark.slow
def test_a_spawned_daemonic_rollout_worker_scores_through_the_service(url: str) -> None:
    status, rewards = run_in_daemon(async_reward_func("echo", url=url))
    assert (status, rewards) == ("ok", [1.0, 0.0])


def test_in_process_scoring_in_a_daemonic_worker_refuses_with_the_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REWARDGATE_URL", raising=False)
    status, message = run_in_daemon(async_reward_func("echo"))
    assert status == "error"
    assert "daemonic process" in message and "REWARDGATE_URL" in message


@pytest.mark.slow
def test_no_traceback_at_exit_after_in_process_async_scoring(tmp_path: Path) -> None:
    script = (
        "import asyncio\n"
        "from rewardgate.clients.trl import async_reward_func\n"
        "from rewardgate.service.settings import Settings\n"
        "f = async_reward_func('math', settings=Settings(workers=1))\n"
        "print(asyncio.run(f(prompts=['q'], completions=['\\\\boxed{4}'], solution=['4'])))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "REWARDGATE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[1.0]"
    assert "Traceback" not in done.stderr, done.stderr
