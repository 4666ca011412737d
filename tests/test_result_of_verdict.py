"""`RewardResult.of_verdict` and `StepReward.trusted` build exactly what validation
builds (the first validates what it cannot vouch for).

Its fast path fills the model without pydantic; if a pydantic upgrade changed what a
validated model holds, these comparisons fail rather than the service serving a
subtly different object.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from rewardgate.verifiers.models import RewardResult, StepReward

CASES: list[dict[str, Any]] = [
    {"item_id": None, "reward": 1.0, "steps": None, "details": {}},
    {"item_id": "a-1", "reward": 0.25, "steps": None, "details": {"pid": 7, "why": ["x"]}},
    {"item_id": "b", "reward": -1.5, "steps": None, "details": {"nested": {"k": None}}},
    {"item_id": None, "reward": math.inf, "steps": None, "details": {}},
    # Not exact types: the validated path, with its conversions.
    {"item_id": "c", "reward": 1, "steps": None, "details": {}},
    {"item_id": "d", "reward": True, "steps": None, "details": {}},
    {"item_id": None, "reward": 0.5, "steps": [StepReward(index=0, reward=1.0)], "details": {}},
    {
        "item_id": "e",
        "reward": 0.5,
        "steps": [StepReward(index=0, reward=1.0), StepReward.trusted(1, 0.0, "x", {"ok": 1})],
        "details": {"rule": "match"},
    },
    {"item_id": None, "reward": 0.5, "steps": [], "details": {}},
    {"item_id": None, "reward": 0.5, "steps": [{"index": 0, "reward": 1.0}], "details": {}},
]


def validated(case: dict[str, Any]) -> RewardResult:
    return RewardResult(
        id=case["item_id"],
        verifier="echo",
        version="1",
        fingerprint="fp",
        reward=case["reward"],
        status="ok",
        steps=case["steps"],
        details=case["details"],
    )


def built(case: dict[str, Any]) -> RewardResult:
    return RewardResult.of_verdict(
        case["item_id"], "echo", "1", "fp", case["reward"], case["steps"], case["details"]
    )


@pytest.mark.parametrize("case", CASES)
def test_the_same_result_as_validation(case: dict[str, Any]) -> None:
    fast, slow = built(case), validated(case)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_dump_json() == slow.model_dump_json()
    assert type(fast.reward) is float
    # What the engine does next to a result works on both alike.
    fast.elapsed_ms = slow.elapsed_ms = 3.5
    assert fast.model_copy(update={"cached": True}) == slow.model_copy(update={"cached": True})
    if math.isfinite(slow.reward):  # JSON writes an infinite reward as null, both alike
        assert RewardResult.model_validate_json(fast.model_dump_json()) == slow


@pytest.mark.parametrize(
    "details", [{1: "int key"}, {"ok": 1, 2.0: "float key"}, ["not", "a", "dict"]]
)
def test_what_validation_refuses_is_still_refused(details: Any) -> None:
    with pytest.raises(ValidationError):
        validated({"item_id": None, "reward": 1.0, "steps": None, "details": details})
    with pytest.raises(ValidationError):
        built({"item_id": None, "reward": 1.0, "steps": None, "details": details})


def test_a_result_is_its_own_object() -> None:
    """Two results never share their mutable state by way of the fast path."""
    first = built({"item_id": "x", "reward": 1.0, "steps": None, "details": {"a": 1}})
    second = built({"item_id": "y", "reward": 1.0, "steps": None, "details": {"a": 1}})
    first.elapsed_ms = 9.0
    first.model_fields_set.add("elapsed_ms")
    assert second.elapsed_ms == 0.0 and "elapsed_ms" not in second.model_fields_set
    assert orjson.loads(second.model_dump_json())["id"] == "y"


STEPS: list[tuple[int, float, str | None, dict[str, Any]]] = [
    (0, 1.0, "extract", {"ok": True}),
    (3, -0.5, None, {}),
    (1, math.inf, "match", {"db": "chinook.sqlite", "rows": [1, 2]}),
]


@pytest.mark.parametrize("values", STEPS)
def test_a_trusted_step_is_the_validated_step(values: tuple[Any, ...]) -> None:
    index, reward, label, details = values
    fast = StepReward.trusted(index, reward, label, details)
    slow = StepReward(index=index, reward=reward, label=label, details=details)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_copy(update={"reward": 2.0}).reward == 2.0


def test_steps_cross_the_worker_pipe_as_tuples_and_come_back_equal() -> None:
    """The engine's packing: plain `StepReward`s travel as tuples, anything else (a
    subclass a plugin returns) as it is; the gateway gets equal steps back."""
    import pickle

    from rewardgate.service.engine import _pack_steps, _unpacked

    class Special(StepReward):
        pass

    plain = [StepReward(index=i, reward=r, label=name, details=d) for i, r, name, d in STEPS]
    packed = _pack_steps(plain)
    assert packed is not None and all(type(step) is tuple for step in packed)
    back = _unpacked(pickle.loads(pickle.dumps((0.5, packed, {"a": 1}))))
    assert back.steps == plain and back.reward == 0.5 and back.details == {"a": 1}
    mixed = [*plain, Special(index=9, reward=1.0)]
    assert _pack_steps(mixed) is mixed
    assert _unpacked((0.5, mixed, {})).steps == mixed
    assert _pack_steps(None) is None and _unpacked((1.0, None, {})).steps is None
