"""`Engine.score` judges a batch stage by stage, with no task per item (service/engine.py's
`_score_batch`); `stream` keeps a task per item. Both must give every item the same
result, admission, metrics and cache, and a cancelled batch must leave nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

import pytest

from rewardgate.service import engine as engine_module
from rewardgate.service.cache import MemoryCache
from rewardgate.service.metrics import Metrics
from tests.service.probes import PROBES
from tests.service.test_chunking import Chunky, Factory, chunky, comparable, mixed_items, warm


def streamed(harness: Any, items: list[Any]) -> list[Any]:
    """The items scored through `stream` (a task per item), back in request order."""

    async def collect() -> list[Any]:
        return [pair async for pair in harness.engine.stream(items)]

    pairs = harness._loop.run_until_complete(collect())
    return [result for _, result in sorted(pairs, key=lambda pair: pair[0])]


def counts(metrics: Metrics) -> dict[tuple[str, ...], float]:
    """The item counters and latency-histogram counts, by labels."""
    found: dict[tuple[str, ...], float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name in ("rewardgate_items_total", "rewardgate_item_seconds_count"):
                found[(sample.name, *sorted(sample.labels.values()))] = sample.value
    return found


@pytest.mark.parametrize("segments", [1, 2], ids=["one_segment", "two_segments"])
def test_a_batch_gives_what_item_by_item_scoring_gives(
    verifier_engine: Factory, monkeypatch: pytest.MonkeyPatch, segments: int
) -> None:
    """Both ways a batch goes: as one segment (a cheap verifier) and in two, the first
    judged while the rest is hooked (any verifier costing more than
    `PIPELINE_MIN_COST_MS`; here every verifier does)."""
    if segments == 2:
        monkeypatch.setattr(engine_module, "PIPELINE_MIN_COST_MS", 0.0)
    items = mixed_items(600) + [chunky(str(i % 9), id=f"twin{i}") for i in range(60)]
    outcomes = []
    for path in ("batch", "stream"):
        harness = verifier_engine(*PROBES, Chunky, workers=2, cache=MemoryCache(10_000))
        warm(harness)
        harness.score([{"verifier": "faulty", "response": "w", "reference": {}}])
        assert len(harness.engine._segments(items)) == segments
        before = counts(harness.engine.metrics)
        results = harness.score(items) if path == "batch" else streamed(harness, items)
        after = counts(harness.engine.metrics)
        delta = {key: after[key] - before.get(key, 0) for key in after}
        assert harness.engine.inflight == 0 and not harness.engine._pending
        outcomes.append((comparable(results), delta))
    (batch, batch_counts), (stream, stream_counts) = outcomes
    assert batch == stream
    assert batch_counts == stream_counts
    assert sum(v for k, v in batch_counts.items() if k[0] == "rewardgate_items_total") == len(items)
    statuses = {status for *_, status, _, _, _ in batch}
    assert statuses == {"ok", "error", "invalid"}
    assert any(cached for *_, cached, _ in batch)  # the twins waited for one verdict


def test_a_cancelled_batch_leaves_nothing_behind_and_its_twins_judge_themselves(
    verifier_engine: Factory,
) -> None:
    harness = verifier_engine(Chunky, workers=2, cache=MemoryCache(1000))
    warm(harness)
    engine = harness.engine
    hung = chunky("hang", id="a", options={"timeout_s": 2})
    twin = {**hung, "id": "b"}

    async def scenario() -> Any:
        first = asyncio.ensure_future(engine.score([hung, chunky("7", id="c")]))
        while not engine._pending:
            await asyncio.sleep(0.01)
        second = asyncio.ensure_future(engine.score([twin]))  # waits for the first's verdict
        await asyncio.sleep(0.3)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        return await asyncio.wait_for(second, 30)

    start = time.monotonic()
    [result] = harness._loop.run_until_complete(scenario())
    # The twin had no verdict to share: it was judged itself, and hung to its own budget.
    assert result.id == "b" and result.status == "timeout" and not result.cached
    assert time.monotonic() - start < 20
    assert engine.inflight == 0 and not engine._pending
    assert harness.score([chunky("7")])[0].reward == 1.0


def test_cancelling_a_segmented_batch_kills_the_jobs_of_both_segments(
    verifier_engine: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while its first segment is judged and its second queued behind it: every
    job of both is cancelled, the hung ones killed, nothing is left admitted."""
    monkeypatch.setattr(engine_module, "PIPELINE_MIN_COST_MS", 0.0)
    harness = verifier_engine(Chunky, workers=2, cache=None)
    warm(harness)
    engine = harness.engine
    items = [chunky("hang", id=str(i), options={"timeout_s": 60}) for i in range(64)]
    assert len(engine._segments(items)) == 2
    restarts = engine._pool.spawned

    async def scenario() -> None:
        batch = asyncio.ensure_future(engine.score(items))
        while sum(len(jobs) for jobs in engine._judging.values()) < len(items):
            await asyncio.sleep(0.01)  # both segments handed to the pool
        await asyncio.sleep(0.2)
        batch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await batch

    start = time.monotonic()
    harness._loop.run_until_complete(scenario())
    assert engine.inflight == 0
    assert harness.score([chunky("7")])[0].reward == 1.0
    assert time.monotonic() - start < 30, "the hung jobs were killed, not waited for"
    assert engine._pool.spawned > restarts, "the workers on hung jobs were replaced"
    assert not any(engine._judging.values())


def test_a_batch_of_failures_alone_never_reaches_the_workers(verifier_engine: Factory) -> None:
    harness = verifier_engine(*PROBES, workers=1)
    pool = harness.engine._pool
    before = pool.messages
    items: list[Any] = [
        "not an object",
        {"verifier": "nope", "response": "x", "id": "u"},
        {"verifier": "echo", "response": "x", "id": "r"},  # no reference
        {"verifier": "echo", "response": "x", "reference": {"answer": 1}, "fallback_reward": -2},
    ]
    results = harness.score(items)
    assert [r.status for r in results] == ["invalid"] * 4
    assert [r.id for r in results] == [None, "u", "r", None]
    assert results[3].reward == -2
    assert pool.messages == before and harness.engine.inflight == 0


def test_bulk_latency_counts_equal_one_by_one() -> None:
    values = [0.0004, 0.001, 0.0011, 0.003, 0.02, 0.02, 0.7, 3.0, 45.0, 100.0, 0.0]
    one, bulk = Metrics(), Metrics()
    for value in values:
        one.observe_item("echo", "ok", value)
    bulk.observe_items("echo", "ok", values[:4])
    bulk.observe_items("echo", "ok", values[4:])
    bulk.observe_items("echo", "ok", [])

    def exposed(metrics: Metrics) -> dict[str, float]:
        samples = {}
        for line in metrics.render().decode().splitlines():
            if line.startswith(("rewardgate_items_total", "rewardgate_item_seconds")):
                name, value = line.rsplit(" ", 1)
                if "_created" not in name:
                    samples[name] = float(value)
        return samples

    bulk_samples, one_samples = exposed(bulk), exposed(one)
    assert bulk_samples.keys() == one_samples.keys()
    for name, value in one_samples.items():  # the sum may differ in its last bits
        assert math.isclose(bulk_samples[name], value, rel_tol=1e-12), name
    assert one_samples['rewardgate_item_seconds_count{verifier="echo"}'] == len(values)
