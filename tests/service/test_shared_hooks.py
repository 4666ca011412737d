"""The gateway-side hooks run once per (verifier, reference, options) in a hook chunk:
a GRPO group (one gold, many responses) is prepared once, not once per item, while each
item keeps its own cache key, verdict and failure."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel

from rewardgate.service.engine import HOOK_THREADS
from rewardgate.testing import EngineHarness
from rewardgate.verifiers import InvalidRequest, Verdict, Verifier, VerifierOptions

Factory = Callable[..., EngineHarness]


class CountedReference(BaseModel):
    answer: str


class Counted(Verifier[CountedReference, VerifierOptions]):
    """Reward 1 when the response equals the answer; counts its gateway-side prepares.
    An answer of `refuse` makes `prepare` refuse the reference."""

    name = "counted"
    version = "1"
    Reference = CountedReference
    prepares: ClassVar[list[Any]] = []
    lock = threading.Lock()

    def prepare(self, reference: Any, options: dict[str, Any] | None) -> Any:
        with self.lock:
            Counted.prepares.append(reference)
        if isinstance(reference, dict) and reference.get("answer") == "refuse":
            raise InvalidRequest("reference.answer: refused")
        return super().prepare(reference, options)

    def judge(
        self, response: str, reference: CountedReference, options: VerifierOptions
    ) -> Verdict:
        return Verdict(reward=float(response == reference.answer))


def item(response: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {"verifier": "counted", "response": response, "reference": {"answer": answer}, **extra}


def gateway_prepares() -> int:
    """Prepares in the gateway (the workers' own run in other processes)."""
    return len(Counted.prepares)


def test_a_group_sharing_its_gold_is_prepared_once_per_hook_chunk(
    verifier_engine: Factory,
) -> None:
    harness = verifier_engine(Counted, workers=2)
    Counted.prepares.clear()
    items = [item(str(i % 5), "3", id=str(i)) for i in range(64)]
    results = harness.score(items)
    assert [(r.id, r.status, r.reward) for r in results] == [
        (str(i), "ok", float(i % 5 == 3)) for i in range(64)
    ]
    assert gateway_prepares() <= HOOK_THREADS  # one per chunk, not one per item
    # Each response kept its own cache key: the same group again is served from the
    # cache, each item with its own verdict.
    again = harness.score(items)
    assert all(r.cached for r in again)
    assert [r.reward for r in again] == [r.reward for r in results]


def test_other_golds_and_options_are_prepared_apart(verifier_engine: Factory) -> None:
    harness = verifier_engine(Counted, workers=1, cache=None)
    Counted.prepares.clear()
    items = [
        item("a", "a"),
        item("a", "b"),
        item("a", "a", options={"timeout_s": 5}),
        item("a", "a"),
    ]
    results = harness.score(items)
    assert [r.reward for r in results] == [1.0, 0.0, 1.0, 1.0]
    assert 3 <= gateway_prepares() <= 4  # three distinct (reference, options)


def test_a_refused_gold_fails_every_item_that_names_it(verifier_engine: Factory) -> None:
    harness = verifier_engine(Counted, workers=1)
    items = [item(str(i), "refuse", id=str(i), fallback_reward=-0.5) for i in range(8)]
    items.append(item("x", "x", id="fine"))
    results = harness.score(items)
    assert [(r.id, r.status, r.reward) for r in results[:8]] == [
        (str(i), "invalid", -0.5) for i in range(8)
    ]
    assert all(r.error == "reference.answer: refused" for r in results[:8])
    assert (results[8].id, results[8].status, results[8].reward) == ("fine", "ok", 1.0)
