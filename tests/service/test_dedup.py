"""Identical items in flight are judged once (GRPO groups repeat responses).

Three identical items (two in one request, one in another) are scored at the same
time. The judge, in a real worker process, notes each call in a file and then waits
for the test's go-ahead, so no verdict exists (nothing is cached) until every item has
looked the cache up: only in-flight deduplication can keep the count at one.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pydantic import BaseModel

from rewardgate.service.cache import MemoryCache
from rewardgate.service.engine import Engine
from rewardgate.verifiers import Registry, RewardResult, Verdict, Verifier, VerifierOptions

GO_AHEAD_S = 60.0


class CountedReference(BaseModel):
    calls: str  # a file each judge call appends a line to
    go: str  # the judge waits until this file exists


class Counted(Verifier[CountedReference, VerifierOptions]):
    name = "counted"
    version = "1"
    Reference = CountedReference

    def judge(
        self, response: str, reference: CountedReference, options: VerifierOptions
    ) -> Verdict:
        with open(reference.calls, "a") as calls:
            calls.write("judged\n")
        deadline = time.monotonic() + GO_AHEAD_S
        while not Path(reference.go).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return Verdict(reward=float(response == "right"))


class CountingCache(MemoryCache):
    """The real in-memory cache, counting look-ups so the test knows when all happened."""

    def __init__(self) -> None:
        super().__init__(100)
        self.lookups = 0

    def get(self, key: str) -> RewardResult | None:
        self.lookups += 1
        return super().get(key)


async def test_identical_items_in_flight_are_judged_once(tmp_path: Path) -> None:
    calls, go = tmp_path / "calls", tmp_path / "go"
    item = {
        "verifier": "counted",
        "response": "right",
        "reference": {"calls": str(calls), "go": str(go)},
    }
    cache = CountingCache()
    # Two workers: without deduplication, a second judge call would start at once.
    engine = Engine(Registry([Counted]), workers=2, cache=cache)
    engine.start()
    try:
        both = asyncio.gather(
            engine.score([{**item, "id": "a"}, {**item, "id": "b"}]),
            engine.score([{**item, "id": "c"}]),
        )
        for _ in range(6000):
            if cache.lookups >= 3:
                break
            await asyncio.sleep(0.01)
        assert cache.lookups == 3 and len(cache) == 0, "all three looked up before any verdict"
        go.touch()
        first, second = await both
    finally:
        engine.close()
    results = [*first, *second]
    assert [(r.id, r.status, r.reward) for r in results] == [
        ("a", "ok", 1.0),
        ("b", "ok", 1.0),
        ("c", "ok", 1.0),
    ]
    assert calls.read_text() == "judged\n"
    assert sorted(r.cached for r in results) == [False, True, True]


async def test_different_items_are_each_judged(tmp_path: Path) -> None:
    """The control: deduplication joins identical items only."""
    calls, go = tmp_path / "calls", tmp_path / "go"
    go.touch()
    reference = {"calls": str(calls), "go": str(go)}
    engine = Engine(Registry([Counted]), workers=2, cache=CountingCache())
    engine.start()
    try:
        results = await asyncio.gather(
            engine.score([{"verifier": "counted", "response": "right", "reference": reference}]),
            engine.score([{"verifier": "counted", "response": "wrong", "reference": reference}]),
        )
    finally:
        engine.close()
    assert [r.reward for batch in results for r in batch] == [1.0, 0.0]
    assert calls.read_text() == "judged\njudged\n"
