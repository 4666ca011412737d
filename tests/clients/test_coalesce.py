"""Coalescing: concurrent per-item calls become batched requests, each caller its own answer.

The batches go to the real app (the probe verifiers, served by uvicorn in a thread),
counted on its /metrics; the error cases use a batch function that fails the way a
client does (an item it cannot encode, a service past its retry budget).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from rewardgate.clients import RetriesExhausted, RewardClient
from rewardgate.clients.coalesce import Coalescer, coalescer_for
from rewardgate.clients.verl import compute_score_async
from rewardgate.verifiers.errors import Overloaded
from rewardgate.verifiers.models import RewardResult
from tests.clients.support import echo, metrics_of, request_count
from tests.service.inprocess_server import serve_app

USES_RESOURCES = ()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("coalesce"), workers=2) as base:
        yield base


@pytest.fixture
def client(url: str) -> Iterator[RewardClient]:
    with RewardClient(url) as scorer:
        yield scorer


def requests_so_far(url: str) -> int:
    return request_count(metrics_of(url), 200)


def result(item: dict[str, Any], reward: float = 1.0) -> RewardResult:
    return RewardResult(verifier=item["verifier"], version="1", reward=reward, status="ok")


async def test_concurrent_items_go_as_few_requests_each_with_its_own_result(
    url: str, client: RewardClient
) -> None:
    before = requests_so_far(url)
    coalescer = coalescer_for(client)
    answers = ["42" if k % 3 else "41" for k in range(200)]
    results = await asyncio.gather(*(coalescer.score(echo(a)) for a in answers))
    assert [r.reward for r in results] == [1.0 if a == "42" else 0.0 for a in answers]
    sent = requests_so_far(url) - before
    assert sent == coalescer.requests
    assert sent <= 2  # 200 items awaited together: one request, two at most


async def test_verl_reward_loop_per_item_calls_are_coalesced(url: str) -> None:
    """verl's reward loop awaits compute_score_async once per response, all at once."""
    rows = [("echo", f"{k}", {"answer": f"{k}"}) for k in range(64)]
    before = requests_so_far(url)
    scores = await asyncio.gather(
        *(
            compute_score_async(
                data_source=ds, solution_str=s, ground_truth=t, extra_info={}, url=url
            )
            for ds, s, t in rows
        )
    )
    coalesced = requests_so_far(url) - before
    assert [s["score"] for s in scores] == [1.0] * 64
    assert {s["status"] for s in scores} == {"ok"}
    assert coalesced <= 2

    before = requests_so_far(url)
    alone = await asyncio.gather(
        *(
            compute_score_async(
                data_source=ds, solution_str=s, ground_truth=t, url=url, coalesce=False
            )
            for ds, s, t in rows
        )
    )
    assert alone == scores
    assert requests_so_far(url) - before == 64


async def test_max_batch_bounds_each_request() -> None:
    sizes: list[int] = []

    def score_batch(items: list[dict[str, Any]]) -> list[RewardResult]:
        sizes.append(len(items))
        return [result(item) for item in items]

    coalescer = Coalescer(score_batch, max_batch=16, linger_s=0.05)
    await asyncio.gather(*(coalescer.score(echo(str(k))) for k in range(40)))
    assert sorted(sizes) == [8, 16, 16]


async def test_items_awaited_apart_go_in_separate_requests() -> None:
    sizes: list[int] = []

    def score_batch(items: list[dict[str, Any]]) -> list[RewardResult]:
        sizes.append(len(items))
        return [result(item) for item in items]

    coalescer = Coalescer(score_batch)
    for k in range(3):
        await coalescer.score(echo(str(k)))
    assert sizes == [1, 1, 1]


async def test_an_item_that_fails_the_request_fails_only_its_caller() -> None:
    def score_batch(items: list[dict[str, Any]]) -> list[RewardResult]:
        if any(item["response"] == "bad" for item in items):
            raise TypeError("Object of type set is not JSON serializable")
        return [result(item) for item in items]

    coalescer = Coalescer(score_batch)
    texts = [str(k) for k in range(9)] + ["bad"] + [str(k) for k in range(9, 16)]
    outcomes = await asyncio.gather(
        *(coalescer.score(echo(t)) for t in texts), return_exceptions=True
    )
    failed = [t for t, o in zip(texts, outcomes, strict=True) if isinstance(o, BaseException)]
    assert failed == ["bad"]
    assert isinstance(outcomes[texts.index("bad")], TypeError)
    assert all(
        isinstance(o, RewardResult) for t, o in zip(texts, outcomes, strict=True) if t != "bad"
    )


async def test_a_service_past_its_retry_budget_fails_every_caller_once() -> None:
    calls = 0

    def score_batch(items: list[dict[str, Any]]) -> list[RewardResult]:
        nonlocal calls
        calls += 1
        raise RetriesExhausted(Overloaded("busy"), 40)

    coalescer = Coalescer(score_batch)
    outcomes = await asyncio.gather(
        *(coalescer.score(echo(str(k))) for k in range(10)), return_exceptions=True
    )
    assert all(isinstance(o, RetriesExhausted) for o in outcomes)
    assert calls == 1  # not split: every half would fail the same way


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    def score_batch(items: list[dict[str, Any]]) -> list[RewardResult]:
        return [result(item) for item in items]

    coalescer = Coalescer(score_batch, linger_s=0.05)
    tasks = [asyncio.create_task(coalescer.score(echo(str(k)))) for k in range(5)]
    await asyncio.sleep(0)
    tasks[2].cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[2], asyncio.CancelledError)
    assert all(isinstance(o, RewardResult) for k, o in enumerate(outcomes) if k != 2)
