"""TRL's async trainer's conditions, with TRL's own rollout worker.

The async GRPO trainer checks at start that each reward function pickles
(`pickle.dumps(func)`), ships them to its rollout worker, which it starts from a
`spawn` context with `daemon=True`, and awaits coroutine functions there
(`inspect.iscoroutinefunction`). A daemonic process may not start children, so the
in-process engine runs in a helper process there (clients/helper_service.py): scoring
works, deadlines hold, and the helper dies with its owner. A service that cannot be
reached fails the rollout worker, never a 0. At exit, closing the shared client must
print no traceback. `tests/clients/trl_async_loop.py` runs TRL's `AsyncRolloutWorker`
without its vLLM generation.
"""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import os
import pickle
import subprocess
import sys
import time
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
        return queue.get(timeout=120)
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


def deadline_worker(settings: Any, queue: Any) -> None:
    """In a daemonic process: score in-process (echo, and a sleep past its deadline)
    and report the statuses and the helper's pid; then, told to, exit or wait."""
    from rewardgate.clients.connect import connect
    from rewardgate.service.app import verifier_env
    from rewardgate.verifiers.registry import Registry
    from tests.service.probes import PROBES

    try:
        client: Any = connect(
            None, settings=settings, registry=Registry(PROBES, env=verifier_env(settings))
        )
        results = client.score_batch(
            [
                {"verifier": "echo", "response": "42", "reference": {"answer": "42"}},
                {"verifier": "sleepy", "response": "", "reference": {"seconds": 120},
                 "options": {"timeout_s": 1}},
            ]
        )  # fmt: skip
        queue.put(("ok", [r.status for r in results], client.helper.process.pid))
    except Exception as exc:
        queue.put(("error", f"{type(exc).__name__}: {exc}", None))
    time.sleep(600)  # the test kills this process: the helper must not outlive it


def gone(pid: int, within_s: float = 60) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_in_process_scoring_in_a_daemonic_worker_keeps_deadlines(tmp_path: Path) -> None:
    from rewardgate.service.settings import Settings

    settings = Settings(workers=1, asset_dir=tmp_path / "assets")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=deadline_worker, args=(settings, queue), daemon=True)
    worker.start()
    try:
        status, statuses, helper = queue.get(timeout=300)
        assert (status, statuses) == ("ok", ["ok", "timeout"])
        assert not gone(helper, within_s=0)  # the helper serves while its owner lives
    finally:
        worker.kill()  # no clean-up runs: the helper sees its input close and stops
        worker.join(timeout=30)
    assert gone(helper)


@pytest.mark.slow
def test_async_reward_func_in_trls_rollout_worker_in_process_and_served(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TRL's own AsyncRolloutWorker: pickling check, daemonic spawn, its `_score_group`."""
    from tests.clients.test_trl_trainer import tiny_tokenizer
    from tests.clients.trl_async_loop import ScoringWorker, group

    monkeypatch.delenv("REWARDGATE_URL", raising=False)
    monkeypatch.setenv("REWARDGATE_WORKERS", "1")
    monkeypatch.setenv("REWARDGATE_ASSET_DIR", str(tmp_path / "assets"))
    from datasets import Dataset

    worker = ScoringWorker(
        model_name="tiny",
        dataset=Dataset.from_dict({"prompt": ["p"]}),
        reward_funcs=[
            async_reward_func("string", name="in_process"),
            async_reward_func("echo", name="served", url=url),
        ],
        processing_class=tiny_tokenizer(),
        eos_token_ids=[1],
        groups=[group(["42", "41", "42"], solution=[{"answer": "42"}] * 3)],
        child_ready_timeout=600,
    )
    worker.start()
    try:
        samples = worker.samples(3, timeout_s=600)
    finally:
        worker.close()
    assert [s.metrics["rewards/in_process"] for s in samples] == [1.0, 0.0, 1.0]
    assert [s.metrics["rewards/served"] for s in samples] == [1.0, 0.0, 1.0]


@pytest.mark.slow
def test_an_unreachable_service_fails_trls_rollout_worker(tmp_path: Path) -> None:
    from datasets import Dataset

    from rewardgate.clients import Retry
    from tests.clients.test_trl_trainer import tiny_tokenizer
    from tests.clients.trl_async_loop import ScoringWorker, group
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    worker = ScoringWorker(
        model_name="tiny",
        dataset=Dataset.from_dict({"prompt": ["p"]}),
        reward_funcs=[async_reward_func("string", url=dead, retry=Retry(attempts=2))],
        processing_class=tiny_tokenizer(),
        eos_token_ids=[1],
        groups=[group(["42"], solution=["42"])],
        child_ready_timeout=600,
    )
    worker.start()
    try:
        with pytest.raises(RuntimeError, match="child has failed") as failed:
            worker.samples(1, timeout_s=600)
    finally:
        worker.close()
    assert "ConnectionFailed" in str(failed.value.__cause__) or "RetriesExhausted" in str(
        failed.value.__cause__
    )


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
