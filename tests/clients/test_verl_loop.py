"""verl's reward loop and legacy managers, reproduced from verl 0.9.1 (and 0.8.0, the
same code), calling rewardgate's functions as they call a custom reward function.

verl itself needs torch, so its call paths are reproduced here line for line:
`get_custom_reward_fn` wraps the loaded function in `partial(_call_with_kwargs_async,
raw_fn, reward_kwargs)` when it is a coroutine function; the reward-loop managers
(`naive`, `dapo`, `gdpo`, `rate_limited`) await it once per response, all of a step at
once; `remote` asserts the function is not a coroutine function and calls it per item on
Ray actors; the legacy `prime` manager calls it positionally in a process pool and reads
`float(result[0])` from anything not a number.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any

import pytest

from rewardgate.clients.verl import compute_score
from tests.clients.support import metrics_of, request_count
from tests.service.inprocess_server import serve_app

USES_RESOURCES = ()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("verl_loop"), workers=2) as base:
        yield base


# -- verl/trainer/ppo/reward.py --------------------------------------------------------


def _call_with_kwargs(raw_fn: Any, extra_kwargs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    return raw_fn(*args, **{**kwargs, **extra_kwargs})


async def _call_with_kwargs_async(
    raw_fn: Any, extra_kwargs: dict[str, Any], *args: Any, **kwargs: Any
) -> Any:
    return await raw_fn(*args, **{**kwargs, **extra_kwargs})


def get_custom_reward_fn(path: str, name: str, reward_kwargs: dict[str, Any]) -> Any:
    module = importlib.import_module(path.removeprefix("pkg://"))
    raw_fn = getattr(module, name)
    if not inspect.iscoroutinefunction(raw_fn):
        return partial(_call_with_kwargs, raw_fn, reward_kwargs)
    return partial(_call_with_kwargs_async, raw_fn, reward_kwargs)


# -- the reward loop's naive manager: run_single per response, gathered ---------------


async def run_single(compute: Any, row: dict[str, Any]) -> dict[str, Any]:
    extra_info = dict(row.get("extra_info", {}))
    extra_info["num_turns"] = None
    extra_info["rollout_reward_scores"] = {}
    assert inspect.iscoroutinefunction(compute)
    result = await compute(
        data_source=row["data_source"],
        solution_str=row["solution_str"],
        ground_truth=row["ground_truth"],
        extra_info=extra_info,
    )
    reward_extra_info = {}
    if isinstance(result, dict):
        score = result["score"]
        reward_extra_info.update(result)
    else:
        score = result
    return {"reward_score": score, "reward_extra_info": reward_extra_info}


def rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "data_source": "echo",
            "solution_str": str(k),
            "ground_truth": {"answer": str(k if k % 4 else -1)},
        }
        for k in range(n)
    ]


def test_reward_loop_awaits_each_response_and_pays_about_one_request(url: str) -> None:
    compute = get_custom_reward_fn(
        "pkg://rewardgate.clients.verl", "compute_score_async", {"url": url}
    )
    batch = rows(256)
    before = request_count(metrics_of(url), 200)

    async def step() -> list[dict[str, Any]]:
        return await asyncio.gather(*(run_single(compute, row) for row in batch))

    outputs = asyncio.run(step())
    sent = request_count(metrics_of(url), 200) - before
    assert [o["reward_score"] for o in outputs] == [0.0 if k % 4 == 0 else 1.0 for k in range(256)]
    keys = {frozenset(o["reward_extra_info"]) for o in outputs}
    assert keys == {frozenset({"score", "status", "verifier", "error", "details"})}
    assert sent <= 2, sent  # 256 per-item calls, one batched request (two at most)


def test_remote_manager_calls_the_sync_function_per_item(url: str) -> None:
    compute = get_custom_reward_fn("pkg://rewardgate.clients.verl", "compute_score", {"url": url})
    assert not inspect.iscoroutinefunction(compute)  # remote's assert
    row = rows(2)[1]
    answer = compute(**row, extra_info={})  # RewardComputeWorker.compute_score(**kwargs)
    assert answer["score"] == 1.0 and answer["status"] == "ok"


# -- the legacy prime manager ----------------------------------------------------------


async def single_compute_score(
    evaluation_func: Any, completion: str, reference: Any, task: str, extra: Any, executor: Any
) -> Any:
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(
        executor, partial(evaluation_func, task, completion, reference, extra)
    )
    return await asyncio.wait_for(future, timeout=300.0)


def prime_scores(evaluation_func: Any, batch: list[dict[str, Any]]) -> list[float]:
    """verl.workers.reward_manager.prime.run_reward_scoring, with 4 processes."""

    async def scored() -> list[Any]:
        with ProcessPoolExecutor(max_workers=4) as executor:
            return await asyncio.gather(
                *(
                    single_compute_score(
                        evaluation_func,
                        r["solution_str"],
                        r["ground_truth"],
                        r["data_source"],
                        None,
                        executor,
                    )
                    for r in batch
                )
            )

    results = asyncio.run(scored())
    scores = []
    for result in results:
        if isinstance(result, Exception) or result is None:
            scores.append(0.0)
        elif isinstance(result, int | float | bool):
            scores.append(float(result))
        else:
            scores.append(float(result[0]))
    return scores


def test_prime_manager_reads_the_float_variant(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARDGATE_URL", url)  # prime passes no reward_kwargs
    from rewardgate.clients.verl import compute_score_float

    batch = rows(8)
    assert prime_scores(compute_score_float, batch) == [
        0.0 if k % 4 == 0 else 1.0 for k in range(8)
    ]


def test_prime_manager_cannot_read_the_dict_answer(url: str) -> None:
    """Why compute_score_float exists: prime's float(result[0]) on a dict fails."""
    answer = compute_score("echo", "1", {"answer": "1"}, None, url=url)
    with pytest.raises(KeyError):
        float(answer[0])  # type: ignore[index]
