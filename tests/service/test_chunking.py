"""Chunked dispatch: cheap items travel to a worker several at a time, each keeping its
own deadline, verdict and order; a hang or a death in a chunk costs only its item."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from rewardgate.service.cache import MemoryCache
from rewardgate.testing import EngineHarness
from rewardgate.verifiers import Verdict, Verifier, VerifierOptions
from tests.service.probes import PROBES


class ChunkyReference(BaseModel):
    answer: str
    marker: str | None = None


class Chunky(Verifier[ChunkyReference, VerifierOptions]):
    """Cheap, except as the response says: `hang` sleeps a minute, `die` kills its
    worker (only the first time when the reference names a marker file)."""

    name = "chunky"
    version = "1"
    Reference = ChunkyReference

    def judge(self, response: str, reference: ChunkyReference, options: VerifierOptions) -> Verdict:
        if response == "hang":
            time.sleep(60)
        if response == "die":
            marker = Path(reference.marker) if reference.marker else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.write_text("died")
                os.kill(os.getpid(), signal.SIGKILL)
        return Verdict(reward=float(response == reference.answer), details={"pid": os.getpid()})


Factory = Callable[..., EngineHarness]


def chunky(response: str, answer: str = "7", **extra: Any) -> dict[str, Any]:
    return {"verifier": "chunky", "response": response, "reference": {"answer": answer}, **extra}


def warm(harness: EngineHarness, n: int = 64) -> None:
    """Score cheap items until the engine has measured the verifier (it chunks then)."""
    results = harness.score([chunky(str(i), answer=str(i % 3)) for i in range(n)])
    assert all(r.status == "ok" for r in results)
    assert harness.engine.cost_ms["chunky"] < 5


def test_cheap_items_travel_in_chunks(verifier_engine: Factory) -> None:
    harness = verifier_engine(Chunky, workers=2, cache=None)
    warm(harness)
    pool = harness.engine._pool
    before = pool.messages
    results = harness.score([chunky(str(i % 10), answer="7", id=str(i)) for i in range(256)])
    assert [(r.id, r.reward) for r in results] == [(str(i), float(i % 10 == 7)) for i in range(256)]
    # 256 items in a handful of messages, cut so that each worker can take a share.
    assert 2 <= pool.messages - before <= 16
    # Which slot takes which chunk is scheduling: a slot whose thread is late can find
    # both chunks taken by the other. Over a few batches both workers judge.
    pids = {r.details["pid"] for r in results}
    for _ in range(20):
        if len(pids) == 2:
            break
        pids |= {r.details["pid"] for r in harness.score([chunky(str(i)) for i in range(256)])}
    assert len(pids) == 2


def test_a_hanging_item_in_a_chunk_times_out_alone(verifier_engine: Factory) -> None:
    harness = verifier_engine(Chunky, workers=1, cache=None)
    warm(harness)
    items = [chunky(str(i), answer="3", id=str(i)) for i in range(21)]
    items[10] = chunky("hang", id="hung", options={"timeout_s": 1})
    pool = harness.engine._pool
    before = pool.messages
    results = harness.score(items)
    assert pool.messages - before >= 2  # the chunk, then its rescored rest
    assert [r.id for r in results] == [item["id"] for item in items]
    assert results[10].status == "timeout" and "1 s budget" in results[10].error
    rest = results[:10] + results[11:]
    assert all(r.status == "ok" for r in rest)
    assert [r.reward for r in rest] == [float(i == 3) for i in range(21) if i != 10]
    assert pool.deaths == 1  # the hung item's worker, killed at its deadline


def test_a_death_mid_chunk_is_judged_once_more_and_loses_nothing(
    verifier_engine: Factory, tmp_path: Path
) -> None:
    harness = verifier_engine(Chunky, workers=1, cache=None)
    warm(harness)
    items = [chunky(str(i), answer="5", id=str(i)) for i in range(30)]
    items[12] = chunky("die", answer="die", id="once")
    items[12]["reference"]["marker"] = str(tmp_path / "marker")
    items[20] = chunky("die", answer="die", id="always")
    results = harness.score(items)
    assert [r.id for r in results] == [item["id"] for item in items]
    by_id = {r.id: r for r in results}
    # Died once, judged once more on a fresh worker: its verdict.
    assert by_id["once"].status == "ok" and by_id["once"].reward == 1.0
    # Died twice: an error, never a silent 0 and never lost.
    assert by_id["always"].status == "error" and "died twice" in by_id["always"].error
    others = [r for r in results if r.id not in ("once", "always")]
    assert all(r.status == "ok" for r in others)
    assert [r.reward for r in others] == [float(i == 5) for i in range(30) if i not in (12, 20)]
    assert harness.engine.metrics.item_retries._value.get() == 2


def mixed_items(n: int) -> list[Any]:
    """Every kind of outcome, repeated: verdicts, failures, invalid items, duplicates."""
    kinds: list[Any] = [
        chunky("7"),
        chunky("8"),
        {"verifier": "echo", "response": "42", "reference": {"answer": "42"}},
        {"verifier": "echo", "response": "4", "reference": {"answer": "42"}},
        {"verifier": "faulty", "response": "bug", "reference": {}},
        {"verifier": "faulty", "response": "tool", "reference": {}},
        {"verifier": "faulty", "response": "fine", "reference": {}},
        {"verifier": "echo", "response": "x"},
        {"verifier": "nope", "response": "x"},
        "not an object",
    ]
    items: list[Any] = []
    for i in range(n):
        item = kinds[i % len(kinds)]
        if isinstance(item, dict):
            item = {**item, "id": f"i{i}"}
            if i % 7 == 0 and item["verifier"] in ("chunky", "echo"):
                item["response"] = f"{item['response']}-{i % 50}"
        items.append(item)
    return items


def comparable(results: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (r.id, r.verifier, r.version, r.reward, r.status, r.error, r.cached, r.fingerprint)
        for r in results
    ]


def test_chunked_scoring_equals_unchunked_scoring(verifier_engine: Factory) -> None:
    items = mixed_items(1000)
    outcomes = []
    for target_ms in (0.0, 10.0):
        harness = verifier_engine(*PROBES, Chunky, workers=2, chunk_target_ms=target_ms)
        warm(harness)
        harness.score([{"verifier": "echo", "response": "w", "reference": {"answer": "w"}}])
        harness.score([{"verifier": "faulty", "response": "w", "reference": {}}])
        pool = harness.engine._pool
        before = pool.messages
        outcomes.append((comparable(harness.score(items)), pool.messages - before))
    (plain, plain_messages), (chunked, chunked_messages) = outcomes
    assert chunked == plain
    assert {status for *_, status, _, _, _ in plain} == {"ok", "error", "invalid"}
    assert chunked_messages < plain_messages / 4


def test_dedup_and_cache_work_with_chunks(verifier_engine: Factory) -> None:
    harness = verifier_engine(Chunky, workers=2, cache=MemoryCache(10_000))
    warm(harness)
    items = [chunky(str(i % 20), answer="4", id=str(i)) for i in range(200)]
    pool = harness.engine._pool
    before = pool.messages
    first = harness.score(items)
    # 20 distinct responses judged (in chunks); their repeats waited for them.
    assert pool.messages - before <= 8
    assert sum(not r.cached for r in first) == 20
    assert [r.reward for r in first] == [float(i % 20 == 4) for i in range(200)]
    before = pool.messages
    second = harness.score(items)
    assert pool.messages == before
    assert all(r.cached for r in second)
    assert [r.reward for r in second] == [r.reward for r in first]


def test_cancelling_a_chunk_kills_its_hung_item_and_frees_the_worker(
    verifier_engine: Factory,
) -> None:
    harness = verifier_engine(Chunky, workers=1, cache=None)
    warm(harness)
    pool = harness.engine._pool
    [worker] = [slot.pid for slot in pool.slots]
    items = [chunky(str(i), id=str(i)) for i in range(10)]
    items[4] = chunky("hang", id="hung", options={"timeout_s": 60})

    async def cancelled() -> None:
        task = asyncio.ensure_future(harness.engine.score(items))
        while not any(slot.job is not None for slot in pool.slots):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the hung item is running now
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    harness._loop.run_until_complete(cancelled())
    deadline = time.monotonic() + 20
    while pool.busy and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pool.busy == 0 and harness.engine.inflight == 0
    assert not _alive(worker)  # killed, not left judging for a minute
    results = harness.score([chunky(str(i), answer="2") for i in range(10)])
    assert [r.reward for r in results] == [float(i == 2) for i in range(10)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_chunks_of_milliseconds_shrink_towards_the_end(verifier_engine: Factory) -> None:
    """Chunks sized by the cost target (0.3 ms items: 33 of them make 10 ms) shrink
    towards the end of a batch, so no worker is left with a long last chunk; chunks
    of cheap items (sized by the item cap or the equal share) are cut evenly."""
    harness = verifier_engine(Chunky, workers=2, cache=None, chunk_target_ms=10.0)
    engine = harness.engine
    jobs: list[Any] = list(range(224))
    engine.cost_ms["chunky"] = 0.3
    chunks = engine._chunked("chunky", jobs)
    sizes = [len(chunk) for chunk in chunks]
    assert [job for chunk in chunks for job in chunk] == jobs
    assert sizes[:3] == [33, 33, 33]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] <= 11 and min(sizes[:-1]) >= 11
    assert len(chunks) <= 12, "short chunks at the end only"
    engine.cost_ms["chunky"] = 0.001
    assert [len(chunk) for chunk in engine._chunked("chunky", jobs)] == [112, 112]
